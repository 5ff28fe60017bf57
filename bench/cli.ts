/**
 * The CLI as a user feels it: `node <built bin>` as a child process, timed
 * from its start to its exit, module loading and node's own start included.
 *
 * - `event-vacuum extract FILE > /dev/null` over about 42 MB of evaluation
 *   records;
 * - `event-vacuum run FILE` delivering about 42,700 events into the file
 *   sink, on a fresh state file each round; the output must hold exactly
 *   the events expected and the exit code must be 0, else the bench fails.
 *
 * The records are the example's, replicated with every copy moved to new
 * positions (ordinate + copy*1000, timestamp + copy*1e7 ms), written once to
 * a temp file. The bin is found through package.json's `bin`, so the bench
 * follows the build wherever it puts it.
 */
import { spawn, spawnSync } from "node:child_process"
import { Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { decodeSync, logText } from "../src/Evaluation.js"
import { extract } from "../src/Extractor.js"
import { evaluationRow, makeCuDb, saveEvaluation } from "../test/support/cu.js"
import { makeDatabase, PG_EVALUATIONS_DDL, psql } from "../test/support/cuPg.js"
import { exampleRecords } from "./corpus.js"
import { liveRecords } from "./follow-writer.js"

export interface CliExtractResult {
  /** Bytes of the input file. */
  readonly bytes: number
  readonly records: number
  readonly events: number
  /** The best round, start to exit. */
  readonly seconds: number
  readonly roundSeconds: ReadonlyArray<number>
  readonly mbPerSec: number
  readonly eventsPerSec: number
}

export interface CliRunResult {
  readonly bytes: number
  readonly records: number
  /** Events delivered, each checked to be one line of the file sink's output. */
  readonly events: number
  readonly seconds: number
  readonly roundSeconds: ReadonlyArray<number>
  readonly eventsPerSec: number
}

export interface CliResult {
  /** The bin that ran, relative to the package root. */
  readonly bin: string
  readonly rounds: number
  readonly extract: CliExtractResult
  readonly run: CliRunResult
}

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "..")

/** The built `event-vacuum`, as package.json's `bin` names it. */
export const builtBin = (): string => {
  const pkg = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as {
    readonly name: string
    readonly bin?: string | Readonly<Record<string, string>>
  }
  const bin = typeof pkg.bin === "string" ? (pkg.name === "event-vacuum" ? pkg.bin : undefined) : pkg.bin?.["event-vacuum"]
  if (bin === undefined) throw new Error("CLI bench: package.json has no \"event-vacuum\" in \"bin\"")
  const file = path.resolve(root, bin)
  if (!fs.existsSync(file)) throw new Error(`CLI bench: ${bin} (package.json "bin") does not exist: run npm run build`)
  return file
}

/** Events one copy of the example yields, worked out from the pieces, as `extract` counts them. */
export const eventsPerCopy = (records: ReadonlyArray<unknown>): number => {
  let n = 0
  for (const record of records) {
    const decoded = decodeSync(record)
    if (Either.isLeft(decoded)) throw decoded.left
    if (decoded.right.readOnly) continue
    const text = logText(decoded.right.output)
    if (text._tag === "Text") n += extract(text.text).events.length
  }
  return n
}

/** `copies` copies of the example, each moved to new positions, as NDJSON in `file`; answers its bytes. */
export const writeCopies = (file: string, records: ReadonlyArray<Record<string, unknown>>, copies: number): number => {
  const fd = fs.openSync(file, "w")
  let bytes = 0
  try {
    for (let copy = 0; copy < copies; copy++) {
      const lines = records.map((r) =>
        JSON.stringify({ ...r, ordinate: String(Number(r.ordinate) + copy * 1000), timestamp: (r.timestamp as number) + copy * 1e7 })
      )
      bytes += fs.writeSync(fd, lines.join("\n") + "\n")
    }
  } finally {
    fs.closeSync(fd)
  }
  return bytes
}

