/**
 * The settings every network sink has, by its own prefix: how long a
 * partial batch waits, how many requests are in flight, how long one may
 * take. A table that loads without any sink.
 *
 * @internal
 */
import * as Setting from "../../Setting.js"

/**
 * A network sink's timing settings (`HONEYCOMB_FLUSH_INTERVAL`, `KINESIS_TIMEOUT`, …).
 *
 * @since 0.3.0
 */
export const timingSettings = (prefix: string, sink: string) => ({
  flushInterval: Setting.make(Setting.duration(), {
    env: `${prefix}FLUSH_INTERVAL`,
    default: "1 second",
    doc: `how long a partial ${sink} batch waits`
  }),
  concurrency: Setting.make(Setting.int({ min: 1, max: 64 }), {
    env: `${prefix}CONCURRENCY`,
    default: 4,
    doc: "requests in flight at once"
  }),
  timeout: Setting.make(Setting.duration({ min: "100 millis" }), {
    env: `${prefix}TIMEOUT`,
    default: "10 seconds",
    doc: "how long one request may take"
  })
})
