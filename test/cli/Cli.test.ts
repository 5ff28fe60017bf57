/**
 * The `event-vacuum` command line, run as users run it: a child process
 * (the built binary, `node dist/cli/bin.js`), real files, real exit codes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { DedupeStore } from "../../src/DedupeStore.js"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"
import { settings } from "../../src/cli/Cli.js"
import { followSettings } from "../../src/cli/commands.js"
import { bin, cli as spawnCli, expectedEvents, sleep } from "../support/guarantees.js"
import { makeCuDb, saveEvaluation } from "../support/cu.js"
import { makeDatabase, makePgCuDb, psql } from "../support/cuPg.js"
import { exampleRecords } from "../support/harness.js"
import { FakeHoneycomb } from "../support/honeycomb.js"

const repo = fileURLToPath(new URL("../..", import.meta.url))
const example = path.join(repo, "examples/aos-token-evaluations.ndjson")

interface Result {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the CLI with a clean environment (plus `env`) from a temp folder. Not `spawnSync`: this thread
 * must stay free to answer the test runner while a child runs (a loaded machine makes a test of many
 * runs last past the runner's 60 s patience, and a green run then exits 1).
 */
const cli = (
  args: ReadonlyArray<string>,
  options: { env?: Record<string, string>; input?: string; cwd?: string; uid?: number; gid?: number } = {}
): Promise<Result> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: options.cwd ?? repo,
      ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.gid }),
      env: { PATH: process.env.PATH ?? "", ...options.env },
      timeout: 60_000
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s))
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
    // A child that exits before reading all of it closes the pipe: not the test's failure.
    child.stdin.on("error", () => {})
    child.stdin.end(options.input ?? "")
  })

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-cli-"))
const lines = (text: string) => text.split("\n").filter((l) => l.length > 0)

const SUMMARY = "event-vacuum: 134 records (0 bad, 12 read-only skipped), 121 events (12 repaired), lines rejected: none"

