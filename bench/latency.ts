/**
 * The CU-facing call: the latency of one evaluation's `vacuum`, over many
 * evaluations, once with a healthy sink and once with the sink down, as each
 * kind of CU calls it:
 *
 * - an Effect CU: `yield* vacuum.vacuum(evaluation)` inside its own fiber
 *   (the call's span included);
 * - a JavaScript CU: `unsafeVacuum(evaluation)`, the plain call behind the
 *   adapter's `vacuum` (src/Adapter.ts).
 *
 * Target: p99 under 100 µs, the same when the sink is down.
 */
import { Effect } from "effect"
import type { Pipeline } from "./workload.js"
import { evaluations, pipeline, yieldToLoop } from "./workload.js"

export type Caller = "effect" | "plain"

export interface LatencyResult {
  readonly evaluations: number
  readonly events: number
  readonly p50us: number
  readonly p99us: number
  readonly maxUs: number
  readonly discarded: number
}

const quantile = (sorted: Float64Array, q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!

const WARM_UP = 2000
/** A CU evaluates between calls: every this many calls the vacuum's own fibers get the loop. */
const YIELD_EVERY = 50

/** Times each call into `times`; answers the events found. */
const timeCalls = (p: Pipeline, records: ReadonlyArray<unknown>, times: Float64Array, caller: Caller): Promise<number> => {
  if (caller === "plain") {
    return (async () => {
      let events = 0
      for (let i = 0; i < records.length; i++) {
        const t = performance.now()
        const summary = p.vacuum.unsafeVacuum(records[i])
        times[i] = performance.now() - t
        events += summary.events
        if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToLoop()
      }
      return events
    })()
  }
  return Effect.runPromise(Effect.gen(function*() {
    let events = 0
    for (let i = 0; i < records.length; i++) {
      const t = performance.now()
      const summary = yield* p.vacuum.vacuum(records[i])
      times[i] = performance.now() - t
      events += summary.events
      if (i % YIELD_EVERY === YIELD_EVERY - 1) yield* Effect.promise(yieldToLoop)
    }
    return events
  }))
}

const measure = async (all: ReadonlyArray<Record<string, unknown>>, down: boolean, caller: Caller): Promise<LatencyResult> => {
  const p = await pipeline({ flushInterval: "100 millis" })
  p.sink.down = down
  // Warm up the JIT on a slice that is not measured.
  await timeCalls(p, all.slice(0, WARM_UP), new Float64Array(WARM_UP), caller)
  await Effect.runPromise(p.vacuum.flush)
  const records = all.slice(WARM_UP)
  const times = new Float64Array(records.length)
  const events = await timeCalls(p, records, times, caller)
  await Effect.runPromise(p.vacuum.flush)
  const snapshot = await Effect.runPromise(p.vacuum.snapshot)
  // Back up before closing, so the close has nothing left to warn about.
  p.sink.down = false
  await Effect.runPromise(p.vacuum.drain("1 minute"))
  await p.close()
  times.sort()
  return {
    evaluations: records.length,
    events,
    p50us: quantile(times, 0.5) * 1000,
    p99us: quantile(times, 0.99) * 1000,
    maxUs: times[times.length - 1]! * 1000,
    discarded: snapshot.discarded.buffer_full + snapshot.discarded.store_failed
  }
}

export type LatencyResults = Record<Caller, { readonly healthy: LatencyResult; readonly down: LatencyResult }>

export const runLatencyBench = async ({ quick }: { quick: boolean }): Promise<LatencyResults> => {
  const records = evaluations((quick ? 20_000 : 100_000) + WARM_UP)
  return {
    effect: { healthy: await measure(records, false, "effect"), down: await measure(records, true, "effect") },
    plain: { healthy: await measure(records, false, "plain"), down: await measure(records, true, "plain") }
  }
}
