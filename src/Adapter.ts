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
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { settings } from "./internal/settings/env.js"
import type { Health } from "./Prometheus.js"
import type { Snapshot, VacuumSummary } from "./Vacuum.js"

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
  /**
   * The vacuum's metrics in the Prometheus text format (serve it with
   * `Prometheus.contentType`), for the CU's own `/metrics` route. Reads the
   * store at most once a second, and never waits on it more than two.
   */
  readonly metrics: () => Promise<string>
  /** `ok`, `degraded` (a sink retrying, the store failing) or `stopped` (a sink stopped), with the reason per sink. */
  readonly health: () => Promise<Health>
  /** Stores what is queued, gives the sinks their shutdown time, and closes the state file. */
  readonly close: () => Promise<void>
}

const DISABLED: VacuumSummary = { outcome: "disabled", events: 0, rejectedLines: 0 }
const CLOSED: VacuumSummary = { outcome: "closed", events: 0, rejectedLines: 0 }

/**
 * Whether the vacuum is on: `options.enabled`, else `EVENT_VACUUM_ENABLED`
 * read as the setting reads it; undefined when that text is bad (the full
 * start then rejects, naming the key).
 */
const enabledOf = (options: Options, env: Readonly<Record<string, string | undefined>>): boolean | undefined => {
  if (options.enabled !== undefined) return options.enabled
  const text = env[settings.enabled.env]
  if (text === undefined) return Option.getOrUndefined(settings.enabled.default)
  return Either.getOrUndefined(settings.enabled.parse(text))
}

/**
 * Starts the vacuum configured from `options.env` (or the environment).
 * Rejects with one message naming the key when a setting is bad. Disabled
 * (the default), it loads nothing of the vacuum: its calls answer
 * `disabled` at once.
 *
 * @since 0.1.0
 */
export const createVacuum = async (options: Options = {}): Promise<VacuumHandle> => {
  const env = options.env ?? process.env
  if (enabledOf(options, env) === false) {
    let closed = false
    return {
      vacuum: () => (closed ? CLOSED : DISABLED),
      flush: () => Promise.resolve(),
      drain: () => Promise.resolve(true),
      snapshot: () => import("./internal/adapter.js").then((running) => running.disabledSnapshot()),
      metrics: () => import("./internal/adapter.js").then((running) => running.disabledMetrics()),
      health: () => Promise.resolve({ status: "ok", store: { status: "ok" }, sinks: [] }),
      close: () => {
        closed = true
        return Promise.resolve()
      }
    }
  }
  const running = await import("./internal/adapter.js")
  return running.start(env, options.enabled)
}