describe("event-vacuum run", () => {
  it("delivers the example file's events, then nothing on a second run", async () => {
    const state = path.join(tempDir(), "state.db")
    const env = { EVENT_VACUUM_STATE_PATH: state, EVENT_VACUUM_CONSOLE_FORMAT: "json", EVENT_VACUUM_FLUSH_INTERVAL: "10 millis" }
    const first = await cli(["run", example], { env })
    assert.strictEqual(first.code, 0, first.stderr)
    const events = lines(first.stdout).map((l) => JSON.parse(l) as { time: string; data: Record<string, unknown> })
    assert.strictEqual(events.length, 121)
    assert.strictEqual(new Set(events.map((e) => e.data.eventId)).size, 121)
    assert.include(first.stderr, SUMMARY)
    assert.include(first.stderr, "console: 121 delivered, 0 seen before, 0 waiting, 0 dead-lettered")

    const second = await cli(["run", example], { env })
    assert.strictEqual(second.code, 0, second.stderr)
    assert.strictEqual(second.stdout, "")
    assert.include(second.stderr, "console: 0 delivered, 121 seen before, 0 waiting, 0 dead-lettered")

    const status = await cli(["status", "--state-path", state])
    assert.strictEqual(status.code, 0, status.stderr)
    assert.include(status.stdout, "console: 0 waiting")
    assert.include(status.stdout, "XPROC0_pppppppppppppppppppppppppppppppppppp: up to 2024-09-22T10:16:59.819Z nonce 63")
  })

  it("reads stdin, reports bad lines by number without stopping, and exits 1 for them", async () => {
    const records = lines(fs.readFileSync(example, "utf8"))
    const input = [records[0], "not json", records[1], "{\"processId\": 1}", ...records.slice(2)].join("\n") + "\n"
    const r = await cli(["run"], {
      env: { EVENT_VACUUM_STATE_PATH: ":memory:", EVENT_VACUUM_CONSOLE_FORMAT: "json", EVENT_VACUUM_FLUSH_INTERVAL: "10 millis" },
      input
    })
    assert.strictEqual(r.code, 1, r.stderr)
    assert.strictEqual(lines(r.stdout).length, 121)
    assert.include(r.stderr, "event-vacuum: stdin:2: not JSON")
    assert.match(r.stderr, /event-vacuum: stdin:4: Invalid evaluation record: processId: Expected string, actual 1/)
    assert.include(r.stderr, "136 records (2 bad, 12 read-only skipped), 121 events")
    assert.strictEqual(lines(r.stderr).at(-1), "event-vacuum: 2 line(s) were not evaluation records (each is named above); the events they may hold were not read")
    // A file of bad lines only, through run and extract alike.
    for (const command of ["run", "extract"]) {
      const worse = await cli([command], { env: { EVENT_VACUUM_STATE_PATH: ":memory:" }, input: "not json\n[1, 2]\n" })
      assert.strictEqual(worse.code, 1, `${command}: ${worse.stderr}`)
      assert.include(worse.stderr, "2 line(s) were not evaluation records", command)
    }
  })

  it("takes settings as flags, and a flag wins over the environment", async () => {
    const dir = tempDir()
    const out = path.join(dir, "events.ndjson")
    const r = await cli(["run", "--transports", "file", "--file-path", out, "--state-path", path.join(dir, "s.db"), example], {
      env: { EVENT_VACUUM_TRANSPORTS: "console", EVENT_VACUUM_FLUSH_INTERVAL: "10 millis" }
    })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(r.stdout, "")
    assert.strictEqual(lines(fs.readFileSync(out, "utf8")).length, 121)
    assert.include(r.stderr, "file: 121 delivered")
  })

  it("exits non-zero with one line naming the key of a bad setting, env or flag", async () => {
    const env = await cli(["run", example], { env: { EVENT_VACUUM_STATE_PATH: ":memory:", EVENT_VACUUM_BATCH_MAX_EVENTS: "0" } })
    assert.strictEqual(env.code, 1)
    assert.strictEqual(lines(env.stderr).length, 1, env.stderr)
    assert.include(env.stderr, "EVENT_VACUUM_BATCH_MAX_EVENTS")
    const flag = await cli(["run", "--transports", "kafka", example], { env: { EVENT_VACUUM_STATE_PATH: ":memory:" } })
    assert.strictEqual(flag.code, 1)
    assert.include(flag.stderr, "EVENT_VACUUM_TRANSPORTS")
    assert.include(flag.stderr, "kafka")
  })

  it("refuses at start-up every setting that would break a guarantee, in one line naming the key and the flag", { timeout: 90_000 }, async () => {
    const honeycomb = { EVENT_VACUUM_TRANSPORTS: "honeycomb", HONEYCOMB_API_KEY: "k", HONEYCOMB_DATASET: "d" }
    const cases: ReadonlyArray<readonly [Record<string, string>, string, string]> = [
      [{ EVENT_VACUUM_LEASE: "0 seconds" }, "EVENT_VACUUM_LEASE", "--lease"],
      [{ EVENT_VACUUM_SEND_TIMEOUT: "0 seconds" }, "EVENT_VACUUM_SEND_TIMEOUT", "--send-timeout"],
      [{ ...honeycomb, HONEYCOMB_TIMEOUT: "-5 seconds" }, "HONEYCOMB_TIMEOUT", "--honeycomb-timeout"],
      [{ EVENT_VACUUM_FLUSH_INTERVAL: "-1 seconds" }, "EVENT_VACUUM_FLUSH_INTERVAL", "--flush-interval"],
      [{ EVENT_VACUUM_DRAIN_TIMEOUT: "0 millis" }, "EVENT_VACUUM_DRAIN_TIMEOUT", "--drain-timeout"],
      [{ EVENT_VACUUM_RETRY_BASE_DELAY: "0 millis" }, "EVENT_VACUUM_RETRY_BASE_DELAY", "--retry-base-delay"],
      [{ ...honeycomb, HONEYCOMB_CONCURRENCY: "20000" }, "HONEYCOMB_CONCURRENCY", "--honeycomb-concurrency"],
      [{ ...honeycomb, HONEYCOMB_CONCURRENCY: "1e9" }, "HONEYCOMB_CONCURRENCY", "--honeycomb-concurrency"],
      [{ EVENT_VACUUM_MAX_QUEUED_BYTES: " 12 " }, "EVENT_VACUUM_MAX_QUEUED_BYTES", "--max-queued-bytes"],
      [{ EVENT_VACUUM_MAX_QUEUED_BYTES: "0x40" }, "EVENT_VACUUM_MAX_QUEUED_BYTES", "--max-queued-bytes"],
      [{ EVENT_VACUUM_STATE_PATH: "   " }, "EVENT_VACUUM_STATE_PATH", "--state-path"],
      [{ ...honeycomb, HONEYCOMB_API_KEY: "" }, "HONEYCOMB_API_KEY", "--honeycomb-api-key"],
      [{ ...honeycomb, HONEYCOMB_DATASET: "a/b" }, "HONEYCOMB_DATASET", "--honeycomb-dataset"],
      [{ ...honeycomb, HONEYCOMB_API_HOST: "bad url" }, "HONEYCOMB_API_HOST", "--honeycomb-api-host"],
      [{ ...honeycomb, HONEYCOMB_API_HOST: "ftp://example.test" }, "HONEYCOMB_API_HOST", "--honeycomb-api-host"]
    ]
    for (const [env, key, flag] of cases) {
      const r = await cli(["run", example], { env: { EVENT_VACUUM_STATE_PATH: ":memory:", ...env } })
      const said = `${JSON.stringify(env)}: ${r.stderr}`
      assert.strictEqual(r.code, 1, said)
      assert.strictEqual(r.stdout, "", said)
      assert.strictEqual(lines(r.stderr).length, 1, said)
      assert.include(r.stderr, `bad setting ${key}: `, said)
      assert.include(r.stderr, `(flag ${flag})`, said)
      assert.notInclude(r.stderr, `${key}.${key}`, said)
      // The bad value, when shown, is shown once (a secret never: see the secrets tests).
      const value = JSON.stringify(env[key])
      if (key !== "HONEYCOMB_API_KEY") assert.isAtMost(r.stderr.split(value).length - 1, 1, said)
    }
    // A pair that cannot work together: the longest retry delay below the first.
    const pair = await cli(["run", example, "--retry-base-delay", "2 seconds", "--retry-max-delay", "1 second"], {
      env: { EVENT_VACUUM_STATE_PATH: ":memory:" }
    })
    assert.strictEqual(pair.code, 1)
    assert.include(pair.stderr, "EVENT_VACUUM_RETRY_MAX_DELAY")
    assert.include(pair.stderr, "shorter than retryBaseDelay")
    // A missing one says its flag too.
    const missing = await cli(["run", example], { env: { EVENT_VACUUM_STATE_PATH: ":memory:", EVENT_VACUUM_TRANSPORTS: "honeycomb" } })
    assert.strictEqual(missing.code, 1)
    assert.include(missing.stderr, "missing setting HONEYCOMB_API_KEY (or --honeycomb-api-key)")
  })

  it("never drops an event for the size of the queue: an evaluation larger than the bound, and a bound of 1000 bytes", async () => {
    const dir = tempDir()
    const out = path.join(dir, "events.ndjson")
    const first = JSON.parse(fs.readFileSync(example, "utf8").split("\n")[0]!) as Record<string, any>
    const log = Array.from({ length: 5_000 }, (_, i) => JSON.stringify({ _e: 1, Action: "Big", i, pad: "x".repeat(300) })).join("\n")
    const big = { ...first, output: { ...first.output, Output: { data: log, prompt: "aos> " }, Error: null } }
    const input = path.join(dir, "big.ndjson")
    fs.writeFileSync(input, JSON.stringify(big) + "\n")
    const env = (state: string, bound: string) => ({
      EVENT_VACUUM_TRANSPORTS: "file",
      EVENT_VACUUM_FILE_PATH: out,
      EVENT_VACUUM_STATE_PATH: path.join(dir, state),
      EVENT_VACUUM_MAX_QUEUED_BYTES: bound,
      EVENT_VACUUM_FLUSH_INTERVAL: "10 millis"
    })
    const one = await cli(["run", input], { env: env("a.db", "100000") })
    assert.strictEqual(one.code, 0, one.stderr)
    assert.include(one.stderr, "file: 5000 delivered, 0 seen before, 0 waiting")
    assert.notInclude(one.stderr, "not stored")
    assert.strictEqual(lines(fs.readFileSync(out, "utf8")).length, 5_000)
    fs.rmSync(out)
    const small = await cli(["run", example], { env: env("b.db", "1000") })
    assert.strictEqual(small.code, 0, small.stderr)
    assert.include(small.stderr, "file: 121 delivered, 0 seen before, 0 waiting")
    assert.strictEqual(lines(fs.readFileSync(out, "utf8")).length, 121)
  })

  it("on a terminal, the console sink's events are not broken by a progress line", async () => {
    const dir = tempDir()
    // `script` gives the CLI a terminal for stdout and stderr, as a user's shell does.
    const command = [process.execPath, bin, "run", example]
      .map((a) => `'${a}'`).join(" ")
    const r = spawnSync("script", ["-qec", command, "/dev/null"], {
      cwd: repo,
      env: { PATH: process.env.PATH ?? "", EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db"), TERM: "xterm" },
      encoding: "utf8",
      timeout: 60_000
    })
    assert.strictEqual(r.status, 0, r.stdout + r.stderr)
    const shown = r.stdout.split(/\r?\n/)
    assert.notInclude(r.stdout, "\x1b[2K")
    assert.strictEqual(shown.filter((l) => /^2024-09-22T\d\d:\d\d:\d\d\.\d{3}Z X/.test(l)).length, 121, r.stdout)
    assert.include(r.stdout, SUMMARY)
  })

  it("logs go to stderr only, once: stdout holds the console sink's events and nothing else", { timeout: 60_000 }, async () => {
    const hc = await FakeHoneycomb.start("the-right-key-0123456789")
    try {
      const dir = tempDir()
      const r = await spawnCli(["run", example], {
        EVENT_VACUUM_TRANSPORTS: "console,honeycomb",
        EVENT_VACUUM_CONSOLE_FORMAT: "json",
        EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db"),
        EVENT_VACUUM_DRAIN_TIMEOUT: "2 seconds",
        HONEYCOMB_API_HOST: hc.url,
        HONEYCOMB_API_KEY: "a-wrong-key-0123456789",
        HONEYCOMB_DATASET: "logs"
      }).exited
      assert.strictEqual(r.code, 1, r.stderr)
      const out = lines(r.stdout)
      assert.strictEqual(out.length, 121, r.stdout)
      for (const line of out) assert.match(line, /^\{"time":"[^"]+","data":\{"processId":/)
      const stopped = lines(r.stderr).filter((l) => l.includes("sink honeycomb stopped: 401"))
      assert.strictEqual(stopped.length, 1, r.stderr)
      assert.match(stopped[0]!, /^timestamp=\S+ level=ERROR /)
    } finally {
      await hc.close()
    }
  })

  it("reads a byte-order mark as no part of line 1, counts a null line as a bad record, and opens no state without input", async () => {
    const dir = tempDir()
    const records = fs.readFileSync(example, "utf8")
    const input = "\ufeff" + records.split("\n")[0] + "\nnull\n"
    const r = await cli(["run", "-"], { input, env: { EVENT_VACUUM_STATE_PATH: path.join(dir, "a.db") } })
    assert.notInclude(r.stderr, "stdin:1:")
    assert.match(r.stderr, /event-vacuum: stdin:2: Invalid evaluation record/)
    assert.include(r.stderr, "event-vacuum: 2 records (1 bad, 0 read-only skipped)")
    assert.strictEqual(r.code, 1, r.stderr)
    // No input, or the vacuum off: nothing is opened or created, and it says why.
    const state = path.join(dir, "never.db")
    const missing = await cli(["run", path.join(dir, "missing.ndjson")], { env: { EVENT_VACUUM_STATE_PATH: state } })
    assert.strictEqual(missing.code, 1)
    assert.include(missing.stderr, "cannot read")
    const off = await cli(["run", example], { env: { EVENT_VACUUM_STATE_PATH: state, EVENT_VACUUM_ENABLED: "false" } })
    assert.strictEqual(off.code, 1)
    assert.strictEqual(lines(off.stderr).join("\n"), "event-vacuum: the vacuum is disabled (EVENT_VACUUM_ENABLED=false): nothing was read")
    assert.isFalse(fs.existsSync(state))
  })

  it("says a failing sink's cause once, as a warning, and in the summary", async () => {
    const dir = tempDir()
    const r = await cli(["run", example], {
      env: {
        EVENT_VACUUM_TRANSPORTS: "file,honeycomb",
        // A folder as the file, and a port nothing listens on.
        EVENT_VACUUM_FILE_PATH: dir,
        HONEYCOMB_API_HOST: "http://127.0.0.1:9",
        HONEYCOMB_API_KEY: "k",
        HONEYCOMB_DATASET: "d",
        EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db"),
        EVENT_VACUUM_DRAIN_TIMEOUT: "2 seconds",
        EVENT_VACUUM_SHUTDOWN_TIMEOUT: "200 millis",
        EVENT_VACUUM_RETRY_BASE_DELAY: "20 millis",
        EVENT_VACUUM_RETRY_MAX_DELAY: "100 millis"
      }
    })
    assert.strictEqual(r.code, 1, r.stderr)
    const warned = (sink: string) => lines(r.stderr).filter((l) => l.includes(`level=WARN`) && l.includes(`sink ${sink}: cannot send`))
    assert.strictEqual(warned("file").length, 1, r.stderr)
    assert.include(warned("file")[0], "EISDIR")
    assert.strictEqual(warned("honeycomb").length, 1, r.stderr)
    assert.include(warned("honeycomb")[0], "ECONNREFUSED")
    assert.match(r.stderr, /file: 0 delivered, 0 seen before, 121 waiting, 0 dead-lettered \(failing: Unavailable: .*EISDIR/)
    assert.match(r.stderr, /honeycomb: 0 delivered, 0 seen before, 121 waiting, 0 dead-lettered \(failing: Unavailable: .*ECONNREFUSED/)
  })

  // Children run asynchronously (several in a row would block the test worker for a minute on a busy machine).
  it("status shows why a sink is failing and since when, until a run delivers again", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    const state = path.join(dir, "s.db")
    const env = {
      EVENT_VACUUM_TRANSPORTS: "file",
      EVENT_VACUUM_STATE_PATH: state,
      EVENT_VACUUM_FLUSH_INTERVAL: "10 millis",
      EVENT_VACUUM_DRAIN_TIMEOUT: "2 seconds",
      EVENT_VACUUM_SHUTDOWN_TIMEOUT: "200 millis",
      EVENT_VACUUM_RETRY_BASE_DELAY: "20 millis",
      EVENT_VACUUM_RETRY_MAX_DELAY: "100 millis"
    }
    const status = (...more: Array<string>) => spawnCli(["status", "--state-path", state, ...more], {}).exited
    const before = Date.now()
    // A folder as the file: EISDIR at every attempt.
    const failing = await spawnCli(["run", example], { ...env, EVENT_VACUUM_FILE_PATH: dir }).exited
    const after = Date.now()
    assert.strictEqual(failing.code, 1, failing.stderr)

    const shown = await status()
    assert.strictEqual(shown.code, 0, shown.stderr)
    const line = lines(shown.stdout).find((l) => l.startsWith("file: "))
    const said = /^file: 121 waiting \(\d+ bytes, \d+ being sent\), 0 dead letters; failing since (\S+): (Unavailable: .*EISDIR.*)$/.exec(line ?? "")
    assert.isNotNull(said, shown.stdout)
    // The cause the run's summary gave, and a time within the run.
    assert.include(failing.stderr, `(failing: ${said![2]})`)
    const since = Date.parse(said![1]!)
    assert.isTrue(since >= before - 1000 && since <= after, `${said![1]} within the run`)
    const json = lines((await status("--json")).stdout).map((l) => JSON.parse(l) as { sink?: Record<string, unknown> })
    const stats = json.find((j) => j.sink !== undefined)!.sink!
    assert.deepStrictEqual(stats.failing, { cause: said![2], since })
    assert.isUndefined(stats.stopped)

    // The file is writable again: the waiting events go, and status no longer says failing.
    const fixed = await spawnCli(["run", example], { ...env, EVENT_VACUUM_FILE_PATH: path.join(dir, "events.ndjson") }).exited
    assert.strictEqual(fixed.code, 0, fixed.stderr)
    assert.include(fixed.stderr, "file: 121 delivered, 121 seen before, 0 waiting, 0 dead-lettered")
    const again = await status()
    assert.strictEqual(again.code, 0, again.stderr)
    assert.include(again.stdout, "file: 0 waiting (0 bytes, 0 being sent), 0 dead letters\n")
    assert.notInclude(again.stdout, "failing")
    assert.notInclude((await status("--json")).stdout, "failing")
  })

  it("exits non-zero on an unreadable file, and when events are left undelivered", { timeout: 90_000 }, async () => {
    const missing = await cli(["run", "/nonexistent/records.ndjson"], { env: { EVENT_VACUUM_STATE_PATH: ":memory:" } })
    assert.strictEqual(missing.code, 1)
    assert.include(missing.stderr, "cannot read /nonexistent/records.ndjson")

    const dir = tempDir()
    const blocker = path.join(dir, "not-a-folder")
    fs.writeFileSync(blocker, "")
    const stuck = await cli(["run", example], {
      env: {
        EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db"),
        EVENT_VACUUM_TRANSPORTS: "file",
        EVENT_VACUUM_FILE_PATH: path.join(blocker, "events.ndjson"),
        EVENT_VACUUM_FLUSH_INTERVAL: "10 millis",
        EVENT_VACUUM_DRAIN_TIMEOUT: "1 second",
        // The run waits its drain timeout, once: closing does not wait for the sink again (with
        // a wait of ten minutes, the child would be killed by cli's own time limit of a minute).
        EVENT_VACUUM_SHUTDOWN_TIMEOUT: "10 minutes"
      }
    })
    assert.strictEqual(stuck.code, 1, stuck.stderr)
    assert.include(stuck.stderr, "file: 0 delivered, 0 seen before, 121 waiting")
    assert.include(stuck.stderr, "121 event(s) still waiting for delivery; they stay in the state file and go on the next run")
    // Said once, in the CLI's last line: not again by the layer's close.
    assert.notInclude(stuck.stderr, "closing with events still waiting")
    // With the state in memory, it does not say they stay anywhere.
    const inMemory = await cli(["run", example], {
      env: {
        EVENT_VACUUM_STATE_PATH: ":memory:",
        EVENT_VACUUM_TRANSPORTS: "file",
        EVENT_VACUUM_FILE_PATH: path.join(blocker, "events.ndjson"),
        EVENT_VACUUM_DRAIN_TIMEOUT: "1 second"
      }
    })
    assert.strictEqual(inMemory.code, 1, inMemory.stderr)
    assert.include(inMemory.stderr, "121 event(s) still waiting for delivery; the state is in memory (EVENT_VACUUM_STATE_PATH=:memory:), so they are lost when this run ends")
    assert.notInclude(inMemory.stderr, "state file")
  })
})

/**
 * `run -` with the example on a stdin that stays open (the run would read forever), once it has
 * stored what it read: ready for a signal.
 */
const runningOnOpenStdin = async (env: Record<string, string>, db: string) => {
  const run = spawnCli(["run", "-"], { ...env, EVENT_VACUUM_STATE_PATH: db }, { stdin: true })
  run.stdin!.write(fs.readFileSync(example))
  // Signalled once every event read is stored and waits for its sink, however long starting took.
  const waiting = `${env.EVENT_VACUUM_TRANSPORTS}: 121 waiting`
  for (let i = 0; i < 300; i++) {
    if (fs.existsSync(db) && (await cli(["status", "--state-path", db])).stdout.includes(waiting)) return run
    await sleep(100)
  }
  assert.fail(`the run did not store the example's 121 events in time`)
}

describe("event-vacuum run: the file sink on a device", () => {
  it("/dev/stdout as the file path: each event once on stdout, counted as delivered", async () => {
    const r = await cli(["run", example], {
      env: { EVENT_VACUUM_STATE_PATH: path.join(tempDir(), "s.db"), EVENT_VACUUM_TRANSPORTS: "file", EVENT_VACUUM_FILE_PATH: "/dev/stdout" }
    })
    assert.strictEqual(r.code, 0, r.stderr)
    const events = lines(r.stdout).map((l) => JSON.parse(l) as { data: { eventId: string } })
    assert.strictEqual(events.length, 121)
    assert.strictEqual(new Set(events.map((e) => e.data.eventId)).size, 121)
    assert.include(r.stderr, "file: 121 delivered, 0 seen before, 0 waiting, 0 dead-lettered")
  })
})

describe("event-vacuum run: a state file it may not write", () => {
  it("counts every event as not stored, says why in one line on stderr, prints nothing on stdout, and exits 1", async () => {
    const dir = tempDir()
    fs.chmodSync(dir, 0o777)
    const state = path.join(dir, "state.db")
    const made = await cli(["run", "-"], { env: { EVENT_VACUUM_STATE_PATH: state } })
    assert.strictEqual(made.code, 0, made.stderr)
    fs.chmodSync(state, 0o444)
    // Root writes whatever the mode says: the run is then another user's (nobody's).
    const other = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}
    const r = await cli(["run", example], { env: { EVENT_VACUUM_STATE_PATH: state, EVENT_VACUUM_CONSOLE_FORMAT: "json" }, ...other })
    assert.strictEqual(r.code, 1, r.stderr)
    assert.strictEqual(r.stdout, "")
    const errors = lines(r.stderr).filter((l) => l.includes("level=ERROR"))
    assert.strictEqual(errors.length, 1, r.stderr)
    assert.match(errors[0]!, /could not store \d+ event\(s\) \(state store: hand-off failed: .*readonly database\); they are lost unless/)
    // The cause in words, not the error's fields or a stack.
    assert.notInclude(r.stderr, "_tag")
    assert.notMatch(r.stderr, /^\s+at /m)
    assert.include(r.stderr, SUMMARY)
    assert.include(r.stderr, "not stored: 121 (buffer_full=0 store_failed=121)")
    assert.strictEqual(
      lines(r.stderr).at(-1),
      "event-vacuum: 121 event(s) were not stored (buffer_full=0 store_failed=121); run again once the cause is fixed: nothing moved past them"
    )
  })
})

describe("event-vacuum run: signals", () => {
  it("SIGTERM stops reading, sends what was read within the shutdown timeout, prints the summary and exits 143", { timeout: 60_000 }, async () => {
    const dir = tempDir()
    const out = path.join(dir, "events.ndjson")
    // A flush interval of a minute: only the shutdown send can deliver them in time.
    const run = await runningOnOpenStdin({
      EVENT_VACUUM_TRANSPORTS: "file",
      EVENT_VACUUM_FILE_PATH: out,
      EVENT_VACUUM_FLUSH_INTERVAL: "1 minute"
    }, path.join(dir, "s.db"))
    run.kill("SIGTERM")
    const r = await run.exited
    assert.strictEqual(r.code, 143, r.stderr)
    assert.include(r.stderr, SUMMARY)
    assert.include(r.stderr, "file: 121 delivered, 0 seen before, 0 waiting")
    assert.include(r.stderr, "event-vacuum: stopped by SIGTERM; every event read was delivered")
    assert.strictEqual(lines(fs.readFileSync(out, "utf8")).length, 121)
  })

  it("a second signal exits at once (130 for SIGINT), leaving what waits in the state file", { timeout: 60_000 }, async () => {
    const dir = tempDir()
    const db = path.join(dir, "s.db")
    const run = await runningOnOpenStdin({
      EVENT_VACUUM_TRANSPORTS: "honeycomb",
      // Longer than the test may take: only the second signal can end the run in time.
      EVENT_VACUUM_SHUTDOWN_TIMEOUT: "10 minutes",
      // Nothing listens there: the sink is down, so the shutdown send would wait its whole timeout.
      HONEYCOMB_API_HOST: "http://127.0.0.1:9",
      HONEYCOMB_API_KEY: "k",
      HONEYCOMB_DATASET: "d"
    }, db)
    run.kill("SIGINT")
    await sleep(1000)
    run.kill("SIGINT")
    const r = await run.exited
    assert.strictEqual(r.code, 130, r.stderr)
    const status = await cli(["status", "--state-path", db])
    assert.include(status.stdout, "honeycomb: 121 waiting", status.stdout + status.stderr)
  })
})

describe("event-vacuum extract", () => {
  it("prints each event exactly as the file sink writes it, with no state and the same summary", async () => {
    const dir = tempDir()
    const out = path.join(dir, "events.ndjson")
    const run = await cli(["run", example], {
      env: { EVENT_VACUUM_TRANSPORTS: "file", EVENT_VACUUM_FILE_PATH: out, EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db") }
    })
    assert.strictEqual(run.code, 0, run.stderr)
    const state = path.join(dir, "extract-state.db")
    const extracted = await cli(["extract", example], { env: { EVENT_VACUUM_STATE_PATH: state } })
    assert.strictEqual(extracted.code, 0, extracted.stderr)
    assert.strictEqual(extracted.stderr.trim(), SUMMARY)
    // The same 121 lines, byte for byte (the file sink writes batches in order; extract in input order).
    assert.deepStrictEqual(lines(extracted.stdout), lines(fs.readFileSync(out, "utf8")))
    const first = JSON.parse(lines(extracted.stdout)[0]!) as { time: string; data: Record<string, unknown> }
    assert.strictEqual(typeof first.data.nonce, "number")
    assert.strictEqual(typeof first.data.eventId, "string")
    // No state: the state path is not even opened.
    assert.isFalse(fs.existsSync(state))
  })

  it("shows an event's own sampleRate as samplerate, as the file sink writes it after the state", async () => {
    const dir = tempDir()
    const out = path.join(dir, "events.ndjson")
    const output = ["{\"_e\":1,\"sampleRate\":4,\"Action\":\"Kept\"}", "{\"_e\":1,\"sampleRate\":1}", "{\"_e\":1,\"sampleRate\":\"x\"}"]
    const input = JSON.stringify({ processId: "P", ordinate: "7", timestamp: 1727000000000, output: { Output: output.join("\n") } }) + "\n"
    const extracted = await cli(["extract", "-"], { input })
    assert.strictEqual(extracted.code, 0, extracted.stderr)
    const printed = lines(extracted.stdout)
    assert.deepStrictEqual(printed.map((l) => Object.keys(JSON.parse(l) as object)), [["time", "samplerate", "data"], ["time", "data"], ["time", "data"]])
    assert.isTrue(printed[0]!.startsWith("{\"time\":\"2024-09-22T10:13:20.000Z\",\"samplerate\":4,\"data\":{"), printed[0])
    assert.strictEqual((JSON.parse(printed[0]!) as { data: { sampleRate: unknown } }).data.sampleRate, 4)
    const run = await cli(["run", "-"], {
      input,
      env: { EVENT_VACUUM_TRANSPORTS: "file", EVENT_VACUUM_FILE_PATH: out, EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db") }
    })
    assert.strictEqual(run.code, 0, run.stderr)
    assert.deepStrictEqual(lines(fs.readFileSync(out, "utf8")), printed)
  })

  it("reads stdin, reports bad lines by number, and ends lines at \\n or \\r\\n", async () => {
    const records = fs.readFileSync(example, "utf8").split("\n").filter((l) => l.length > 0)
    const input = ["not json", records[0], "", "{\"processId\":\"P\"}", ...records.slice(1)].join("\r\n") + "\r\n"
    const r = await cli(["extract", "-"], { input })
    assert.strictEqual(r.code, 1, r.stderr)
    assert.strictEqual(lines(r.stdout).length, 121)
    const errors = lines(r.stderr)
    assert.strictEqual(errors[0], "event-vacuum: stdin:1: not JSON")
    assert.match(errors[1]!, /^event-vacuum: stdin:4: Invalid evaluation record: ordinate: is missing/)
    assert.strictEqual(errors[2], "event-vacuum: 136 records (2 bad, 12 read-only skipped), 121 events (12 repaired), lines rejected: none")
    assert.strictEqual(errors[3], "event-vacuum: 2 line(s) were not evaluation records (each is named above); the events they may hold were not read")
    assert.strictEqual(errors.length, 4)
  })
})

describe("event-vacuum dead-letters", () => {
  it.effect("lists dead letters with their reason, and replay sends them", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const state = path.join(dir, "state.db")
      // A sink refused one event earlier.
      yield* Effect.gen(function*() {
        const store = yield* DedupeStore
        yield* store.handOff(["console"], [{
          processId: "P",
          position: { timestamp: 1727000000000, ordinate: "1", cron: null },
          events: [{ id: "ev-1", time: 1727000000000, data: "{\"processId\":\"P\",\"Action\":\"Refused\"}" }]
        }])
        const [entry] = yield* store.claim("console", { owner: "o", maxEvents: 1, maxBytes: 1e6, leaseMillis: 1000 })
        yield* store.deadLetter("console", "o", [{ seq: entry!.seq, reason: "400: Event has too many columns." }])
      }).pipe(Effect.provide(Layer.fresh(Sqlite.layer({ filename: state }))), Effect.scoped)

      const list = yield* Effect.promise(() => cli(["dead-letters", "list", "--state-path", state]))
      assert.strictEqual(list.code, 0, list.stderr)
      assert.include(list.stdout, "console 2024-09-22T10:13:20.000Z 400: Event has too many columns.")
      assert.include(list.stdout, "\"Action\":\"Refused\"")
      const seq = Number(/^#(\d+) /.exec(list.stdout)![1])

      // What cannot be replayed says so, exits 1 and replays nothing.
      const refusals: ReadonlyArray<readonly [ReadonlyArray<string>, Record<string, string>, string]> = [
        [["dead-letters", "replay", String(seq + 998)], {}, `no dead letter #${seq + 998} (see dead-letters list); nothing was replayed`],
        [["dead-letters", "replay", "--sink", "nosuch"], {}, "no dead letters for sink nosuch to replay"],
        [
          ["dead-letters", "replay"],
          { EVENT_VACUUM_TRANSPORTS: "file", EVENT_VACUUM_FILE_PATH: path.join(dir, "f.ndjson") },
          "dead letters of console: not a configured sink here (EVENT_VACUUM_TRANSPORTS is file); nothing was replayed"
        ]
      ]
      for (const [args, env, said] of refusals) {
        const r = yield* Effect.promise(() => cli(args, { env: { EVENT_VACUUM_STATE_PATH: state, ...env } }))
        assert.strictEqual(r.code, 1, `${args.join(" ")}: ${r.stderr}`)
        assert.include(r.stderr, said, args.join(" "))
      }
      const zero = yield* Effect.promise(() => cli(["dead-letters", "list", "--state-path", state, "--limit", "0"]))
      assert.strictEqual(zero.code, 2, zero.stderr)
      assert.include(zero.stderr, `--limit takes an integer from 1, got "0"`)
      assert.include((yield* Effect.promise(() => cli(["dead-letters", "list", "--state-path", state]))).stdout, "400: Event has too many columns.")

      const replay = yield* Effect.promise(() => cli(["dead-letters", "replay"], {
        env: { EVENT_VACUUM_STATE_PATH: state, EVENT_VACUUM_CONSOLE_FORMAT: "json", EVENT_VACUUM_FLUSH_INTERVAL: "10 millis" }
      }))
      assert.strictEqual(replay.code, 0, replay.stderr)
      assert.include(replay.stderr, "1 dead letter(s) back in the outbox")
      assert.deepStrictEqual(lines(replay.stdout).map((l) => JSON.parse(l).data.Action), ["Refused"])
      assert.include((yield* Effect.promise(() => cli(["dead-letters", "list", "--state-path", state]))).stdout, "no dead letters")
    }), { timeout: 90_000 })

  it("says so when there is no state file", async () => {
    const r = await cli(["status", "--state-path", "/nonexistent/state.db"])
    assert.strictEqual(r.code, 1)
    assert.include(r.stderr, "no state file at /nonexistent/state.db")
  })
})

describe("event-vacuum --help", () => {
  it("documents every command and every setting's flag", async () => {
    const top = await cli(["--help"])
    assert.strictEqual(top.code, 0)
    for (const c of ["run", "extract", "status", "dead-letters list", "dead-letters replay"]) assert.include(top.stdout, `  ${c}`)
    const run = await cli(["run", "--help"])
    for (const flag of ["--state-path", "--transports", "--honeycomb-api-key", "--batch-max-events", "EVENT_VACUUM_STATE_PATH"]) {
      assert.include(run.stdout, flag)
    }
    assert.include((await cli(["dead-letters", "replay", "--help"])).stdout, "--sink")
  })

  it("reads like a well-kept CLI's: plain text when piped, one setting a line with its value and default, in groups", async () => {
    const run = await cli(["run", "--help"])
    assert.strictEqual(run.code, 0, run.stderr)
    assert.notInclude(run.stdout, "\x1b", "no ANSI escapes in a pipe")
    assert.notInclude(run.stdout, "A user-defined piece of text")
    assert.match(run.stdout, /^Usage: event-vacuum run \[FILE\] \[options\]\n/)
    const shown = lines(run.stdout)
    for (const line of shown) assert.isAtMost(line.length, 100, line)
    // Each setting starts a line of its own: flag, what its value is, its doc, its default (the CLI's own for enabled).
    for (const s of settings.filter((x) => !Object.values(followSettings).includes(x as never))) {
      const at = shown.findIndex((l) => l.startsWith(`  --${s.flag} ${s.value}`))
      assert.notStrictEqual(at, -1, s.flag)
      let entry = shown[at]!
      for (let k = at + 1; k < shown.length && /^ {4,}\S/.test(shown[k]!); k++) entry += " " + shown[k]!.trim()
      assert.include(entry.replace(/\s+/g, " "), s.doc.replace(/\s+/g, " "), s.flag)
      const fallback = s.env === "EVENT_VACUUM_ENABLED" ? "true" : s.shown
      if (fallback !== undefined) assert.include(entry.replace(/\s+/g, " "), `[default: ${fallback}]`, s.flag)
    }
    assert.include(run.stdout, "  --enabled <true|false>")
    assert.include(run.stdout, "  --console-format <pretty|json>")
    // Grouped, each group naming how its flags are env variables.
    assert.include(run.stdout, "State (--state-path is EVENT_VACUUM_STATE_PATH):")
    assert.include(run.stdout, "Honeycomb sink (--honeycomb-api-key is HONEYCOMB_API_KEY):")
    // A setting takes a line, its doc wrapped under it in at most two more: no setting is an essay.
    const listed = settings.filter((x) => !Object.values(followSettings).includes(x as never)).length
    assert.isBelow(shown.length, 2 * listed + 30)
  })
})

describe("event-vacuum's command line", () => {
  it("takes options before or after the file, and stdin as -", async () => {
    const dir = tempDir()
    const out = path.join(dir, "out.ndjson")
    const r = await cli(["run", "-", "--state-path", path.join(dir, "s.db"), "--transports=file", "--file-path", out], {
      input: fs.readFileSync(example, "utf8")
    })
    assert.strictEqual(r.code, 0, r.stderr)
    assert.strictEqual(lines(fs.readFileSync(out, "utf8")).length, 121)
    const status = await cli(["status", "--json", "--state-path", path.join(dir, "s.db")])
    assert.strictEqual(status.code, 0, status.stderr)
    assert.include(status.stdout, `"sink":"file"`)
  })

  it("names what it does not know, with the nearest it does, and exits 2 before touching any state", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    const state = path.join(dir, "s.db")
    const cases: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
      [["run", "--bogus-flag", "x"], "unknown option --bogus-flag for run"],
      [["run", "--stat-path", "x"], "unknown option --stat-path for run; did you mean --state-path?"],
      [["rn"], `unknown command "rn"; did you mean run?`],
      [["dead-letters"], "dead-letters needs a command: list, replay"],
      [["run", "a", "b"], `run takes at most FILE, got "a" "b"`],
      [["run", "--state-path"], "--state-path needs a value"],
      [["status", "--lease", "3"], "unknown option --lease for status"],
      [["dead-letters", "replay", "x"], `SEQ takes integers from 1, got "x"`],
      [["run", "--log-level", "loud"], "--log-level takes one of all, trace"]
    ]
    for (const [args, said] of cases) {
      const r = await cli(args, { env: { EVENT_VACUUM_STATE_PATH: state } })
      assert.strictEqual(r.code, 2, `${args.join(" ")}: ${r.stderr}`)
      assert.strictEqual(r.stdout, "", args.join(" "))
      assert.isTrue(lines(r.stderr)[0]!.startsWith(`event-vacuum: ${said}`), r.stderr)
      assert.include(r.stderr, "--help", args.join(" "))
    }
    // A bad setting is found before the state file is made.
    const lease = await cli(["run", example, "--lease", "0 seconds"], { env: { EVENT_VACUUM_STATE_PATH: state } })
    assert.strictEqual(lease.code, 1, lease.stderr)
    assert.include(lease.stderr, "bad setting EVENT_VACUUM_LEASE")
    assert.isFalse(fs.existsSync(state))
  })
})

/** Following into the file sink: its settings (a state file, a short poll) and the lines written so far. */
const intoFile = (dir: string, poll: string) => {
  const out = path.join(dir, "events.ndjson")
  return {
    env: {
      EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db"),
      EVENT_VACUUM_TRANSPORTS: "file",
      EVENT_VACUUM_FILE_PATH: out,
      EVENT_VACUUM_CU_DB_POLL: poll,
      EVENT_VACUUM_FLUSH_INTERVAL: "10 millis"
    },
    written: () => (fs.existsSync(out) ? lines(fs.readFileSync(out, "utf8")) : [])
  }
}

describe("event-vacuum follow", () => {
  it("sends the CU's evaluations table once (--once), then nothing new; a missing database opens no state", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    const { db, dbUrl } = makeCuDb()
    for (const r of exampleRecords()) if (r.readOnly !== true) saveEvaluation(db, r)
    const env = { EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db"), EVENT_VACUUM_CONSOLE_FORMAT: "json" }
    const first = await spawnCli(["follow", dbUrl, "--once"], env).exited
    assert.strictEqual(first.code, 0, first.stderr)
    assert.strictEqual(lines(first.stdout).length, 121)
    assert.include(first.stderr, "122 rows of 2 processes, 0 with an output that is not JSON")
    assert.include(first.stderr, "console: 121 delivered, 0 seen before, 0 waiting, 0 dead-lettered")
    const again = await spawnCli(["follow", "--once"], { ...env, EVENT_VACUUM_CU_DB: dbUrl }).exited
    assert.strictEqual(again.code, 0, again.stderr)
    assert.strictEqual(again.stdout, "")
    assert.include(again.stderr, "0 rows of 0 processes")

    const empty = makeCuDb()
    const none = await spawnCli(["follow", empty.dbUrl, "--once"], env).exited
    assert.strictEqual(none.code, 0, none.stderr)
    assert.include(
      none.stderr,
      `event-vacuum: the evaluations table of ${empty.file} is empty: a CU writes none with DISABLE_PROCESS_EVALUATION_CACHE set (or has evaluated nothing yet)`
    )

    const state = path.join(dir, "never.db")
    const missing = await spawnCli(["follow", path.join(dir, "nope"), "--once"], { EVENT_VACUUM_STATE_PATH: state }).exited
    assert.strictEqual(missing.code, 1)
    assert.strictEqual(lines(missing.stderr).join("\n"), `event-vacuum: EVENT_VACUUM_CU_DB: no CU database at ${path.join(dir, "nope")} (nor ${path.join(dir, "nope")}.sqlite)`)
    assert.isFalse(fs.existsSync(state))
  })

  it("follows rows written while it runs, and SIGTERM drains and exits 143", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    const { db, dbUrl } = makeCuDb()
    const following = intoFile(dir, "50 millis")
    const child = spawnCli(["follow", dbUrl], following.env)
    // The CU writes after the follower has started, in bursts.
    const records = exampleRecords().filter((r) => r.readOnly !== true)
    for (let i = 0; i < records.length; i += 20) {
      db.transaction(() => {
        for (const r of records.slice(i, i + 20)) saveEvaluation(db, r)
      })()
      await sleep(50)
    }
    const written = () => following.written().length
    for (let waited = 0; written() < 121 && waited < 30_000; waited += 50) await sleep(50)
    child.kill("SIGTERM")
    const r = await child.exited
    assert.strictEqual(r.code, 143, r.stderr)
    assert.strictEqual(written(), 121)
    assert.include(r.stderr, "file: 121 delivered, 0 seen before, 0 waiting")
    assert.include(r.stderr, "stopped by SIGTERM; every event read was delivered")
  })

  it("follows a PostgreSQL CU database: --once, again nothing; stopped mid-way by SIGTERM, the rerun sends the rest, nothing twice", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    const cu = await makePgCuDb()
    try {
      const copies = [0, 1, 2].flatMap((n) =>
        exampleRecords()
          .filter((r) => r.readOnly !== true)
          .map((r) => ({ ...r, ordinate: String(Number(r.ordinate) + n * 1000), timestamp: (r.timestamp as number) + n * 1e7 }))
      )
      await cu.save(copies.slice(0, 122))
      const { env, written } = intoFile(dir, "50 millis")
      const first = await spawnCli(["follow", cu.dbUrl.replace("postgres@", "postgres:s3cret@"), "--once"], env).exited
      assert.strictEqual(first.code, 0, first.stderr)
      assert.strictEqual(written().length, 121)
      assert.include(first.stderr, `followed postgres://postgres@127.0.0.1:5432/${cu.name}: 122 rows of 2 processes`)
      assert.notInclude(first.stderr, "s3cret")
      const again = await spawnCli(["follow", "--once"], { ...env, EVENT_VACUUM_CU_DB: cu.dbUrl }).exited
      assert.strictEqual(again.code, 0, again.stderr)
      assert.include(again.stderr, "0 rows of 0 processes")
      assert.strictEqual(written().length, 121)

      // Following while the CU writes the rest; stopped mid-way; a rerun picks up where it was.
      const child = spawnCli(["follow", cu.dbUrl], env)
      for (let i = 122; i < copies.length; i += 10) {
        await cu.save(copies.slice(i, i + 10))
        if (i === 182) {
          for (let waited = 0; written().length <= 121 && waited < 30_000; waited += 20) await sleep(20)
          child.kill("SIGTERM")
        }
        await sleep(10)
      }
      const stopped = await child.exited
      assert.strictEqual(stopped.code, 143, stopped.stderr)
      assert.isBelow(written().length, 363)
      const rest = await spawnCli(["follow", cu.dbUrl, "--once"], env).exited
      assert.strictEqual(rest.code, 0, rest.stderr)
      const ids = written().map((l) => (JSON.parse(l) as { data: { eventId: string } }).data.eventId)
      assert.strictEqual(ids.length, 363)
      assert.strictEqual(new Set(ids).size, 363)
    } finally {
      await cu.close()
    }
  })

  it("follows rows written while it runs, and SIGINT drains and exits 130", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    const { db, dbUrl } = makeCuDb()
    const records = exampleRecords().filter((r) => r.readOnly !== true)
    for (const r of records.slice(0, 60)) saveEvaluation(db, r)
    // A flush interval of a minute: only the drain at the signal can deliver in time.
    const following = intoFile(dir, "50 millis")
    const child = spawnCli(["follow", dbUrl], { ...following.env, EVENT_VACUUM_FLUSH_INTERVAL: "1 minute" })
    await sleep(500)
    for (const r of records.slice(60)) saveEvaluation(db, r)
    // Every row read and its events stored, none sent yet.
    const status = async () => (await cli(["status", "--state-path", following.env.EVENT_VACUUM_STATE_PATH])).stdout
    for (let waited = 0; !(await status()).includes("file: 121 waiting") && waited < 30_000; waited += 100) await sleep(100)
    assert.strictEqual(following.written().length, 0)
    child.kill("SIGINT")
    const r = await child.exited
    assert.strictEqual(r.code, 130, r.stderr)
    assert.strictEqual(following.written().length, 121)
    assert.include(r.stderr, "122 rows of 2 processes")
    assert.include(r.stderr, "file: 121 delivered, 0 seen before, 0 waiting")
    assert.include(r.stderr, "stopped by SIGINT; every event read was delivered")
  })

  it("--process (again for more) reads only those processes; the others' rows wait for a run that reads them", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    const { db, dbUrl } = makeCuDb()
    // The example's two processes and a third, its records under another id.
    const [p0, p1, p2] = ["XPROC0_pppppppppppppppppppppppppppppppppppp", "XPROC1_pppppppppppppppppppppppppppppppppppp", "XPROC2_pppppppppppppppppppppppppppppppppppp"]
    const records = exampleRecords().filter((r) => r.readOnly !== true)
    const all = [...records, ...records.filter((r) => r.processId === p1).map((r) => ({ ...r, processId: p2 }))]
    for (const r of all) saveEvaluation(db, r)
    const expected = expectedEvents(all)
    const of = (processes: ReadonlyArray<string>) =>
      [...expected.keys()].filter((id) => processes.includes((JSON.parse(expected.get(id)!) as { processId: string }).processId)).sort()
    const following = intoFile(dir, "50 millis")
    const delivered = () => following.written().map((l) => (JSON.parse(l) as { data: { eventId: string } }).data.eventId)
    const two = await spawnCli(["follow", dbUrl, "--once", "--process", p2, "--process", p0], following.env).exited
    assert.strictEqual(two.code, 0, two.stderr)
    // p0's rows and p2's (p1's, copied): as many as the example's.
    assert.include(two.stderr, `${records.length} rows of 2 processes`)
    assert.deepStrictEqual([...delivered()].sort(), of([p0, p2]))
    assert.isAbove(of([p1]).length, 0)
    // One process again: it was read, nothing new.
    const again = await spawnCli(["follow", dbUrl, "--once", "--process", p0], following.env).exited
    assert.strictEqual(again.code, 0, again.stderr)
    assert.include(again.stderr, "0 rows of 0 processes")
    // Without --process: only the one left out.
    const rest = await spawnCli(["follow", dbUrl, "--once"], following.env).exited
    assert.strictEqual(rest.code, 0, rest.stderr)
    assert.include(rest.stderr, `${records.filter((r) => r.processId === p1).length} rows of 1 processes`)
    assert.deepStrictEqual([...delivered()].sort(), of([p0, p1, p2]))
    assert.strictEqual(new Set(delivered()).size, delivered().length)
  })

  it("one CU database however it is named (its DB_URL relative, its file's absolute path, a link) keeps one cursor; a state of an earlier version is taken up", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    const { db, dbUrl, file } = makeCuDb()
    for (const r of exampleRecords()) if (r.readOnly !== true) saveEvaluation(db, r)
    const following = intoFile(dir, "50 millis")
    // The CU's DB_URL relative to where the follower runs, as an operator beside it may give it.
    const parent = path.dirname(path.dirname(dbUrl))
    const relative = path.relative(parent, dbUrl)
    const first = await cli(["follow", relative, "--once"], { env: following.env, cwd: parent })
    assert.strictEqual(first.code, 0, first.stderr)
    assert.include(first.stderr, `followed ${relative}.sqlite: 122 rows of 2 processes`)
    assert.strictEqual(following.written().length, 121)
    const absolute = await spawnCli(["follow", file, "--once"], following.env).exited
    assert.strictEqual(absolute.code, 0, absolute.stderr)
    assert.include(absolute.stderr, "0 rows of 0 processes")
    const link = path.join(dir, "cu-link")
    fs.symlinkSync(path.dirname(file), link)
    const linked = await spawnCli(["follow", path.join(link, "ao-cache"), "--once"], following.env).exited
    assert.include(linked.stderr, "0 rows of 0 processes")
    assert.strictEqual(following.written().length, 121)

    // A state file an earlier version wrote: its cursors under the name it was given (here, relative).
    const state = path.join(dir, "earlier.db")
    const cursors = await Effect.runPromise(Effect.flatMap(DedupeStore, (store) => store.cursors(fs.realpathSync(file))).pipe(
      Effect.provide(Sqlite.layer({ filename: following.env.EVENT_VACUUM_STATE_PATH }))
    ))
    await Effect.runPromise(Effect.flatMap(DedupeStore, (store) =>
      Effect.forEach(cursors, ([processId, cursor]) => store.moveCursor(`${relative}.sqlite`, processId, cursor), { discard: true })).pipe(
      Effect.provide(Sqlite.layer({ filename: state }))
    ))
    assert.strictEqual(cursors.size, 2)
    const earlier = await cli(["follow", relative, "--once"], { env: { ...following.env, EVENT_VACUUM_STATE_PATH: state }, cwd: parent })
    assert.strictEqual(earlier.code, 0, earlier.stderr)
    assert.include(earlier.stderr, "0 rows of 0 processes")
    assert.strictEqual(following.written().length, 121)
  })

  it("a CU database it cannot read, or a table that changes while it follows, stops it with one line naming the setting", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    const state = path.join(dir, "never.db")
    const missing = await spawnCli(["follow", "postgres://postgres:s3cret@127.0.0.1:5432/event_vacuum_no_such_db", "--once"], {
      EVENT_VACUUM_STATE_PATH: state
    }).exited
    assert.strictEqual(missing.code, 1)
    assert.strictEqual(
      lines(missing.stderr).join("\n"),
      `event-vacuum: EVENT_VACUUM_CU_DB: cannot connect to postgres://postgres@127.0.0.1:5432/event_vacuum_no_such_db: database "event_vacuum_no_such_db" does not exist`
    )
    assert.isFalse(fs.existsSync(state))

    const { db, dbUrl, file } = makeCuDb()
    const records = exampleRecords().filter((r) => r.readOnly !== true)
    for (const r of records.slice(0, 60)) saveEvaluation(db, r)
    const following = intoFile(dir, "20 millis")
    const child = spawnCli(["follow", dbUrl], following.env)
    const written = () => following.written().length
    for (let waited = 0; written() === 0 && waited < 30_000; waited += 20) await sleep(20)
    db.prepare("ALTER TABLE evaluations DROP COLUMN output").run()
    const r = await child.exited
    assert.strictEqual(r.code, 1, r.stderr)
    const said = lines(r.stderr)
    assert.strictEqual(
      said[said.length - 1],
      `event-vacuum: EVENT_VACUUM_CU_DB: the evaluations table of ${file} changed while it was followed: it lacks output now`
    )
    assert.include(r.stderr, `event-vacuum: followed ${file}: 60 rows of`)
    assert.isAbove(written(), 0)
  })
})

