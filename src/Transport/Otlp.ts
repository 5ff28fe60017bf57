/**
 * The OTLP logs sink: events as OpenTelemetry LogRecords over OTLP/HTTP
 * (`POST {endpoint}/v1/logs`), in protobuf (the official schema, through
 * protobuf.js) or the spec's JSON mapping, gzipped unless told not to. It
 * reaches every OpenTelemetry backend and Collector, Honeycomb's own OTLP
 * endpoint included, configured by the standard `OTEL_EXPORTER_OTLP_*`
 * variables.
 *
 * One LogRecord per event: its time, when it was sent, a severity (`ERROR`
 * for events of failed evaluations, else `INFO`), a body that reads as a
 * line (`Transfer (process …, nonce 3)`), the event's name as `eventName`,
 * and every field and context value as an attribute under its own name
 * (see `otlp/logRecord`). One resource (`service.name` and
 * `OTEL_RESOURCE_ATTRIBUTES`) and one scope (`ao-event-vacuum`) a request.
 *
 * Answers, as the OTLP spec has them: 200 acknowledges the batch (a
 * `partialSuccess` is counted and logged, never retried: the receiver says
 * which it dropped only in words); 429, 502, 503 and 504 are retried under
 * the schedule, waiting at least what `Retry-After` asks (seconds or an HTTP
 * date, at most five minutes); 400 and 413 split the batch down to the record
 * at fault, which is dead-lettered with the receiver's words; 401, 403, 404,
 * 405 and 415 stop the sink with one line naming the cause, its events kept.
 * Any other status the spec says not to retry: each event of the batch is
 * tried again up to its attempt limit, then dead-lettered. Timeouts and
 * broken connections are retried.
 *
 * Header values are `Redacted`, unwrapped only where the request is made,
 * and every header the settings give is redacted in spans.
 *
 * @since 0.3.0
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import type { ConfigError } from "effect"
import { Config, Effect, Either, Layer, Metric, Redacted } from "effect"
import protobuf from "protobufjs"
import * as Compressing from "../internal/compress.js"
import type { OutboundEvent } from "../Enrich.js"
import { headersOf, logsUrl, resourcePairs, settings, UNSET } from "../internal/settings/otlp.js"
import { sinkSelection } from "../internal/settings/selection.js"
import * as Metrics from "../Metrics.js"
import * as Setting from "../Setting.js"
import type { EventStatus, Sink, Transport } from "../Transport.js"
import { allAccepted, EventStatus as Status, layerSink, TransportConfigError, TransportError } from "../Transport.js"
import type { Ints, KeyValue, LogRecord } from "./otlp/logRecord.js"
import { nanos, toLogRecord } from "./otlp/logRecord.js"
import { logsSchema } from "./otlp/schema.js"

/**
 * Its settings, declared once (see `Setting`): the table the CLI, `--help` and README read.
 *
 * @since 0.3.0
 */
export { settings }

/**
 * The settings (see {@link settings}), plus the sink's name (default `otlp`).
 *
 * @since 0.3.0
 */
export type Options = Setting.Options<typeof settings> & {
  readonly name?: string | undefined
}

/** The longest a `Retry-After` is waited for. */
const MAX_RETRY_AFTER_MILLIS = 5 * 60_000

/**
 * A `Retry-After` header in milliseconds from `now`: delay-seconds or an
 * HTTP date; none when absent or unreadable.
 *
 * @since 0.3.0
 */
export const retryAfterMillis = (header: string | undefined, now: number): number | undefined => {
  if (header === undefined) return undefined
  const text = header.trim()
  let millis: number
  if (/^[0-9]+$/.test(text)) millis = Number(text) * 1000
  else {
    const at = Date.parse(text)
    if (Number.isNaN(at)) return undefined
    millis = at - now
  }
  return Math.min(MAX_RETRY_AFTER_MILLIS, Math.max(0, millis))
}

/** The statuses the spec says to retry. */
const RETRIED = new Set([429, 502, 503, 504])

/** The URL as it may be shown: no credentials, no query. */
const shown = (url: string): string => {
  const u = new URL(url)
  return `${u.protocol}//${u.host}${u.pathname}`
}

const gzip = Compressing.gzip

