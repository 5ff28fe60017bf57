/**
 * The CU-facing call: the latency of `vacuum(evaluation)` as a CU calls it
 * (`Effect.runSync` on a plain record, between other work), over many
 * evaluations, once with a healthy sink and once with the sink down.
 * Target: p99 under 100 µs, the same when the sink is down.
 */
import { Effect } from "effect"
import { evaluations, pipeline, yieldToLoop } from "./workload.js"

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

const measure = async (all: ReadonlyArray<Record<string, unknown>>, down: boolean): Promise<LatencyResult> => {
  const p = await pipeline({ flushInterval: "100 millis" })
  p.sink.down = down
  // Warm up the JIT on a slice that is not measured.
  for (let i = 0; i < WARM_UP; i++) Effect.runSync(p.vacuum.vacuum(all[i]))
  await Effect.runPromise(p.vacuum.flush)
  const records = all.slice(WARM_UP)
  const times = new Float64Array(records.length)
  let events = 0
  for (let i = 0; i < records.length; i++) {
    const t = performance.now()
    const summary = Effect.runSync(p.vacuum.vacuum(records[i]))
    times[i] = performance.now() - t
    events += summary.events
    // A CU evaluates between calls: let the vacuum's own fibers have the loop now and then.
    if (i % 50 === 49) await yieldToLoop()
  }
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

export const runLatencyBench = async ({ quick }: { quick: boolean }) => {
  const records = evaluations((quick ? 20_000 : 100_000) + WARM_UP)
  return {
    healthy: await measure(records, false),
    down: await measure(records, true)
  }
}