describe("event-vacuum for processes you do not control", () => {
  const P0 = "XPROC0_pppppppppppppppppppppppppppppppppppp"
  const P1 = "XPROC1_pppppppppppppppppppppppppppppppppppp"
  const P2 = "XPROC2_pppppppppppppppppppppppppppppppppppp"

  it("an allowlist file and a budget: the summary, status and status --processes say who was left out and who is sampled", { timeout: 90_000 }, async () => {
    const dir = tempDir()
    // The example, and its second process's records again as a third process's.
    const input = path.join(dir, "three.ndjson")
    fs.writeFileSync(input, exampleRecords().flatMap((r) => (r.processId === P1 ? [r, { ...r, processId: P2 }] : [r])).map((r) => JSON.stringify(r)).join("\n") + "\n")
    const list = path.join(dir, "allowed.txt")
    fs.writeFileSync(list, `# ours\n${P0}\n${P1}\n`)
    const env = {
      EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db"),
      EVENT_VACUUM_TRANSPORTS: "file",
      EVENT_VACUUM_FILE_PATH: path.join(dir, "out.ndjson"),
      EVENT_VACUUM_PROCESSES: `@${list}`,
      EVENT_VACUUM_BUDGET_EVENTS: "5"
    }
    const run = await cli(["run", input], { env })
    assert.strictEqual(run.code, 0, run.stderr)
    const kept = lines(fs.readFileSync(env.EVENT_VACUUM_FILE_PATH, "utf8")).map((l) => JSON.parse(l) as { data: { processId: string } })
    assert.deepStrictEqual([...new Set(kept.map((e) => e.data.processId))].sort(), [P0, P1])
    const third = exampleRecords().filter((r) => r.processId === P1 && r.readOnly !== true).length
    assert.include(run.stderr, `read-only skipped, ${third} of processes not allowed)`)
    assert.match(run.stderr, new RegExp(`file: ${kept.length} delivered, 0 seen before, 0 waiting, 0 dead-lettered, ${121 - kept.length} sampled \\(over budget now: XPROC\\d_p+ 1 in \\d+, XPROC\\d_p+ 1 in \\d+\\)`))

    const status = await cli(["status"], { env })
    assert.strictEqual(status.code, 0, status.stderr)
    assert.match(status.stdout, new RegExp(`  over budget: ${P0} sampled 1 in \\d+ \\(as of [^)]+\\), \\d+ of \\d+ events dropped by sampling`))

    const top = await cli(["status", "--processes"], { env })
    assert.strictEqual(top.code, 0, top.stderr)
    const said = lines(top.stdout)
    assert.strictEqual(said[0], "the 3 process(es) with the most events in this state, each evaluation counted at its first hand-off:")
    assert.include(top.stdout, `${P2}  0 evaluations with events, 0 events, 0 B; ${third} evaluations not allowed (counted each time evaluated)`)
    for (const p of [P0, P1]) {
      const mine = kept.filter((e) => e.data.processId === p).length
      assert.match(top.stdout, new RegExp(`${p}  \\d+ evaluations with events, \\d+ events, [\\d.]+ kB\\n  file: ${mine} of \\d+ events kept, \\d+ sampled, over budget: 1 in \\d+ now`))
    }
    // Run again on the same state: nothing delivered, and the totals of what was handed off stay as they were.
    const rerun = await cli(["run", input], { env })
    assert.strictEqual(rerun.code, 0, rerun.stderr)
    assert.include(rerun.stderr, "file: 0 delivered, 121 seen before, 0 waiting, 0 dead-lettered")
    const after = await cli(["status", "--processes"], { env })
    assert.strictEqual(after.code, 0, after.stderr)
    assert.strictEqual(after.stdout, top.stdout.replace(`; ${third} evaluations not allowed`, `; ${2 * third} evaluations not allowed`))
    const byBytes = await cli(["status", "--processes", "--by", "bytes", "--limit", "1", "--json"], { env })
    assert.strictEqual(byBytes.code, 0, byBytes.stderr)
    const rows = lines(byBytes.stdout).map((l) => JSON.parse(l) as { sink: string; processId: string; bytes: number })
    assert.strictEqual(rows.filter((r) => r.sink === "").length, 1)
    const bad = await cli(["status", "--processes", "--by", "size"], { env })
    assert.strictEqual(bad.code, 2)
    assert.include(bad.stderr, `--by takes events or bytes, got "size"`)

    const wrong = await cli(["run", input], { env: { ...env, EVENT_VACUUM_STATE_PATH: path.join(dir, "never.db"), EVENT_VACUUM_EXCLUDE_PROCESSES: "XPROC9" } })
    assert.strictEqual(wrong.code, 1)
    assert.include(wrong.stderr, `bad setting EVENT_VACUUM_EXCLUDE_PROCESSES: "XPROC9" (the 1st) is not a process id (43 characters of A-Z a-z 0-9 _ -)`)
    assert.isFalse(fs.existsSync(path.join(dir, "never.db")))
    // A list file that does not read is refused with the other settings, before any state is made.
    for (const [key, flag] of [["EVENT_VACUUM_PROCESSES", "processes"], ["EVENT_VACUUM_FILE_EXCLUDE_PROCESSES", "file-exclude-processes"]] as const) {
      const missing = path.join(dir, "gone.txt")
      const unread = await cli(["run", input], { env: { ...env, EVENT_VACUUM_STATE_PATH: path.join(dir, "never.db"), [key]: `@${missing}` } })
      assert.strictEqual(unread.code, 1)
      assert.strictEqual(unread.stderr, `event-vacuum: bad setting ${key}: cannot read @${missing}: no such file, got "@${missing}" (flag --${flag})\n`)
      assert.isFalse(fs.existsSync(path.join(dir, "never.db")))
    }
  })
})

