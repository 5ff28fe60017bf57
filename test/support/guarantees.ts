/**
 * Shared by the tests that try to break the delivery guarantees
 * (test/guarantees/): their size, a seeded random source, inputs made of the
 * example's records, the event ids those inputs must produce (worked out
 * apart from the vacuum), and the CLI as a child process that can be killed.
 *
 * `GUARANTEES_SCALE` (default 1) multiplies their sizes: `npm test` runs
 * them at 1, `npm run test:guarantees` at a larger scale.
 */
import { Either } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { enrich, type OutboundEvent, reservedKeys } from "../../src/Enrich.js"
import { decodeSync, logText } from "../../src/Evaluation.js"
import { defaultLimits, extract } from "../../src/Extractor.js"
import { exampleRecords } from "./harness.js"

export const scale = (() => {
  const raw = process.env.GUARANTEES_SCALE ?? "1"
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 1) throw new Error(`GUARANTEES_SCALE must be a positive integer, got ${JSON.stringify(raw)}`)
  return n
})()

/** A small seeded generator (mulberry32): a failing run can be repeated with its seed. */
export const random = (seed: number) => {
  let a = seed >>> 0
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The seed: `GUARANTEES_SEED` when set, else a new one (each test prints it when it fails). */
export const seed = (): number => {
  const fixed = process.env.GUARANTEES_SEED
  return fixed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(fixed)
}

/**
 * The example's records, `copies` times, each copy moved to new positions
 * (ordinate + copy*1000, timestamp + copy*1e7 ms) so that every copy's
 * events are new ones.
 */
export const copiesOfExample = (copies: number, from = 0): Array<Record<string, unknown>> => {
  const base = exampleRecords()
  const out: Array<Record<string, unknown>> = []
  for (let copy = from; copy < from + copies; copy++) {
    for (const r of base) {
      out.push({ ...r, ordinate: String(Number(r.ordinate) + copy * 1000), timestamp: (r.timestamp as number) + copy * 1e7 })
    }
  }
  return out
}

/** Writes records as the NDJSON the CLI reads. */
export const writeNdjson = (file: string, records: ReadonlyArray<unknown>): void => {
  fs.writeFileSync(file, records.map((r) => JSON.stringify(r)).join("\n") + "\n")
}

/**
 * The event ids the records must produce, each with its data: what the
 * vacuum must deliver, worked out here from the pieces (decode, log text,
 * extract, enrich) rather than taken from the vacuum.
 */
export const expectedEvents = (records: ReadonlyArray<unknown>): Map<string, string> => {
  const out = new Map<string, string>()
  for (const [id, event] of expectedOutbound(records)) out.set(id, event.data)
  return out
}

/** The events the records hold, as the sinks get them (id, time, data), by eventId. */
export const expectedOutbound = (records: ReadonlyArray<unknown>): Map<string, OutboundEvent> => {
  const out = new Map<string, OutboundEvent>()
  for (const record of records) {
    const decoded = decodeSync(record)
    if (Either.isLeft(decoded) || decoded.right.readOnly) continue
    const text = logText(decoded.right.output)
    if (text._tag !== "Text") continue
    const extraction = extract(text.text, defaultLimits, reservedKeys)
    for (const event of enrich(decoded.right, extraction.events, text.failed)) out.set(event.id, event)
  }
  return out
}

const repo = fileURLToPath(new URL("../..", import.meta.url))

export interface Child {
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null; readonly stdout: string; readonly stderr: string }>
  readonly kill: (signal?: NodeJS.Signals) => void
  /** Its stdin, when asked for (it stays open until the test ends it). */
  readonly stdin: NodeJS.WritableStream | null
}

/** The built `event-vacuum`, as users run it (the tests' global setup builds it). */
export const bin = path.join(repo, "dist/cli/bin.js")

/** `event-vacuum <args>` as a child process (`node dist/cli/bin.js`), with only PATH and `env` in its environment. */
export const cli = (args: ReadonlyArray<string>, env: Record<string, string>, options: { readonly stdin?: boolean } = {}): Child => {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: repo,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: [options.stdin === true ? "pipe" : "ignore", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout!.setEncoding("utf8").on("data", (s: string) => (stdout += s))
  child.stderr!.setEncoding("utf8").on("data", (s: string) => (stderr += s))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on("error", reject)
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }))
  })
  return { exited, kill: (signal = "SIGKILL") => child.kill(signal), stdin: child.stdin }
}

export const sleep = (millis: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, millis))

/**
 * The crash tests' kills: `kills` times, `event-vacuum run input` is started
 * and SIGKILLed at a random moment (up to 300 ms, from `next`) after its first
 * request, as `requests()` counts them; a run that ends first must exit 0.
 * Answers how many kills landed.
 */
export const killAtRandom = async (options: {
  readonly kills: number
  readonly input: string
  readonly env: Record<string, string>
  readonly requests: () => number
  readonly next: () => number
  readonly context: string
}): Promise<number> => {
  let landed = 0
  for (let k = 0; k < options.kills; k++) {
    const run = cli(["run", options.input], options.env)
    const before = options.requests()
    const startedAt = Date.now()
    const moment = (async () => {
      while (options.requests() === before && Date.now() - startedAt < 20_000) await sleep(5)
      await sleep(Math.floor(options.next() * 300))
    })()
    const ended = await Promise.race([run.exited.then(() => true), moment.then(() => false)])
    if (!ended) {
      run.kill()
      landed++
    }
    const exit = await run.exited
    if (ended && exit.code !== 0) throw new Error(`${options.context}: run ${k} ended by itself but failed:\n${exit.stderr}`)
  }
  return landed
}
