/**
 * The vacuum's own metrics as Effect `Metric`s, named as Vector names its
 * component metrics, under the `event_vacuum_` prefix (as the Prometheus
 * text has them), so that they never collide with a CU's own in its
 * metrics pipeline. Per-sink metrics carry a `sink` tag; discards and
 * rejections a `reason`.
 *
 * @since 0.1.0
 */
import { Metric } from "effect"

/**
 * Evaluations the CU handed to the vacuum.
 *
 * @since 0.1.0
 */
export const receivedEvaluations = Metric.counter("event_vacuum_component_received_evaluations_total", {
  description: "Evaluations handed to the vacuum.",
  incremental: true
})

/**
 * Events found in evaluation logs.
 *
 * @since 0.1.0
 */
export const receivedEvents = Metric.counter("event_vacuum_component_received_events_total", {
  description: "Events found in evaluation logs.",
  incremental: true
})

/**
 * Log lines rejected, by `reason` (a line outcome such as `invalid_json`), and
 * evaluations skipped, by `reason` (`read_only`, `invalid_record`, `no_text`).
 *
 * @since 0.1.0
 */
export const rejected = Metric.counter("event_vacuum_component_rejected_total", {
  description: "Log lines rejected and evaluations skipped, by reason.",
  incremental: true
})

/**
 * Events lost before they reached the store, by `reason` (`buffer_full`, `store_failed`).
 *
 * @since 0.1.0
 */
export const discardedEvents = Metric.counter("event_vacuum_component_discarded_events_total", {
  description: "Events lost before they reached the store, by reason.",
  incremental: true
})

/**
 * Events written to a sink's outbox.
 *
 * @since 0.1.0
 */
export const bufferedEvents = Metric.counter("event_vacuum_buffer_received_events_total", {
  description: "Events written to a sink's outbox.",
  incremental: true
})

/**
 * Events not written because the sink's watermark covered their evaluation.
 *
 * @since 0.1.0
 */
export const deduplicatedEvents = Metric.counter("event_vacuum_component_deduplicated_events_total", {
  description: "Events already handed off to the sink (a re-evaluation).",
  incremental: true
})

/**
 * Events dropped by sampling for a `sink`: their process over its budget.
 *
 * @since 0.3.0
 */
export const sampledEvents = Metric.counter("event_vacuum_component_sampled_events_total", {
  description: "Events dropped by sampling, their process over the sink's budget.",
  incremental: true
})

/**
 * Events a sink acknowledged.
 *
 * @since 0.1.0
 */
export const sentEvents = Metric.counter("event_vacuum_component_sent_events_total", {
  description: "Events a sink acknowledged.",
  incremental: true
})

/**
 * Events a sink refused for good, moved to the dead letters.
 *
 * @since 0.1.0
 */
export const deadLetteredEvents = Metric.counter("event_vacuum_component_dead_lettered_events_total", {
  description: "Events a sink refused for good.",
  incremental: true
})

/**
 * Records a receiver took in a batch it acknowledged yet said it dropped
 * (an OTLP partial success), by `sink`: not sent again.
 *
 * @since 0.3.0
 */
export const partiallyRejectedEvents = Metric.counter("event_vacuum_component_partially_rejected_events_total", {
  description: "Events a receiver acknowledged in a batch but said it dropped (OTLP partial success).",
  incremental: true
})

/**
 * Failed sends, by `sink` and `reason`.
 *
 * @since 0.1.0
 */
export const sendErrors = Metric.counter("event_vacuum_component_errors_total", {
  description: "Failed sends and store operations, by reason.",
  incremental: true
})

/**
 * Events waiting in a sink's outbox, as this instance knows it.
 *
 * @since 0.1.0
 */
export const bufferSizeEvents = Metric.gauge("event_vacuum_buffer_size_events", {
  description: "Events waiting in a sink's outbox."
})

/**
 * Bytes of events in memory, between the CU's call and the store.
 *
 * @since 0.1.0
 */
export const handoffBufferBytes = Metric.gauge("event_vacuum_buffer_size_bytes", {
  description: "Bytes of events between the CU's call and the store."
})