/** The environment without any setting of ours: the bench gives its own. */
export const cleanEnv = (): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("EVENT_VACUUM_") && !key.startsWith("HONEYCOMB_") && !key.startsWith("KINESIS_") && !key.startsWith("OTLP_") && !key.startsWith("OTEL_")))

/** Runs the bin to its exit; answers the wall seconds and its stderr, or throws when it failed. */
export const timeCli = (
  bin: string,
  args: ReadonlyArray<string>,
  env: NodeJS.ProcessEnv,
  stdout: number | "pipe"
): { seconds: number; stderr: string } => {
  const start = process.hrtime.bigint()
  const child = spawnSync(process.execPath, [bin, ...args], { env, stdio: ["ignore", stdout, "pipe"], encoding: "utf8", maxBuffer: 16 << 20 })
  const seconds = Number(process.hrtime.bigint() - start) / 1e9
  if (child.error !== undefined || child.status !== 0) {
    const tail = (s: string | null) => (s ?? "").split("\n").slice(-20).join("\n")
    throw new Error(
      `CLI bench: event-vacuum ${args.join(" ")} ended (${child.signal ?? `exit ${child.status}`})` +
        `${child.error === undefined ? "" : `: ${child.error.message}`}\n${tail(child.stdout)}\n${tail(child.stderr)}`
    )
  }
  return { seconds, stderr: child.stderr }
}

/** Newlines in a file, read in chunks. */
const countLines = (file: string): number => {
  const fd = fs.openSync(file, "r")
  const buffer = Buffer.allocUnsafe(1 << 20)
  let lines = 0
  try {
    for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0;) {
      for (let at = buffer.indexOf(10, 0); at !== -1 && at < n; at = buffer.indexOf(10, at + 1)) lines++
    }
  } finally {
    fs.closeSync(fd)
  }
  return lines
}

/**
 * Both commands, best of 3 rounds: `extract` over 42 MB of records and `run`
 * delivering 42,700 events (with `quick`: one round, a tenth of each).
 */
