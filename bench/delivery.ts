/**
 * Delivery end to end, ours against libhoney 4.3.1, in the same run: the same
 * events fed at the same rate into a loopback Honeycomb-compatible receiver
 * (test/support/honeycomb.ts), once healthy and once answering 5% of requests
 * 503 and 5% 429.
 *
 * Each contender runs in its own child process (bench/delivery-ours.ts,
 * bench/delivery-libhoney.ts) so that its peak RSS is its own, and gets a
 * fresh receiver so that the counts never mix. The receiver runs here, in
 * the parent, on the other core.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import type { Fault } from "../test/support/honeycomb.js"
import { FakeHoneycomb } from "../test/support/honeycomb.js"
import type { ChildReport } from "./delivery-feed.js"

export type Contender = "ours" | "libhoney"
export type Scenario = "healthy" | "faults"

export interface ContenderResult {
  /** Events handed to the contender. */
  readonly sent: number
  /** Distinct events the receiver accepted. */
  readonly accepted: number
  /** Acceptances beyond the first of an event. */
  readonly duplicates: number
  /** Events sent but never accepted: `sent - accepted`. */
  readonly lost: number
  /** `accepted / seconds`. */
  readonly eventsPerSec: number
  /** Bytes of every request body the receiver got (refused ones too), per accepted event. */
  readonly wireBytesPerEvent: number
  /** The child's peak RSS, module loading (tsx, Effect) included. */
  readonly peakRssMB: number
  /** The child's RSS just before its first event, everything loaded and the feed prepared: what the peak grew from. */
  readonly startRssMB: number
  /** From the first event handed over to the receiver's last acceptance. */
  readonly seconds: number
  /** How long handing the events over took (the target is `sent / rate`). */
  readonly feedSeconds: number
  /** Whether the contender said it was done (drain, flush) before the cap. */
  readonly finished: boolean
  /** Requests the receiver got. */
  readonly requests: number
}

export interface DeliveryResult {
  /** Events fed to each contender. */
  readonly events: number
  /** Target feed rate, events per second. */
  readonly rate: number
  readonly healthy: Readonly<Record<Contender, ContenderResult>>
  readonly faults: Readonly<Record<Contender, ContenderResult>>
}

const KEY = "bench-key-0123456789abcdef"
const RATE = 100_000
const here = path.dirname(fileURLToPath(import.meta.url))
const scripts: Record<Contender, string> = {
  ours: path.join(here, "delivery-ours.ts"),
  libhoney: path.join(here, "delivery-libhoney.ts")
}

/**
 * 5% of requests 503, 5% 429, decided by the request's number through a
 * seeded hash: the same requests fail on every run, for either contender.
 */
export const injectedFaults = (seed: number) => (n: number): Fault | undefined => {
  // An integer hash (a murmur3-style finalizer): a well-mixed uniform number from (seed, n).
  let h = (seed + Math.imul(n, 0x9e3779b9)) | 0
  h = Math.imul(h ^ (h >>> 16), 0x21f0aaad)
  h = Math.imul(h ^ (h >>> 15), 0x735a2d97)
  const u = ((h ^ (h >>> 15)) >>> 0) / 2 ** 32
  if (u < 0.05) return { kind: "status", status: 503 }
  if (u < 0.10) return { kind: "status", status: 429, body: "{\"error\":\"rate limited\"}" }
  return undefined
}

/** Runs a child to its end; resolves with its report, rejects with its output when it fails or overstays. */
const runChild = (script: string, args: ReadonlyArray<string>, killAfterMillis: number): Promise<ChildReport> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, ...args], {
      // `--import tsx` resolves from the working directory: the package root.
      cwd: path.join(here, ".."),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s))
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s))
    const timer = setTimeout(() => child.kill("SIGKILL"), killAfterMillis)
    child.on("error", reject)
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      // Logs may share stdout with the report: take the tagged line.
      for (const line of stdout.split("\n")) {
        if (!line.startsWith("{\"deliveryReport\"")) continue
        return resolve((JSON.parse(line) as { deliveryReport: ChildReport }).deliveryReport)
      }
      const tail = (s: string) => s.split("\n").slice(-20).join("\n")
      reject(new Error(`${path.basename(script)} ended (${signal ?? `exit ${code}`}) without a report\n${tail(stdout)}\n${tail(stderr)}`))
    })
  })

const runOne = async (contender: Contender, scenario: Scenario, events: number, capMillis: number): Promise<ContenderResult> => {
  const hc = await FakeHoneycomb.start(KEY)
  try {
    if (scenario === "faults") hc.fault = injectedFaults(0x5eed)
    let lastAcceptAt = 0
    hc.onRequest = (_, accepted) => {
      if (accepted > 0) lastAcceptAt = Date.now()
    }
    const child = await runChild(
      scripts[contender],
      ["--url", hc.url, "--key", KEY, "--events", String(events), "--rate", String(RATE), "--cap-ms", String(capMillis)],
      // The child enforces the cap itself; this only stops one that hangs past it.
      capMillis + 60_000
    )
    const distinct = new Set(hc.ids).size
    const wire = hc.requests.reduce((n, r) => n + r.wireBytes, 0)
    const seconds = distinct > 0 ? (lastAcceptAt - child.firstSendAt) / 1000 : 0
    return {
      sent: child.sent,
      accepted: distinct,
      duplicates: hc.accepted.length - distinct,
      lost: child.sent - distinct,
      eventsPerSec: seconds > 0 ? distinct / seconds : 0,
      wireBytesPerEvent: distinct > 0 ? wire / distinct : 0,
      peakRssMB: child.maxRssKB / 1024,
      startRssMB: child.startRssMB,
      seconds,
      feedSeconds: (child.fedAt - child.firstSendAt) / 1000,
      finished: child.finished,
      requests: hc.requests.length
    }
  } finally {
    await hc.close()
  }
}

