/**
 * Delivery's settings, declared once (see `Setting`), and what the delivery
 * fibers make of them: the retry schedule and the idle poll.
 *
 * @internal
 */
import { Duration, Option, Schedule } from "effect"
import * as Setting from "../../Setting.js"

/** The vacuum's delivery settings; each sink may lower the batch limits and set its own times. */
export const settings = {
  batchMaxEvents: Setting.make(Setting.int({ min: 1 }), {
    env: "EVENT_VACUUM_BATCH_MAX_EVENTS",
    default: 500,
    doc: "largest batch sent to a sink, in events"
  }),
  batchMaxBytes: Setting.make(Setting.int({ min: 1 }), {
    env: "EVENT_VACUUM_BATCH_MAX_BYTES",
    default: 3_000_000,
    doc: "largest batch sent to a sink, in bytes of event data"
  }),
  flushInterval: Setting.make(Setting.duration(), {
    env: "EVENT_VACUUM_FLUSH_INTERVAL",
    default: "1 second",
    doc: "how long a partial batch waits for more events"
  }),
  sendTimeout: Setting.make(Setting.duration({ min: "100 millis" }), {
    env: "EVENT_VACUUM_SEND_TIMEOUT",
    default: "10 seconds",
    doc: "how long one send may take"
  }),
  retryBaseDelay: Setting.make(Setting.duration({ min: "1 millis" }), {
    env: "EVENT_VACUUM_RETRY_BASE_DELAY",
    default: "200 millis",
    doc: "first retry delay; it doubles, with jitter, up to the longest"
  }),
  retryMaxDelay: Setting.make(Setting.duration({ min: "1 millis" }), {
    env: "EVENT_VACUUM_RETRY_MAX_DELAY",
    default: "30 seconds",
    doc: "longest delay between retries (retries of a down sink never stop)"
  }),
  maxEventAttempts: Setting.make(Setting.int({ min: 1 }), {
    env: "EVENT_VACUUM_MAX_EVENT_ATTEMPTS",
    default: 10,
    doc: "attempts after which an event the sink keeps answering \"retry\" for is dead-lettered"
  }),
  // A zero lease lets every claim be taken again at once: two instances would send everything twice.
  lease: Setting.make(Setting.duration({ min: "100 millis" }), {
    env: "EVENT_VACUUM_LEASE",
    default: "10 seconds",
    doc: "how long a claim holds unrenewed: renewed while a send is out, it lets a dead run's batches be taken over within this"
  })
}

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
