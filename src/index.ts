/**
 * ao-event-vacuum: lifts structured events out of ao Processes' logs.
 *
 * @since 0.1.0
 */

/** The evaluation record and its log-text rule. */
export * as Evaluation from "./Evaluation.js"

/** From log text to events, with an account of every line. */
export * as Extractor from "./Extractor.js"

/** An event plus its evaluation's context: the record a sink receives. */
export * as Enrich from "./Enrich.js"

/** The CU-facing service: vacuum an evaluation, flush, drain, snapshot. */
export * as Vacuum from "./Vacuum.js"

/** Durable watermarks, outboxes and dead letters. */
export * as DedupeStore from "./DedupeStore.js"

/** The DedupeStore over any SqlClient. */
export * as SqlDedupeStore from "./DedupeStore/Sql.js"

/** The default DedupeStore: a SQLite file, or :memory:. */
export * as SqliteDedupeStore from "./DedupeStore/Sqlite.js"

/** Sinks: the interface and its errors. */
export * as Transport from "./Transport.js"

/** The console sink. */
export * as ConsoleTransport from "./Transport/Console.js"

/** The file sink. */
export * as FileTransport from "./Transport/File.js"

/** The Honeycomb sink, over the batch API. */
export * as HoneycombTransport from "./Transport/Honeycomb.js"

/** Several sinks, each with its own watermark and outbox. */
export * as CompositeTransport from "./Transport/Composite.js"

/** The vacuum's own metrics. */
export * as Metrics from "./Metrics.js"

/** The whole vacuum configured from env. */
export * as Env from "./Env.js"

/** The vacuum as promises, for a CU not written with Effect. */
export * as Adapter from "./Adapter.js"
