/**
 * A minimal Effect-based CU wiring the vacuum in: provide the layer, call
 * `vacuum` after each evaluation. Type-checked in CI with the rest.
 *
 * Run (after `npm run build`): npx tsx examples/effect-cu.ts
 * With OTEL_EXPORTER_OTLP_ENDPOINT set (say http://127.0.0.1:4318, a Collector), the vacuum's
 * Effect Metrics go there too, with the CU's own, through @effect/opentelemetry.
 */
import * as OtlpMetrics from "@effect/opentelemetry/OtlpMetrics"
import * as OtlpSerialization from "@effect/opentelemetry/OtlpSerialization"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Effect, Layer, Metric } from "effect"
import { ConsoleTransport, Metrics, Prometheus, Transport, Vacuum } from "ao-event-vacuum"
import * as SqliteDedupeStore from "ao-event-vacuum/DedupeStore/Sqlite"

// The vacuum on a SQLite state file, printing events as JSON lines.
const VacuumLive = Vacuum.layer({ flushInterval: "200 millis" }).pipe(
  Layer.provide(SqliteDedupeStore.layer({ filename: ".event-vacuum/example-cu.db" })),
  Layer.provide(ConsoleTransport.layer({ format: "json" }))
)

// The CU's metrics pipeline: every Effect Metric of the process, the vacuum's (event_vacuum's
// counters and gauges, tagged by sink and reason) among them, exported over OTLP every 10 seconds.
const endpoint = process.env.OTEL_EXPORTER_OTLP_ENDPOINT
const MetricsLive = endpoint === undefined
  ? Layer.empty
  : OtlpMetrics.layer({ url: `${endpoint.replace(/\/+$/, "")}/v1/metrics`, resource: { serviceName: "ao-cu" }, exportInterval: "10 seconds" }).pipe(
    Layer.provide(OtlpSerialization.layerJson),
    Layer.provide(NodeHttpClient.layerUndici)
  )

// What the CU has after evaluating a message.
const evaluation = {
  processId: "PROCESS_ID_0000000000000000000000000000000",
  messageId: "MESSAGE_1",
  ordinate: "1",
  cron: null,
  timestamp: Date.now(),
  blockHeight: 1,
  readOnly: false,
  output: {
    Output: { data: "hello\n{\"_e\": 1, \"Action\": \"Transfer\", \"Quantity\": \"100\"}\n", prompt: "aos> " },
    Error: null,
    GasUsed: 1000,
    memorySize: 65536
  }
}

const program = Effect.gen(function*() {
  const vacuum = yield* Vacuum.Vacuum
  // Returns at once; delivery happens in the background.
  const summary = yield* vacuum.vacuum(evaluation)
  yield* Effect.log(`vacuumed: ${summary.outcome}, ${summary.events} event(s)`)
  // A CU would just keep going; this example waits so the event is printed before it exits.
  yield* vacuum.drain("5 seconds")
  // Operators' numbers: the Effect Metrics themselves (what an Effect metrics exporter, such as
  // @effect/opentelemetry's, exports with the CU's own), and the Prometheus text for a /metrics route.
  const sent = yield* Metric.value(Metrics.sentEvents.pipe(Metric.tagged("sink", "console")))
  yield* Effect.log(`sent to the console sink: ${sent.count}`)
  const scrape = Prometheus.exposition(yield* vacuum.snapshot)
  yield* Effect.log(scrape.split("\n").filter((line) => line.startsWith("event_vacuum_component_sent_events_total")).join("\n"))
})

// Transport is re-exported for CUs that bring their own sinks.
export type Sinks = Transport.Transport

Effect.runPromise(Effect.provide(program, Layer.merge(VacuumLive, MetricsLive)))
