/**
 * The adapter's running vacuum: loaded only when the vacuum is on (or a
 * disabled one is asked for its snapshot).
 *
 * @internal
 */
import { ConfigProvider, Effect, Layer, ManagedRuntime } from "effect"
import type { VacuumHandle } from "../Adapter.js"
import * as Env from "../Env.js"
import * as Prometheus from "../Prometheus.js"
import type { Snapshot, VacuumSummary } from "../Vacuum.js"
import { layerDisabled, Vacuum } from "../Vacuum.js"
import * as Scrape from "./scrape.js"

/** What a disabled vacuum's snapshot says: nothing received. */
export const disabledSnapshot = (): Promise<Snapshot> =>
  Effect.runPromise(Effect.flatMap(Vacuum, (v) => v.snapshot).pipe(Effect.provide(layerDisabled)))

/** What a disabled vacuum's metrics say: nothing received, no sink. */
export const disabledMetrics = (): Promise<string> => disabledSnapshot().then((s) => Prometheus.exposition(s))

const CLOSED: VacuumSummary = { outcome: "closed", events: 0, rejectedLines: 0 }

/** Starts the vacuum configured from `env`; rejects with one message naming the key when a setting is bad. */
export const start = async (
  env: Readonly<Record<string, string | undefined>>,
  enabled: boolean | undefined
): Promise<VacuumHandle> => {
  const provider = ConfigProvider.fromMap(
    new Map(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
  )
  const layer = Env.layer(enabled === undefined ? {} : { enabled })
  const runtime = ManagedRuntime.make(layer.pipe(Layer.provide(Layer.setConfigProvider(provider))))
  let vacuum: Vacuum["Type"]
  try {
    vacuum = await runtime.runPromise(Vacuum)
  } catch (error) {
    await runtime.dispose()
    throw error
  }
  const scraper = await runtime.runPromise(Scrape.make(vacuum.snapshot))
  let closed = false
  return {
    vacuum: (evaluation) => {
      // The plain call never throws: a record that cannot be read is an invalid record.
      return closed ? CLOSED : vacuum.unsafeVacuum(evaluation)
    },
    flush: () => runtime.runPromise(vacuum.flush),
    drain: (timeoutMillis = 30_000) => runtime.runPromise(vacuum.drain(timeoutMillis)),
    snapshot: () => runtime.runPromise(vacuum.snapshot),
    metrics: () => runtime.runPromise(scraper.metrics),
    health: () => runtime.runPromise(scraper.health),
    close: async () => {
      if (closed) return
      closed = true
      await runtime.dispose()
    }
  }
}
