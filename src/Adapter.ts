/**
 * The vacuum for a CU that is not written with Effect (today's JavaScript ao
 * CU): create it once, call `vacuum(evaluation)` after each evaluation (it
 * returns at once, synchronously, and never throws), close it on shutdown.
 *
 * ```js
 * import { createVacuum } from "ao-event-vacuum/Adapter"
 * const vacuum = await createVacuum()          // settings from EVENT_VACUUM_* (off unless ENABLED=true)
 * // in the evaluator, once the evaluation's output is known:
 * vacuum.vacuum({ processId, messageId, ordinate, cron, timestamp, blockHeight, readOnly, output })
 * // on shutdown:
 * await vacuum.close()
 * ```
 *
 * @since 0.1.0
 */
import { ConfigProvider, Layer, ManagedRuntime } from "effect"
import * as Env from "./Env.js"
import type { Snapshot, VacuumSummary } from "./Vacuum.js"
import { Vacuum } from "./Vacuum.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /** Settings as env names and values; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** Overrides `EVENT_VACUUM_ENABLED`. */
  readonly enabled?: boolean | undefined
}

/**
 * A running vacuum.
 *
 * @since 0.1.0
 */
export interface VacuumHandle {
  /** Hands one evaluation record to the vacuum; returns at once. Never throws, never waits on a sink. */
  readonly vacuum: (evaluation: unknown) => VacuumSummary
  /** Resolves when every event handed over so far is stored. */
  readonly flush: () => Promise<void>
  /** Resolves true once the sinks have sent what they know of, false after `timeoutMillis`. */
  readonly drain: (timeoutMillis?: number) => Promise<boolean>
  readonly snapshot: () => Promise<Snapshot>
  /** Stores what is queued, gives the sinks their shutdown time, and closes the state file. */
  readonly close: () => Promise<void>
}

const CLOSED: VacuumSummary = { outcome: "closed", events: 0, rejectedLines: 0 }

/**
 * Starts the vacuum configured from `options.env` (or the environment).
 * Rejects with one message naming the key when a setting is bad.
 *
 * @since 0.1.0
 */
export const createVacuum = async (options: Options = {}): Promise<VacuumHandle> => {
  const env = options.env ?? process.env
  const provider = ConfigProvider.fromMap(
    new Map(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
  )
  const layer = Env.layer(options.enabled === undefined ? {} : { enabled: options.enabled })
  const runtime = ManagedRuntime.make(layer.pipe(Layer.provide(Layer.setConfigProvider(provider))))
  let vacuum: Vacuum["Type"]
  try {
    vacuum = await runtime.runPromise(Vacuum)
  } catch (error) {
    await runtime.dispose()
    throw error
  }
  let closed = false
  return {
    vacuum: (evaluation) => {
      // The plain call never throws: a record that cannot be read is an invalid record.
      return closed ? CLOSED : vacuum.unsafeVacuum(evaluation)
    },
    flush: () => runtime.runPromise(vacuum.flush),
    drain: (timeoutMillis = 30_000) => runtime.runPromise(vacuum.drain(timeoutMillis)),
    snapshot: () => runtime.runPromise(vacuum.snapshot),
    close: async () => {
      if (closed) return
      closed = true
      await runtime.dispose()
    }
  }
}