export const runCliBench = (options: { readonly quick: boolean; readonly bin?: string | undefined }): CliResult => {
  const bin = options.bin ?? builtBin()
  const rounds = options.quick ? 1 : 3
  const base = exampleRecords() as Array<Record<string, unknown>>
  const perCopy = eventsPerCopy(base)
  const exampleBytes = Buffer.byteLength(base.map((r) => JSON.stringify(r)).join("\n") + "\n")
  const extractCopies = Math.ceil((options.quick ? 4.2e6 : 42e6) / exampleBytes)
  const runCopies = Math.ceil((options.quick ? 4_270 : 42_700) / perCopy)

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-cli-"))
  try {
    const env = cleanEnv()

    const extractInput = path.join(dir, "extract.ndjson")
    const extractBytes = writeCopies(extractInput, base, extractCopies)
    const extractEvents = extractCopies * perCopy
    const devNull = fs.openSync("/dev/null", "w")
    const extractSeconds: Array<number> = []
    try {
      for (let round = 0; round < rounds; round++) {
        const { seconds, stderr } = timeCli(bin, ["extract", extractInput], env, devNull)
        const found = /, (\d+) events /.exec(stderr)
        if (found === null || Number(found[1]) !== extractEvents) {
          throw new Error(`CLI bench: extract should find ${extractEvents} events, its summary says:\n${stderr}`)
        }
        extractSeconds.push(seconds)
      }
    } finally {
      fs.closeSync(devNull)
    }

    const runInput = path.join(dir, "run.ndjson")
    const runBytes = writeCopies(runInput, base, runCopies)
    const runEvents = runCopies * perCopy
    const runSeconds: Array<number> = []
    for (let round = 0; round < rounds; round++) {
      const roundDir = fs.mkdtempSync(path.join(dir, "run-"))
      const out = path.join(roundDir, "out.ndjson")
      const { seconds, stderr } = timeCli(bin, ["run", runInput], {
        ...env,
        EVENT_VACUUM_TRANSPORTS: "file",
        EVENT_VACUUM_FILE_PATH: out,
        EVENT_VACUUM_STATE_PATH: path.join(roundDir, "state.db")
      }, "pipe")
      const lines = fs.existsSync(out) ? countLines(out) : 0
      if (lines !== runEvents) {
        throw new Error(`CLI bench: run should have written ${runEvents} events to the file sink, it wrote ${lines} lines\n${stderr}`)
      }
      runSeconds.push(seconds)
      fs.rmSync(roundDir, { recursive: true, force: true })
    }

    const extractBest = Math.min(...extractSeconds)
    const runBest = Math.min(...runSeconds)
    return {
      bin: path.relative(root, bin),
      rounds,
      extract: {
        bytes: extractBytes,
        records: extractCopies * base.length,
        events: extractEvents,
        seconds: extractBest,
        roundSeconds: extractSeconds,
        mbPerSec: extractBytes / 1e6 / extractBest,
        eventsPerSec: extractEvents / extractBest
      },
      run: {
        bytes: runBytes,
        records: runCopies * base.length,
        events: runEvents,
        seconds: runBest,
        roundSeconds: runSeconds,
        eventsPerSec: runEvents / runBest
      }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export interface StartupResult {
  readonly rounds: number
  /** `node -e 0`: what any node program pays. */
  readonly bareNode: number
  readonly help: number
  readonly runHelp: number
  readonly status: number
  readonly adapterDisabled: number
  readonly adapterEnabled: number
}

/**
 * What a command costs before it does anything, start to exit, best of 5
 * (3 with `quick`): `--help`, `run --help`, `status` on a small state file,
 * and a script that imports `ao-event-vacuum/Adapter`, creates the vacuum
 * and closes it, disabled (the default) and enabled; beside bare node.
 */
export const runStartupBench = (options: { readonly quick: boolean }): StartupResult => {
  const bin = builtBin()
  const rounds = options.quick ? 3 : 5
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-startup-"))
  try {
    const env = cleanEnv()
    const state = path.join(dir, "state.db")
    const input = path.join(dir, "records.ndjson")
    writeCopies(input, exampleRecords() as Array<Record<string, unknown>>, 1)
    timeCli(bin, ["run", input], {
      ...env,
      EVENT_VACUUM_TRANSPORTS: "file",
      EVENT_VACUUM_FILE_PATH: path.join(dir, "out.ndjson"),
      EVENT_VACUUM_STATE_PATH: state
    }, "pipe")
    const adapter = (enabled: boolean) => {
      const script = path.join(dir, `adapter-${enabled}.mjs`)
      fs.writeFileSync(
        script,
        `import { createVacuum } from ${JSON.stringify(path.join(root, "dist/Adapter.js"))}\n` +
          `const v = await createVacuum({ env: { EVENT_VACUUM_ENABLED: "${enabled}", EVENT_VACUUM_STATE_PATH: ":memory:" } })\n` +
          `await v.close()\n`
      )
      return script
    }
    const best = (args: ReadonlyArray<string>, script?: string): number => {
      let fastest = Infinity
      for (let round = 0; round < rounds; round++) {
        const start = process.hrtime.bigint()
        const child = spawnSync(process.execPath, script === undefined ? [bin, ...args] : [...args, script], { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" })
        const seconds = Number(process.hrtime.bigint() - start) / 1e9
        if (child.status !== 0) throw new Error(`startup bench: ${[...args, script ?? ""].join(" ")} exited ${child.status}: ${child.stderr}`)
        fastest = Math.min(fastest, seconds)
      }
      return fastest
    }
    const bare = (() => {
      let fastest = Infinity
      for (let round = 0; round < rounds; round++) {
        const start = process.hrtime.bigint()
        spawnSync(process.execPath, ["-e", "0"], { stdio: "ignore" })
        fastest = Math.min(fastest, Number(process.hrtime.bigint() - start) / 1e9)
      }
      return fastest
    })()
    return {
      rounds,
      bareNode: bare,
      help: best(["--help"]),
      runHelp: best(["run", "--help"]),
      status: best(["status", "--state-path", state]),
      adapterDisabled: best([], adapter(false)),
      adapterEnabled: best([], adapter(true))
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

export interface FollowResult {
  readonly engine: "SQLite" | "PostgreSQL"
  readonly rows: number
  readonly events: number
  readonly seconds: number
  readonly rowsPerSec: number
  readonly eventsPerSec: number
  /** The follower's own peak RSS (`process.resourceUsage().maxRSS` at its exit), node and module loading included. */
  readonly peakRssMB: number
  readonly live: FollowLiveResult
}

export interface FollowLiveResult {
  /** The writer's rate and how long it wrote. */
  readonly rowsPerSec: number
  readonly writeSeconds: number
  readonly rows: number
  readonly events: number
  /** From a row's commit to its event in the file sink (seen by polling the file every 10 ms). */
  readonly lagP50Ms: number
  readonly lagMaxMs: number
  /** The follower's settings, which the lag is made of: its poll and the sink's flush interval. */
  readonly pollMs: number
  readonly flushMs: number
  /** Every event arrived, and none later than the poll + the flush interval + 1 s after its row. */
  readonly keptUp: boolean
  readonly peakRssMB: number
}

/** A CSV field as PostgreSQL's COPY reads it: NULL unquoted and empty, text quoted. */
const csvField = (v: unknown): string => (v === null || v === undefined ? "" : `"${String(v).replace(/"/g, '""')}"`)

/**
 * Loaded into the follower ahead of its bin (`node --require`): its peak RSS
 * written at its exit to the file `EVENT_VACUUM_BENCH_RSS_FILE` names, so the
 * bench reads the child's own figure, wherever /usr/bin/time is missing.
 */
const RSS_PRELOAD = `process.on("exit", () => {
  const file = process.env.EVENT_VACUUM_BENCH_RSS_FILE
  if (file) require("node:fs").writeFileSync(file, String(process.resourceUsage().maxRSS))
})
`

/** The argv that runs the bin with the preload, for a spawn of `process.execPath`; and how to read the figure. */
const withPeakRss = (dir: string, name: string) => {
  const preload = path.join(dir, "rss-preload.cjs")
  if (!fs.existsSync(preload)) fs.writeFileSync(preload, RSS_PRELOAD)
  const file = path.join(dir, `${name}.rss`)
  return {
    flag: `--require=${preload}`,
    env: { EVENT_VACUUM_BENCH_RSS_FILE: file },
    peakMB: (): number => (fs.existsSync(file) ? Number(fs.readFileSync(file, "utf8")) / 1024 : Number.NaN)
  }
}

/** A CU database laid out as the CU lays it out, of the engine asked for, with `fill`'s rows; and how to remove it. */
const makeBenchCuDb = (engine: FollowResult["engine"], dir: string, rows: Iterable<Record<string, unknown>>) => {
  if (engine === "SQLite") {
    const cu = makeCuDb()
    cu.db.transaction(() => {
      for (const r of rows) saveEvaluation(cu.db, r)
    })()
    cu.db.close()
    return { dbUrl: cu.dbUrl, writerDb: cu.file, cleanUp: () => fs.rmSync(path.dirname(cu.dbUrl), { recursive: true, force: true }) }
  }
  // The CU's table in a database of the bench's own, filled through COPY.
  const db = makeDatabase("event_vacuum_bench")
  psql(PG_EVALUATIONS_DDL, db.name)
  const csv = path.join(dir, "evaluations.csv")
  const fd = fs.openSync(csv, "w")
  let any = false
  for (const r of rows) {
    const row = evaluationRow(r)
    any = true
    fs.writeSync(fd, [row.id, row.processId, row.messageId, row.deepHash, row.nonce, row.epoch, row.timestamp, row.ordinate, row.blockHeight, row.cron, row.output, row.evaluatedAt].map(csvField).join(",") + "\n")
  }
  fs.closeSync(fd)
  if (any) {
    psql(`\\copy evaluations (id, "processId", "messageId", "deepHash", nonce, epoch, timestamp, ordinate, "blockHeight", cron, output, "evaluatedAt") FROM '${csv}' WITH (FORMAT csv)`, db.name)
    psql("ANALYZE evaluations", db.name)
  }
  return { dbUrl: db.url, writerDb: db.url, cleanUp: db.drop }
}

/**
 * `event-vacuum follow DB --once` into the file sink, start to exit, over a
 * CU database laid out as the CU lays it out (its DDL: SQLite in WAL mode,
 * or PostgreSQL) holding about 100,000 evaluations (10,000 with `quick`):
 * the example's, replicated at new positions. The output must hold every
 * event, else the bench fails. Then the live case (`runFollowLive`).
 */
export const runFollowBench = async (options: { readonly quick: boolean; readonly engine: FollowResult["engine"] }): Promise<FollowResult> => {
  const bin = builtBin()
  const base = (exampleRecords() as Array<Record<string, unknown>>).filter((r) => r.readOnly !== true)
  const perCopy = eventsPerCopy(base)
  const copies = Math.ceil((options.quick ? 10_000 : 100_000) / base.length)
  const records = function*() {
    for (let copy = 0; copy < copies; copy++) {
      for (const r of base) yield { ...r, ordinate: String(Number(r.ordinate) + copy * 1000), timestamp: (r.timestamp as number) + copy * 1e7 }
    }
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-follow-"))
  const { cleanUp, dbUrl } = makeBenchCuDb(options.engine, dir, records())
  let backfill: Omit<FollowResult, "live">
  try {
    const out = path.join(dir, "out.ndjson")
    const rss = withPeakRss(dir, "backfill")
    const { seconds, stderr } = timeCli(rss.flag, [bin, "follow", dbUrl, "--once"], {
      ...cleanEnv(),
      ...rss.env,
      EVENT_VACUUM_TRANSPORTS: "file",
      EVENT_VACUUM_FILE_PATH: out,
      EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db")
    }, "pipe")
    const events = copies * perCopy
    const lines = fs.existsSync(out) ? countLines(out) : 0
    if (lines !== events) throw new Error(`follow bench (${options.engine}): should have written ${events} events, it wrote ${lines}\n${stderr}`)
    const rows = copies * base.length
    backfill = { engine: options.engine, rows, events, seconds, rowsPerSec: rows / seconds, eventsPerSec: events / seconds, peakRssMB: rss.peakMB() }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
    cleanUp()
  }
  return { ...backfill, live: await runFollowLive(options) }
}

/**
 * The live case: `event-vacuum follow DB` (its default poll and flush
 * interval) on an empty CU database while a writer process
 * (bench/follow-writer.ts) inserts evaluations at 2,000 rows/s for 10 s
 * (1.5 s with `quick`); each event's lag is the time from its row's commit
 * to its line in the file sink. Fails when an event never arrives.
 */
const runFollowLive = async (options: { readonly quick: boolean; readonly engine: FollowResult["engine"] }): Promise<FollowLiveResult> => {
  const bin = builtBin()
  const rate = 2_000
  const base = (exampleRecords() as Array<Record<string, unknown>>).filter((r) => r.readOnly !== true)
  const copies = Math.ceil((rate * (options.quick ? 1.5 : 10)) / base.length)
  const rows = liveRecords(copies)
  const events = copies * eventsPerCopy(base)
  const [pollMs, flushMs] = [1_000, 1_000]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-follow-live-"))
  const cu = makeBenchCuDb(options.engine, dir, [])
  const out = path.join(dir, "out.ndjson")
  const rss = withPeakRss(dir, "live")
  const follower = spawn(process.execPath, [rss.flag, bin, "follow", cu.dbUrl], {
    env: {
      ...cleanEnv(),
      ...rss.env,
      EVENT_VACUUM_TRANSPORTS: "file",
      EVENT_VACUUM_FILE_PATH: out,
      EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
      EVENT_VACUUM_CU_DB_POLL: `${pollMs} millis`,
      EVENT_VACUUM_FLUSH_INTERVAL: `${flushMs} millis`
    },
    stdio: ["ignore", "ignore", "pipe"]
  })
  let followerErr = ""
  follower.stderr!.setEncoding("utf8").on("data", (s: string) => (followerErr += s))
  const followerExit = new Promise<number | null>((resolve) => follower.on("close", (code) => resolve(code)))
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  try {
    // Started: it has said the table is empty.
    for (let waited = 0; !followerErr.includes("is empty") && waited < 20_000; waited += 10) await sleep(10)
    if (!followerErr.includes("is empty")) throw new Error(`follow bench, live (${options.engine}): the follower did not start\n${followerErr}`)

    // Each row's commit time, as the writer reports them.
    const committedAt = new Float64Array(rows.length)
    let committed = 0
    let writerDone = false
    const writer = spawn(process.execPath, ["--import", "tsx", path.join(root, "bench", "follow-writer.ts"), options.engine, cu.writerDb, String(rate), String(copies)], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let writerOut = ""
    let writerErr = ""
    writer.stderr!.setEncoding("utf8").on("data", (s: string) => (writerErr += s))
    writer.stdout!.setEncoding("utf8").on("data", (s: string) => {
      writerOut += s
      let nl
      while ((nl = writerOut.indexOf("\n")) >= 0) {
        const line = writerOut.slice(0, nl)
        writerOut = writerOut.slice(nl + 1)
        if (line === "done") writerDone = true
        else {
          const [n, at] = line.split(" ").map(Number) as [number, number]
          committedAt.fill(at, committed, n)
          committed = n
        }
      }
    })
    const writerExit = new Promise<number | null>((resolve) => writer.on("close", (code) => resolve(code)))

    // The file sink's lines as they arrive, each matched to its row by process, timestamp and nonce.
    const rowOf = new Map<string, number>()
    rows.forEach((r, i) => {
      const key = `${r.processId},${r.timestamp},${Number(r.ordinate)}`
      if (!rowOf.has(key)) rowOf.set(key, i)
    })
    // Each event's row and when it arrived (the writer's report of a commit can come after).
    const arrivals: Array<readonly [number, number]> = []
    let offset = 0
    let partial = ""
    const buffer = Buffer.allocUnsafe(1 << 20)
    const readNew = () => {
      if (!fs.existsSync(out)) return
      const fd = fs.openSync(out, "r")
      try {
        for (let n; (n = fs.readSync(fd, buffer, 0, buffer.length, offset)) > 0;) {
          offset += n
          partial += buffer.toString("utf8", 0, n)
        }
      } finally {
        fs.closeSync(fd)
      }
      const now = Date.now()
      const lines = partial.split("\n")
      partial = lines.pop()!
      for (const line of lines) {
        const { data } = JSON.parse(line) as { data: { processId: string; timestamp: number; nonce: number } }
        const i = rowOf.get(`${data.processId},${data.timestamp},${data.nonce}`)
        if (i === undefined) throw new Error(`follow bench, live (${options.engine}): an event of no row written: ${line.slice(0, 200)}`)
        arrivals.push([i, now])
      }
    }
    const deadline = () => Date.now() + 60_000
    let until = deadline()
    while (arrivals.length < events && Date.now() < until) {
      readNew()
      if (!writerDone) until = deadline()
      await sleep(10)
    }
    readNew()
    const writerCode = await writerExit
    if (writerCode !== 0) throw new Error(`follow bench, live (${options.engine}): the writer failed\n${writerErr}`)
    follower.kill("SIGTERM")
    await followerExit
    if (arrivals.length !== events) {
      throw new Error(`follow bench, live (${options.engine}): ${arrivals.length} of ${events} events arrived\n${followerErr}`)
    }
    const lags = arrivals.map(([i, at]) => Math.max(0, at - committedAt[i]!)).sort((a, b) => a - b)
    const lagMaxMs = lags[lags.length - 1]!
    return {
      rowsPerSec: rate,
      writeSeconds: rows.length / rate,
      rows: rows.length,
      events,
      lagP50Ms: lags[Math.floor(lags.length / 2)]!,
      lagMaxMs,
      pollMs,
      flushMs,
      keptUp: lagMaxMs <= pollMs + flushMs + 1_000,
      peakRssMB: rss.peakMB()
    }
  } finally {
    follower.kill("SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
    cu.cleanUp()
  }
}
