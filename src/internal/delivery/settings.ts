/**
 * Delivery's settings, declared once (see `Setting`), and what the delivery
 * fibers make of them: the retry schedule and the idle poll.
 *
 * @internal
 */
import { Duration, Option, Schedule } from "effect"
import * as Setting from "../../Setting.js"

import { settings } from "../settings/delivery.js"

/**
 * Its settings, declared once (see `Setting`): the table the CLI, `--help` and README read.
 *
 * @since 0.2.0
 */
export { settings }

/** What a delivery fiber works with. */
export interface DeliverySettings {
  readonly maxBatchEvents: number
  readonly maxBatchBytes: number
  readonly flushInterval: Duration.Duration
  readonly sendTimeout: Duration.Duration
  readonly retry: Schedule.Schedule<unknown, unknown>
  readonly maxEventAttempts: number
  readonly lease: Duration.Duration
  /** How often an idle sink looks for what other instances or a replay left. */
  readonly idlePoll: Duration.Duration
}

/**
 * The retry schedule: exponential from `base`, jittered, each delay capped at
 * `cap`, forever (a sink that is down is retried until it is back or the
 * layer closes; the events wait in the store meanwhile).
 */
export const retrySchedule = (base: Duration.DurationInput, cap: Duration.DurationInput): Schedule.Schedule<unknown, unknown> => {
  const max = Duration.decode(cap)
  return Schedule.exponential(base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((delay) => Duration.min(delay, max))
  )
}

/** The decoded settings as the delivery fibers use them. */
export const fromValues = (values: Setting.Values<typeof settings>): DeliverySettings => ({
  maxBatchEvents: values.batchMaxEvents,
  maxBatchBytes: values.batchMaxBytes,
  flushInterval: values.flushInterval,
  sendTimeout: values.sendTimeout,
  retry: retrySchedule(values.retryBaseDelay, values.retryMaxDelay),
  maxEventAttempts: values.maxEventAttempts,
  lease: values.lease,
  idlePoll: Duration.max(Duration.divide(values.lease, 2).pipe(Option.getOrElse(() => values.lease)), Duration.seconds(1))
})
