/**
 * What the vacuum costs a JavaScript CU, felt in the CU's own loop (DESIGN.md's
 * anchor: 100 µs of work per evaluation and a yield between evaluations, over
 * the example replicated to about 42,700 events, delivering to a loopback
 * Honeycomb-compatible receiver): the loop's time with the vacuum off, on
 * with a healthy sink, and on with the sink down (every request 503); the
 * added time per event is (on − off) / events. Then the call at a CU's
 * cadence: 20 ms of other work between calls, each call timed alone.
 *
 * Each loop runs in its own child (bench/cu-loop-child.ts, on the built
 * library); the receivers run here, in the parent, on the other core.
 */
import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { FakeHoneycomb } from "../test/support/honeycomb.js"

const KEY = "bench-key-0123456789abcdef"
const here = path.dirname(fileURLToPath(import.meta.url))

export type LoopMode = "off" | "healthy" | "down"

export interface LoopRun {
  readonly records: number
  readonly events: number
  /** The best round's loop time. */
  readonly loopSeconds: number
  /** After the loop, until every event was accepted (healthy only). */
  readonly drainSeconds: number
  readonly notStored: number
}

export interface CadenceRun {
  readonly calls: number
  readonly p50us: number
  readonly p99us: number
  readonly maxUs: number
}

export interface CuLoopResult {
  readonly workMicros: number
  readonly loop: Readonly<Record<LoopMode, LoopRun>>
  /** (on − off) / events, in µs, for each sink state. */
  readonly addedPerEventUs: { readonly healthy: number; readonly down: number }
  /** Events the healthy receiver accepted in the last healthy round (each once). */
  readonly accepted: number
  readonly cadence: { readonly healthy: CadenceRun; readonly down: CadenceRun }
}

const child = (args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    const c = spawn(process.execPath, ["--import", "tsx", path.join(here, "cu-loop-child.ts"), ...args], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    c.stdout.on("data", (d) => (out += d))
    c.stderr.on("data", (d) => (err += d))
    c.on("error", reject)
    c.on("exit", (code) =>
      code === 0 ? resolve(out.trim().split("\n").at(-1) ?? "") : reject(new Error(`CU-loop bench child (${args.join(" ")}) exited ${code}\n${err}`))
    )
  })

const percentile = (sorted: ReadonlyArray<number>, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!

export const runCuLoopBench = async (options: { readonly quick: boolean }): Promise<CuLoopResult> => {
  const events = options.quick ? 4_270 : 42_700
  const rounds = options.quick ? 1 : 2
  const calls = options.quick ? 100 : 500
  const workMicros = 100
  const healthy = await FakeHoneycomb.start(KEY)
  const down = await FakeHoneycomb.start(KEY)
  down.fault = () => ({ kind: "status", status: 503 })
  const urlOf = (mode: LoopMode) => (mode === "down" ? down.url : healthy.url)
  try {
    const best = new Map<LoopMode, LoopRun>()
    let accepted = 0
    for (let round = 0; round < rounds; round++) {
      for (const mode of ["off", "healthy", "down"] as const) {
        const from = healthy.accepted.length
        const r = JSON.parse(await child([mode, urlOf(mode), String(events), String(workMicros)])) as {
          records: number
          events: number
          loopMillis: number
          drainMillis: number
          drained: boolean
          notStored: number
        }
        if (mode === "healthy") {
          const ids = healthy.ids.slice(from)
          accepted = new Set(ids).size
          if (!r.drained || accepted !== r.events || ids.length !== r.events) {
            throw new Error(`CU-loop bench: the healthy run should have had its ${r.events} events accepted once each, the receiver has ${ids.length} (${accepted} distinct)`)
          }
        }
        const run: LoopRun = {
          records: r.records,
          events: r.events,
          loopSeconds: r.loopMillis / 1000,
          drainSeconds: r.drainMillis / 1000,
          notStored: r.notStored
        }
        const seen = best.get(mode)
        if (seen === undefined || run.loopSeconds < seen.loopSeconds) best.set(mode, run)
      }
    }
    const cadence = async (mode: "healthy" | "down"): Promise<CadenceRun> => {
      const r = JSON.parse(await child([mode, urlOf(mode), String(events), String(workMicros), "cadence", String(calls)])) as {
        micros: Array<number>
      }
      const sorted = [...r.micros].sort((a, b) => a - b)
      return { calls: sorted.length, p50us: percentile(sorted, 0.5), p99us: percentile(sorted, 0.99), maxUs: sorted.at(-1)! }
    }
    const loop = { off: best.get("off")!, healthy: best.get("healthy")!, down: best.get("down")! }
    const added = (mode: "healthy" | "down") => ((loop[mode].loopSeconds - loop.off.loopSeconds) * 1e6) / loop[mode].events
    return {
      workMicros,
      loop,
      addedPerEventUs: { healthy: added("healthy"), down: added("down") },
      accepted,
      cadence: { healthy: await cadence("healthy"), down: await cadence("down") }
    }
  } finally {
    await healthy.close()
    await down.close()
  }
}