/**
 * Both contenders, healthy then with faults: 100,000 events each (10,000
 * with `quick`), fed at 100,000 events/s; each waits for its contender to
 * say it is done, at most 60 s (15 s with `quick`).
 */
export const runDeliveryBench = async (options: { readonly quick: boolean }): Promise<DeliveryResult> => {
  const events = options.quick ? 10_000 : 100_000
  const capMillis = options.quick ? 15_000 : 60_000
  const pair = async (scenario: Scenario): Promise<Record<Contender, ContenderResult>> => ({
    ours: await runOne("ours", scenario, events, capMillis),
    libhoney: await runOne("libhoney", scenario, events, capMillis)
  })
  const healthy = await pair("healthy")
  const faults = await pair("faults")
  return { events, rate: RATE, healthy, faults }
}

/** The delivery table, in the style of the parsing table of bench/index.ts. */
export const printDeliveryTable = (result: DeliveryResult): void => {
  const int = (n: number) => Math.round(n).toLocaleString("en-US")
  const pct = (part: number, whole: number) => `${whole > 0 ? ((100 * part) / whole).toFixed(1) : "0.0"}%`
  // A contender that hit the cap is marked: its numbers are a lower bound on the time it needs.
  const capped = (r: ContenderResult, s: string) => (r.finished ? s : `${s}*`)
  const cells: Array<[string, (r: ContenderResult) => string]> = [
    ["accepted events/s", (r) => capped(r, int(r.eventsPerSec))],
    ["lost", (r) => `${int(r.lost)} (${pct(r.lost, r.sent)})`],
    ["duplicates", (r) => int(r.duplicates)],
    ["wire bytes / accepted event", (r) => int(r.wireBytesPerEvent)],
    ["peak RSS (at the first event)", (r) => `${r.peakRssMB.toFixed(0)} MB (${r.startRssMB.toFixed(0)})`],
    ["first send to last acceptance", (r) => `${r.seconds.toFixed(2)} s`],
    ["feeding took", (r) => `${r.feedSeconds.toFixed(2)} s`],
    ["requests", (r) => int(r.requests)]
  ]
  const columns: Array<ContenderResult> = [result.healthy.ours, result.healthy.libhoney, result.faults.ours, result.faults.libhoney]
  const rows: Array<Array<string>> = [
    ["", "ours", "libhoney", "ours", "libhoney"],
    ...cells.map(([name, cell]) => [name, ...columns.map(cell)])
  ]
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)))
  const line = (row: ReadonlyArray<string>) =>
    `  ${row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]! + 2))).join("")}`
  // Each scenario's name spans its two columns.
  const span = (a: number, b: number, text: string) => text.padStart(widths[a]! + widths[b]! + 4)
  console.log(`\nDelivery: ${int(result.events)} events fed at ${int(result.rate)}/s into a loopback Honeycomb receiver, each contender in its own process`)
  console.log(`  ${"".padEnd(widths[0]!)}${span(1, 2, "healthy")}${span(3, 4, "5% 503 + 5% 429")}`)
  for (const row of rows) console.log(line(row))

  const { healthy, faults } = result
  const ratio = (a: number, b: number): number => (b > 0 ? a / b : Infinity)
  const speedHealthy = ratio(healthy.ours.eventsPerSec, healthy.libhoney.eventsPerSec)
  const speedFaults = ratio(faults.ours.eventsPerSec, faults.libhoney.eventsPerSec)
  const bytes = ratio(healthy.libhoney.wireBytesPerEvent, healthy.ours.wireBytesPerEvent)
  const targets: Array<[string, string, boolean]> = [
    ["ours / libhoney events/s, healthy (target >= 2x)", `${speedHealthy.toFixed(2)}x`, speedHealthy >= 2],
    ["ours / libhoney events/s, faults (target >= 2x)", `${speedFaults.toFixed(2)}x`, speedFaults >= 2],
    ["ours lost under faults (target 0)", int(faults.ours.lost), faults.ours.lost === 0],
    ["libhoney / ours wire bytes (target >= 4x)", `${bytes.toFixed(2)}x`, bytes >= 4]
  ]
  const width = Math.max(...targets.map((t) => t[0].length))
  for (const [name, value, met] of targets) console.log(`  ${name.padEnd(width)}  ${value.padStart(12)}  ${met ? "met" : "NOT met"}`)
  if (columns.some((r) => !r.finished)) console.log("  * hit the cap before it said it was done")
  console.log("  (peak RSS includes tsx and module loading; in brackets the RSS just before the first event)")
}
