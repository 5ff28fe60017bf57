/**
 * The vacuum's warnings: at most one a second of each kind (the next says how
 * many it stood for), so that a flood of dropped or bad evaluations costs a
 * counter, not a log line and a fiber each. Warnings from outside any fiber
 * (the plain call) are logged in fibers of the layer's scope.
 *
 * @internal
 */
import type { Duration, Scope } from "effect"
import { Duration as D, Effect, FiberSet } from "effect"

/** A defect in one line: its name and message, not its stack. */
export const describeDefect = (defect: unknown): string =>
  defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)

export interface Warnings {
  /** The message to log now, or undefined when this kind warned within the interval (it is counted). */
  readonly admit: (kind: string, message: string) => string | undefined
  /** Logs a warning on the layer's runtime, from a plain call. */
  readonly logLater: (message: string) => void
}

export const make = (every: Duration.DurationInput = "1 second"): Effect.Effect<Warnings, never, Scope.Scope> =>
  Effect.gen(function*() {
    const run = yield* FiberSet.makeRuntime<never>()
    const clock = yield* Effect.clock
    const everyMillis = D.toMillis(D.decode(every))
    const last = new Map<string, { at: number; suppressed: number }>()
    return {
      admit: (kind, message) => {
        const now = clock.unsafeCurrentTimeMillis()
        const seen = last.get(kind)
        if (seen !== undefined && now - seen.at < everyMillis) {
          seen.suppressed++
          return undefined
        }
        last.set(kind, { at: now, suppressed: 0 })
        const more = seen?.suppressed ?? 0
        return more === 0 ? message : `${message} (and ${more} more like it since the last such warning)`
      },
      logLater: (message) => {
        run(Effect.logWarning(message))
      }
    }
  })
