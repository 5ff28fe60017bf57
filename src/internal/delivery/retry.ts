/**
 * Attempts under a schedule: the attempt runs, and after each failure the
 * schedule's next delay, until one succeeds, a failure is not for retrying,
 * or the schedule ends.
 *
 * A loop over the schedule's driver rather than `Effect.retry`: around a send
 * with a timeout (a race), `Effect.retry` kept every failure alive until the
 * batch ended, a few KB a retry for as long as a sink was down
 * (test/delivery checks the heap).
 *
 * @internal
 */
import { Clock, Duration, Effect, Either, Option, Schedule } from "effect"

/** Answers the failure it gave up on, or none when an attempt succeeded. */
export const retrying = <E>(
  schedule: Schedule.Schedule<unknown, unknown>,
  attempt: Effect.Effect<void, E>,
  options: {
    readonly retryable: (failure: E) => boolean
    /** Every failed attempt, retried or not. */
    readonly onFailure: (failure: E) => Effect.Effect<void>
    /** The least the next attempt waits after this failure, in ms (a receiver's `Retry-After`). */
    readonly atLeast?: ((failure: E) => number | undefined) | undefined
  }
): Effect.Effect<Option.Option<E>> =>
  Effect.gen(function*() {
    const driver = yield* Schedule.driver(schedule)
    while (true) {
      const outcome = yield* Effect.either(attempt)
      if (Either.isRight(outcome)) return Option.none()
      const failure = outcome.left
      yield* options.onFailure(failure)
      if (!options.retryable(failure)) return Option.some(failure)
      const waitedFrom = yield* Clock.currentTimeMillis
      if (Either.isLeft(yield* Effect.either(driver.next(failure)))) return Option.some(failure)
      // The schedule's delay, then the rest of what the receiver asked for when that is longer.
      const least = options.atLeast?.(failure)
      if (least !== undefined && least > 0) {
        const rest = least - ((yield* Clock.currentTimeMillis) - waitedFrom)
        if (rest > 0) yield* Effect.sleep(Duration.millis(rest))
      }
    }
  })