/** The `message` of a `google.rpc.Status` in protobuf (field 2), read with protobuf.js's wire reader. */
const statusMessage = (body: Uint8Array): string | undefined => {
  try {
    const reader = protobuf.Reader.create(body)
    while (reader.pos < reader.len) {
      const tag = reader.uint32()
      if (tag >>> 3 === 2 && (tag & 7) === 2) return reader.string()
      reader.skipType(tag & 7)
    }
  } catch {
    // not a Status
  }
  return undefined
}

const clip = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text)

/** What a reply body says, in a few words: a Status's message, a JSON `message`, or the text. */
const saidIn = (body: Uint8Array, contentType: string): string | undefined => {
  if (body.length === 0) return undefined
  if (contentType.includes("protobuf")) return statusMessage(body)
  const text = new TextDecoder().decode(body)
  try {
    const value = JSON.parse(text) as { message?: unknown }
    if (typeof value.message === "string") return clip(value.message)
  } catch {
    // not JSON
  }
  return clip(text)
}

const describe = (cause: unknown): string | undefined => (cause instanceof Error ? cause.message : undefined)

/**
 * The OTLP sink on the `HttpClient` in context. Fails at once on a bad setting.
 *
 * @since 0.3.0
 */
export const make = (input: Options = {}): Effect.Effect<Sink, TransportConfigError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const name = input.name ?? "otlp"
    const configError = (description: string) => new TransportConfigError({ description: `sink ${name}: ${description}` })
    const options = yield* Setting.decode(settings, input, `sink ${name}`).pipe(
      Effect.mapError((e) => new TransportConfigError({ description: e.message }))
    )
    const schema = yield* Effect.try({ try: logsSchema, catch: (e) => configError(describe(e) ?? String(e)) })

    const url = logsUrl(options)
    const protocol = options.logsProtocol === UNSET ? options.protocol : options.logsProtocol
    const compression = options.logsCompression === UNSET ? options.compression : options.logsCompression
    const timeoutMillis = options.logsTimeout > 0 ? options.logsTimeout : options.timeout
    const ints: Ints = protocol === "http/json" ? "json" : "protobuf"
    const contentType = protocol === "http/json" ? "application/json" : "application/x-protobuf"

    // Headers: the general ones, then the logs ones over them (names compare without case).
    const headers = new Map<string, readonly [string, string]>()
    for (const [k, v] of [...headersOf(options.headers), ...headersOf(options.logsHeaders)]) headers.set(k.toLowerCase(), [k, v])
    const redactedNames = [...headers.keys()]
    const secretHeaders = Redacted.make([...headers.values()])

    // The resource: OTEL_RESOURCE_ATTRIBUTES, with service.name from OTEL_SERVICE_NAME over it.
    const pairs = Either.getOrElse(resourcePairs(options.resourceAttributes), () => [])
    const resource = new Map<string, string>(pairs)
    if (options.serviceName !== UNSET) resource.set("service.name", options.serviceName)
    if (!resource.has("service.name")) resource.set("service.name", "ao-event-vacuum")
    const resourceAttributes: Array<KeyValue> = [...resource].map(([key, value]) => ({ key, value: { stringValue: value } }))
    const scope = { name: "ao-event-vacuum" }

    const client = yield* HttpClient.HttpClient
    const failure = (reason: TransportError["reason"], description: string, retryAfter?: number) =>
      new TransportError({ sink: name, reason, description, ...(retryAfter === undefined ? {} : { retryAfterMillis: retryAfter }) })

    const encode = (events: ReadonlyArray<OutboundEvent>): Uint8Array => {
      const observed = nanos(Date.now(), ints)
      const logRecords = new Array<LogRecord>(events.length)
      for (let i = 0; i < events.length; i++) logRecords[i] = toLogRecord(events[i]!, observed, ints)
      const request = { resourceLogs: [{ resource: { attributes: resourceAttributes }, scopeLogs: [{ scope, logRecords }] }] }
      return ints === "json"
        ? new TextEncoder().encode(JSON.stringify(request))
        : schema.ExportLogsServiceRequest.encode(request).finish()
    }

    /** A 200's body: a partial success is counted and said, never retried. */
    const readPartial = (body: Uint8Array, replyType: string, sent: number) =>
      Effect.suspend(() => {
        if (body.length === 0) return Effect.void
        let rejected = 0
        let message = ""
        try {
          const reply = (replyType.includes("json")
            ? JSON.parse(new TextDecoder().decode(body))
            : schema.ExportLogsServiceResponse.toObject(schema.ExportLogsServiceResponse.decode(body), { longs: String })) as {
              partialSuccess?: { rejectedLogRecords?: string | number; errorMessage?: string }
            }
          rejected = Number(reply.partialSuccess?.rejectedLogRecords ?? 0)
          message = reply.partialSuccess?.errorMessage ?? ""
        } catch {
          return Effect.void
        }
        if (!(rejected > 0) && message === "") return Effect.void
        return Effect.zipRight(
          Metric.incrementBy(Metric.tagged(Metrics.partiallyRejectedEvents, "sink", name), rejected > 0 ? rejected : 0),
          Effect.logWarning(
            `sink ${name}: the receiver took the batch but dropped ${rejected} of ${sent} record(s)${message === "" ? "" : `: ${clip(message)}`} (not sent again: OTLP says which only in words)`
          )
        )
      })

    const send = (events: ReadonlyArray<OutboundEvent>): Effect.Effect<ReadonlyArray<EventStatus>, TransportError> =>
      Effect.gen(function*() {
        const raw = yield* Effect.try({
          try: () => encode(events),
          catch: (e) => failure("TooLarge", `an event could not be encoded: ${describe(e) ?? String(e)}`)
        })
        const body = compression === "gzip" ? yield* gzip(raw) : raw
        let request = HttpClientRequest.post(url).pipe(
          HttpClientRequest.setHeader("User-Agent", "ao-event-vacuum"),
          HttpClientRequest.bodyUint8Array(body, contentType)
        )
        if (compression === "gzip") request = HttpClientRequest.setHeader(request, "Content-Encoding", "gzip")
        for (const [k, v] of Redacted.value(secretHeaders)) request = HttpClientRequest.setHeader(request, k, v)

        const response = yield* client.execute(request).pipe(
          Effect.mapError((error) => failure("Unavailable", `${error.reason}: ${describe(error.cause) ?? error.message}`))
        )
        const reply = new Uint8Array(
          yield* response.arrayBuffer.pipe(Effect.mapError((error) => failure("Unavailable", `reading the reply: ${error.message}`)))
        )
        const status = response.status
        const replyType = response.headers["content-type"] ?? ""
        if (status >= 200 && status < 300) {
          yield* readPartial(reply, replyType, events.length)
          return allAccepted(events.length)
        }
        const said = saidIn(reply, replyType)
        const saying = said === undefined || said === "" ? "" : `: ${said}`
        if (RETRIED.has(status) || status === 408) {
          const wait = retryAfterMillis(response.headers["retry-after"], Date.now())
          return yield* failure("Unavailable", `${status}${saying}`, wait)
        }
        if (status === 400 || status === 413) return yield* failure("TooLarge", `${status}${saying}`)
        if (status === 401 || status === 403) {
          return yield* failure(
            "Rejected",
            `${status}: the receiver refused the request's credentials (check OTEL_EXPORTER_OTLP_HEADERS)${saying}`
          )
        }
        if (status === 404 || status === 405) {
          return yield* failure(
            "Rejected",
            `${status}: no OTLP logs endpoint at ${shown(url)} (check OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_LOGS_ENDPOINT)${saying}`
          )
        }
        if (status === 415) {
          return yield* failure("Rejected", `415: the receiver does not take ${protocol} (check OTEL_EXPORTER_OTLP_PROTOCOL)${saying}`)
        }
        // Not to be retried, says the spec: each event gets its attempts, then a dead letter, never a loop.
        const reason = `${status}${saying}`
        return events.map(() => Status.Retry({ reason }))
      }).pipe(Effect.locallyWith(Headers.currentRedactedNames, (names) => [...names, ...redactedNames]))

    return {
      name,
      send,
      maxBatchEvents: options.maxBatchEvents,
      maxBatchBytes: options.maxBatchBytes,
      flushInterval: options.flushInterval,
      sendTimeout: `${timeoutMillis} millis`,
      concurrency: options.concurrency,
      selection: sinkSelection(options, "OTLP_")
    } satisfies Sink
  })

/**
 * The OTLP sink over Node's HTTP client.
 *
 * @since 0.3.0
 */
export const layer = (options: Options = {}): Layer.Layer<Transport, TransportConfigError> =>
  layerSink(make(options)).pipe(Layer.provide(NodeHttpClient.layerUndici))

/**
 * The OTLP sink configured from env (the keys in {@link settings}), or from a `Config` of the caller's own keys.
 *
 * @since 0.3.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = Setting.config(settings)
): Layer.Layer<Transport, TransportConfigError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
