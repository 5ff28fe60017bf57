/**
 * ao-event-vacuum: lifts structured events out of ao Processes' logs.
 *
 * The root loads only what is light: the pipeline's modules and the sink
 * and store interfaces. Backends are reached by subpath, so that importing
 * the extractor never loads a database driver or an HTTP client:
 *
 * - `ao-event-vacuum/DedupeStore/Sqlite`: the default store (better-sqlite3)
 * - `ao-event-vacuum/DedupeStore/Pg`: the store on PostgreSQL, for a fleet (@effect/sql-pg)
 * - `ao-event-vacuum/DedupeStore/Sql`: the store over any `SqlClient`
 * - `ao-event-vacuum/Transport/Honeycomb`: the Honeycomb sink (Node's HTTP client)
 * - `ao-event-vacuum/Transport/Kinesis`: the Kinesis sink (the AWS SDK's client)
 * - `ao-event-vacuum/Transport/File`: the file sink
 * - `ao-event-vacuum/Env`: the whole vacuum configured from env
 * - `ao-event-vacuum/Adapter`: the vacuum as promises, for a CU not written with Effect
 *
 * @since 0.1.0
 */

/** The evaluation record and its log-text rule. */
export * as Evaluation from "./Evaluation.js"

/** From log text to events, with an account of every line. */
export * as Extractor from "./Extractor.js"

/** An event plus its evaluation's context and id: the record a sink receives. */
export * as Enrich from "./Enrich.js"

/** Positions in a process's history, and watermarks. */
export * as Position from "./Position.js"

/** Settings declared once: Options, Config, CLI flags and docs derive from them. */
export * as Setting from "./Setting.js"

/** The CU-facing service: vacuum an evaluation, flush, drain, snapshot. */
export * as Vacuum from "./Vacuum.js"

/** The vacuum's metrics in the Prometheus text format, and its health. */
export * as Prometheus from "./Prometheus.js"

/** Durable watermarks, outboxes and dead letters: the interface. */
export * as DedupeStore from "./DedupeStore.js"

/** Sinks: the interface and its errors. */
export * as Transport from "./Transport.js"

/** The console sink. */
export * as ConsoleTransport from "./Transport/Console.js"

/** Several sinks, each with its own watermark and outbox. */
export * as CompositeTransport from "./Transport/Composite.js"

/** The vacuum's own metrics. */
export * as Metrics from "./Metrics.js"
