/**
 * Delivery's settings, shared by every sink: a table that loads without the vacuum.
 *
 * @internal
 */
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
