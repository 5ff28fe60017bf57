/**
 * The vacuum's settings: the intake's, the store's timing and delivery's; a table that loads without the vacuum.
 *
 * @internal
 */
import * as Setting from "../../Setting.js"
import * as Delivery from "./delivery.js"
import * as Selection from "./selection.js"

/**
 * The vacuum's settings, declared once: option name, env key, CLI flag,
 * default, check and doc. Delivery's are shared by every sink; a sink may
 * lower the batch limits and set its own times.
 *
 * @since 0.2.0
 */
export const settings = {
  skipReadOnly: Setting.make(Setting.boolean, {
    env: "EVENT_VACUUM_SKIP_READ_ONLY",
    default: true,
    doc: "skip read-only (dry-run) evaluations"
  }),
  maxQueuedBytes: Setting.make(Setting.int({ min: 1 }), {
    env: "EVENT_VACUUM_MAX_QUEUED_BYTES",
    default: 64 * 1024 * 1024,
    doc: "bytes of events waiting in memory between the CU's call and the store; at the bound, calls drop"
  }),
  storeLinger: Setting.make(Setting.duration(), {
    env: "EVENT_VACUUM_STORE_LINGER",
    default: "5 millis",
    doc: "how long a small group of evaluations waits for more before one transaction stores them all"
  }),
  shutdownTimeout: Setting.make(Setting.duration(), {
    env: "EVENT_VACUUM_SHUTDOWN_TIMEOUT",
    default: "5 seconds",
    doc: "how long closing the layer waits for the sinks to send what is waiting"
  }),
  ...Delivery.settings,
  ...Selection.settings
}
