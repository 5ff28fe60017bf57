/**
 * Throughput as an operator feels it: `event-vacuum run FILE` into a loopback
 * Honeycomb-compatible receiver, timed from its process start to its exit,
 * beside a plain libhoney sender (bench/throughput-libhoney.mjs) over the same
 * file into the same kind of receiver, timed from its start to its exit after
 * `flush()`. Healthy, then with 5% of requests 503 and 5% 429. Both run under
 * plain node; the receiver runs here, in the parent, each contender getting a
 * fresh one so that counts never mix.
 *
 * The rate is what the receiver accepted (distinct events) over the whole
 * run: events lost do not count.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { FakeHoneycomb } from "../test/support/honeycomb.js"
import { builtBin, cleanEnv, eventsPerCopy, writeCopies } from "./cli.js"
import { exampleRecords } from "./corpus.js"
import { injectedFaults, type Scenario } from "./delivery.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const KEY = "bench-key-0123456789abcdef"

export interface ThroughputRun {
  /** Distinct events the receiver accepted. */
  readonly accepted: number
  /** Events in the input (what an exact sender delivers). */
  readonly events: number
  readonly lost: number
  readonly duplicates: number
  /** Process start to exit. */
  readonly seconds: number
  readonly eventsPerSec: number
  readonly exitCode: number | null
}

export interface ThroughputResult {
  readonly events: number
  readonly records: number
  readonly rounds: number
  readonly healthy: { readonly ours: ThroughputRun; readonly libhoney: ThroughputRun }
  readonly faults: { readonly ours: ThroughputRun; readonly libhoney: ThroughputRun }
}

const timed = (args: ReadonlyArray<string>, env: NodeJS.ProcessEnv): Promise<{ seconds: number; code: number | null; stderr: string }> =>
  new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { env, stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s))
    const timer = setTimeout(() => child.kill("SIGKILL"), 300_000)
    child.on("error", reject)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ seconds: Number(process.hrtime.bigint() - start) / 1e9, code, stderr })
    })
  })

const one = async (who: "ours" | "libhoney", scenario: Scenario, input: string, events: number, dir: string): Promise<ThroughputRun> => {
  const hc = await FakeHoneycomb.start(KEY)
  try {
    if (scenario === "faults") hc.fault = injectedFaults(0x5eed)
    const state = fs.mkdtempSync(path.join(dir, "state-"))
    const r = who === "ours"
      ? await timed([builtBin(), "run", input], {
        ...cleanEnv(),
        EVENT_VACUUM_TRANSPORTS: "honeycomb",
        EVENT_VACUUM_STATE_PATH: path.join(state, "state.db"),
        HONEYCOMB_API_HOST: hc.url,
        HONEYCOMB_API_KEY: KEY,
        HONEYCOMB_DATASET: "bench"
      })
      : await timed([path.join(here, "throughput-libhoney.mjs"), input, hc.url, KEY], cleanEnv())
    if (who === "ours" && r.code !== 0) throw new Error(`throughput bench: event-vacuum run exited ${r.code}\n${r.stderr.slice(-2000)}`)
    const distinct = new Set(hc.ids).size
    return {
      accepted: distinct,
      events,
      lost: events - distinct,
      duplicates: hc.accepted.length - distinct,
      seconds: r.seconds,
      eventsPerSec: distinct / r.seconds,
      exitCode: r.code
    }
  } finally {
    await hc.close()
  }
}

/** The example copied to about 42,700 events (4,270 with `quick`); the best of 3 rounds each (1 with `quick`). */
export const runThroughputBench = async (options: { readonly quick: boolean }): Promise<ThroughputResult> => {
  const base = exampleRecords() as Array<Record<string, unknown>>
  const perCopy = eventsPerCopy(base)
  const copies = Math.ceil((options.quick ? 4_270 : 42_700) / perCopy)
  const rounds = options.quick ? 1 : 3
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-throughput-"))
  try {
    const input = path.join(dir, "records.ndjson")
    writeCopies(input, base, copies)
    const events = copies * perCopy
    const best = async (who: "ours" | "libhoney", scenario: Scenario) => {
      let top: ThroughputRun | undefined
      for (let round = 0; round < rounds; round++) {
        const run = await one(who, scenario, input, events, dir)
        if (top === undefined || run.eventsPerSec > top.eventsPerSec) top = run
      }
      return top!
    }
    const pair = async (scenario: Scenario) => ({ ours: await best("ours", scenario), libhoney: await best("libhoney", scenario) })
    const healthy = await pair("healthy")
    const faults = await pair("faults")
    return { events, records: copies * base.length, rounds, healthy, faults }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

/** The table: each contender's accepted events/s start to exit, its losses, and the targets. */
export const printThroughputTable = (r: ThroughputResult): void => {
  const k = (n: number) => `${(n / 1000).toFixed(1)}k events/s`
  const row = (name: string, run: ThroughputRun) =>
    `  ${name.padEnd(44)}${k(run.eventsPerSec).padStart(16)}  ${run.seconds.toFixed(2)} s, ${run.accepted} accepted, ${run.lost} lost, ${run.duplicates} duplicates`
  console.log(
    `\nThroughput, start to exit: ${r.events} events (${r.records} records) from one file into a loopback Honeycomb receiver, ` +
      `each contender a plain node process (best of ${r.rounds})`
  )
  console.log(row("event-vacuum run, healthy", r.healthy.ours))
  console.log(row("libhoney sender, healthy", r.healthy.libhoney))
  console.log(row("event-vacuum run, 5% 503 + 5% 429", r.faults.ours))
  console.log(row("libhoney sender, 5% 503 + 5% 429", r.faults.libhoney))
  const ratio = (a: ThroughputRun, b: ThroughputRun) => (b.eventsPerSec > 0 ? a.eventsPerSec / b.eventsPerSec : Infinity)
  const targets: Array<[string, string, boolean]> = [
    ["ours / libhoney, healthy (target >= 2x)", `${ratio(r.healthy.ours, r.healthy.libhoney).toFixed(2)}x`, ratio(r.healthy.ours, r.healthy.libhoney) >= 2],
    ["ours / libhoney, faults (target >= 2x)", `${ratio(r.faults.ours, r.faults.libhoney).toFixed(2)}x`, ratio(r.faults.ours, r.faults.libhoney) >= 2],
    ["ours lost, healthy and faults (target 0)", String(r.healthy.ours.lost + r.faults.ours.lost), r.healthy.ours.lost + r.faults.ours.lost === 0]
  ]
  for (const [name, value, met] of targets) console.log(`  ${name.padEnd(44)}${value.padStart(16)}  ${met ? "met" : "NOT met"}`)
}