describe("event-vacuum on a PostgreSQL state", () => {
  it("run delivers once and a rerun sends nothing; status and dead-letters read it; a wrong URL is one line, no password", { timeout: 90_000 }, async () => {
    const db = makeDatabase("event_vacuum_cli")
    try {
      const dir = tempDir()
      const out = path.join(dir, "events.ndjson")
      const env = {
        EVENT_VACUUM_STATE_URL: db.url.replace("postgres@", "postgres:s3cret@"),
        EVENT_VACUUM_TRANSPORTS: "file",
        EVENT_VACUUM_FILE_PATH: out,
        EVENT_VACUUM_FLUSH_INTERVAL: "10 millis"
      }
      const first = await cli(["run", example], { env, cwd: dir })
      assert.strictEqual(first.code, 0, first.stderr)
      assert.strictEqual(lines(fs.readFileSync(out, "utf8")).length, 121)
      assert.include(first.stderr, "file: 121 delivered, 0 seen before, 0 waiting")
      // No state file was made: the state is the database's.
      assert.isFalse(fs.existsSync(path.join(dir, ".event-vacuum")))
      const again = await cli(["run", example], { env })
      assert.strictEqual(again.code, 0, again.stderr)
      assert.include(again.stderr, "file: 0 delivered, 121 seen before")
      assert.strictEqual(lines(fs.readFileSync(out, "utf8")).length, 121)
      const status = await cli(["status", "--state-url", env.EVENT_VACUUM_STATE_URL], {})
      assert.strictEqual(status.code, 0, status.stderr)
      assert.include(status.stdout, "file: 0 waiting")
      assert.include(status.stdout, "XPROC0_pppppppppppppppppppppppppppppppppppp: up to")
      assert.strictEqual(psql("SELECT count(*) FROM event_vacuum.event_vacuum_watermark", db.name).trim(), "2")
      const dead = await cli(["dead-letters", "list"], { env })
      assert.strictEqual(dead.code, 0, dead.stderr)
      assert.strictEqual(dead.stdout, "no dead letters\n")
      for (const r of [first, again, status, dead]) assert.notInclude(r.stdout + r.stderr, "s3cret")

      const wrong = await cli(["run", example], { env: { ...env, EVENT_VACUUM_STATE_URL: "postgres://postgres:s3cret@127.0.0.1:5432/event_vacuum_no_such" } })
      assert.strictEqual(wrong.code, 1)
      assert.strictEqual(
        lines(wrong.stderr).join("\n"),
        `event-vacuum: state store: open failed: EVENT_VACUUM_STATE_URL (postgres://postgres@127.0.0.1:5432/event_vacuum_no_such): database "event_vacuum_no_such" does not exist`
      )
      const refused = await cli(["status"], { env: { EVENT_VACUUM_STATE_URL: "postgres://postgres:s3cret@127.0.0.1:1/x" } })
      assert.strictEqual(refused.code, 1)
      assert.include(refused.stderr, "EVENT_VACUUM_STATE_URL (postgres://postgres@127.0.0.1:1/x): connect ECONNREFUSED 127.0.0.1:1")
      assert.notInclude(wrong.stderr + refused.stderr, "s3cret")
    } finally {
      db.drop()
    }
  })
})
