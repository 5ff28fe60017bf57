/**
 * The Honeycomb sink, over the batch API: `POST {host}/1/batch/{dataset}`
 * with the key in `X-Honeycomb-Team` and a compressed JSON body of
 * `{data, time}` elements, with `samplerate` beside them for an event whose
 * sample rate is over 1.
 *
 * Honeycomb answers one status per event, in order: 202 is an
 * acknowledgement, a 4xx a refusal (dead-lettered with Honeycomb's own
 * error text), a 5xx a retry. For the whole request: 429, 5xx, timeouts and
 * broken connections are retried; 400 and 413 split the batch (down to the
 * single event at fault, which is dead-lettered); 401, 403 and 404 stop the
 * sink with one error naming the cause, keeping its events. A reply that is
 * not what the API promises is retried, never a crash.
 *
 * The key is `Redacted` and unwrapped only where the header is written; the
 * header is redacted in spans.
 *
 * @since 0.1.0
 */
import * as Headers from "@effect/platform/Headers"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { Config, ConfigError, Effect, Either, Layer, Redacted, Schema } from "effect"
import * as Compressing from "../internal/compress.js"
import type { OutboundEvent } from "../Enrich.js"
import type { EventStatus, Sink, Transport } from "../Transport.js"
import * as Setting from "../Setting.js"
import { accepted, EventStatus as Status, layerSink, TransportConfigError, TransportError } from "../Transport.js"
import { batchUrl, EU, settings, US } from "../internal/settings/honeycomb.js"
import { sinkSelection } from "../internal/settings/selection.js"

/**
 * Honeycomb's limits: a batch body, an event, the columns of an event.
 *
 * @since 0.1.0
 */
export const limits = { maxBodyBytes: 5_000_000, maxEventBytes: 1_000_000, maxFields: 2_000 } as const

/**
 * `gzip` (the default), `zstd` (where the runtime has it: Node 22.15 and later) or `none`.
 *
 * @since 0.1.0
 */
export type Compression = "gzip" | "zstd" | "none"


/**
 * Its settings, declared once (see `Setting`): the table the CLI, `--help` and README read;
 * the US and EU hosts, and the request URL the host and dataset settings are checked by.
 *
 * @since 0.1.0
 */
export { batchUrl, EU, settings, US }

/**
 * The settings (see {@link settings}), plus the sink's name (default `honeycomb`).
 *
 * @since 0.1.0
 */
export type Options = Setting.Options<typeof settings> & {
  readonly name?: string | undefined
}

/** Honeycomb's answer for one event. */
const EventReply = Schema.Struct({ status: Schema.Number, error: Schema.optional(Schema.String) })
const BatchReply = Schema.Array(EventReply)
const ErrorReply = Schema.Struct({ error: Schema.String })
const decodeReply = Schema.decodeUnknownEither(Schema.parseJson(Schema.Union(BatchReply, ErrorReply)))

/** Top-level keys of a JSON object text, counted only when there could be too many. */
const tooManyFields = (data: string): boolean => {
  // Each field takes at least 6 characters ("":0,): short events cannot break the limit.
  if (data.length < limits.maxFields * 6) return false
  try {
    return Object.keys(JSON.parse(data) as object).length > limits.maxFields
  } catch {
    return false
  }
}

const compress = (body: Uint8Array, compression: Compression): Effect.Effect<Uint8Array> =>
  compression === "none" ? Effect.succeed(body) : compression === "gzip" ? Compressing.gzip(body) : Compressing.zstd(body)

/**
 * The Honeycomb sink on the `HttpClient` in context. Fails at once on a bad
 * setting, a dataset with a slash, a bad host, or zstd where the runtime lacks it.
 *
 * @since 0.1.0
 */
export const make = (input: Options): Effect.Effect<Sink, TransportConfigError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const name = input.name ?? "honeycomb"
    const options = yield* Setting.decode(settings, input, `sink ${name}`).pipe(
      Effect.mapError((e) => new TransportConfigError({ description: e.message }))
    )
    const url = batchUrl(options.apiHost, options.dataset)
    if (Either.isLeft(url)) {
      return yield* new TransportConfigError({ description: `sink ${name}: ${url.left}` })
    }
    const compression = options.compression
    if (compression === "zstd" && !Compressing.hasZstd()) {
      return yield* new TransportConfigError({
        description: `sink ${name}: zstd compression needs Node 22.15 or later (this is ${process.version}); use gzip`
      })
    }
    const client = yield* HttpClient.HttpClient
    const encoder = new TextEncoder()

    const failure = (reason: TransportError["reason"], description: string) => new TransportError({ sink: name, reason, description })

    /** What the request answered, as statuses for the events sent (in order) or a whole-batch error. */
    const post = (events: ReadonlyArray<OutboundEvent>) =>
      Effect.gen(function*() {
        let json = "["
        for (let i = 0; i < events.length; i++) {
          const e = events[i]!
          json += `${i === 0 ? "" : ","}{"data":${e.data},"time":"${new Date(e.time).toISOString()}"`
          // Absent, Honeycomb counts the event as 1.
          const rate = e.sampleRate
          json += rate !== undefined && rate > 1 ? `,"samplerate":${rate}}` : "}"
        }
        json += "]"
        const raw = encoder.encode(json)
        if (raw.length > limits.maxBodyBytes) {
          return yield* failure("TooLarge", `a body of ${raw.length} bytes is over Honeycomb's ${limits.maxBodyBytes}`)
        }
        const body = yield* compress(raw, compression)
        let request = HttpClientRequest.post(url.right).pipe(
          HttpClientRequest.setHeader("X-Honeycomb-Team", Redacted.value(options.apiKey)),
          HttpClientRequest.setHeader("User-Agent", "ao-event-vacuum"),
          HttpClientRequest.bodyUint8Array(body, "application/json")
        )
        if (compression !== "none") request = HttpClientRequest.setHeader(request, "Content-Encoding", compression)

        const response = yield* client.execute(request).pipe(
          Effect.mapError((error) => failure("Unavailable", `${error.reason}: ${describe(error.cause) ?? error.message}`))
        )
        const text = yield* response.text.pipe(
          Effect.mapError((error) => failure("Unavailable", `reading the reply: ${error.message}`))
        )
        const status = response.status
        const said = errorText(text)
        if (status === 401 || status === 403 || status === 404) {
          const cause = status === 401
            ? "the API key was refused (check HONEYCOMB_API_KEY)"
            : status === 403
            ? "the API key may not send events to this dataset (check the key's permissions)"
            : `no dataset ${JSON.stringify(options.dataset)} (check HONEYCOMB_DATASET and HONEYCOMB_API_HOST)`
          return yield* failure("Rejected", `${status}: ${cause}${said ? `; Honeycomb said: ${said}` : ""}`)
        }
        if (status === 400 || status === 413) {
          return yield* failure("TooLarge", `${status}${said ? `: ${said}` : ""}`)
        }
        if (status !== 200) {
          return yield* failure("Unavailable", `${status}${said ? `: ${said}` : ""}`)
        }
        const reply = decodeReply(text)
        if (Either.isLeft(reply)) {
          return yield* failure("Unavailable", `a reply that is not the batch API's: ${clip(text)}`)
        }
        if (!Array.isArray(reply.right)) {
          return yield* failure("Unavailable", `Honeycomb said: ${(reply.right as { error: string }).error}`)
        }
        const statuses = reply.right as ReadonlyArray<typeof EventReply.Type>
        return events.map((_, i): EventStatus => {
          const r = statuses[i]
          if (r === undefined) return Status.Retry({ reason: `no status for this event (${statuses.length} for ${events.length})` })
          if (r.status >= 200 && r.status < 300) return accepted
          const reason = `${r.status}${r.error ? `: ${r.error}` : ""}`
          return r.status >= 400 && r.status < 500 ? Status.Refused({ reason }) : Status.Retry({ reason })
        })
      }).pipe(
        // The key is in a header: keep it out of the request spans.
        Effect.locallyWith(Headers.currentRedactedNames, (names) => [...names, "x-honeycomb-team"])
      )

    const send = (batch: ReadonlyArray<OutboundEvent>) =>
      Effect.gen(function*() {
        // Events over Honeycomb's limits are refused here, not sent to fail.
        const statuses = new Array<EventStatus | undefined>(batch.length)
        const sendable: Array<OutboundEvent> = []
        const at: Array<number> = []
        for (let i = 0; i < batch.length; i++) {
          const e = batch[i]!
          const bytes = Buffer.byteLength(e.data, "utf8")
          if (bytes >= limits.maxEventBytes) {
            statuses[i] = Status.Refused({ reason: `${bytes} bytes: over Honeycomb's 1 MB event limit` })
          } else if (tooManyFields(e.data)) {
            statuses[i] = Status.Refused({ reason: `over Honeycomb's ${limits.maxFields} columns` })
          } else {
            sendable.push(e)
            at.push(i)
          }
        }
        if (sendable.length > 0) {
          const answered = yield* post(sendable)
          answered.forEach((s, k) => {
            statuses[at[k]!] = s
          })
        }
        return statuses as ReadonlyArray<EventStatus>
      })

    return {
      name,
      send,
      maxBatchEvents: options.maxBatchEvents,
      maxBatchBytes: options.maxBatchBytes,
      flushInterval: options.flushInterval,
      sendTimeout: options.timeout,
      concurrency: options.concurrency,
      selection: sinkSelection(options, "HONEYCOMB_")
    } satisfies Sink
  })

/** Honeycomb's `error` text in a reply body, when it has one. */
const errorText = (text: string): string | undefined => {
  try {
    const value = JSON.parse(text) as unknown
    if (typeof value === "object" && value !== null && typeof (value as { error?: unknown }).error === "string") {
      return (value as { error: string }).error
    }
  } catch {
    // not JSON
  }
  return text.length > 0 ? clip(text) : undefined
}

const clip = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text)

const describe = (cause: unknown): string | undefined => (cause instanceof Error ? cause.message : undefined)

/**
 * The Honeycomb sink over Node's HTTP client.
 *
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<Transport, TransportConfigError> =>
  layerSink(make(options)).pipe(Layer.provide(NodeHttpClient.layerUndici))

/**
 * The Honeycomb sink configured from env (the keys in {@link settings}), or from a `Config` of the caller's own keys.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = Setting.config(settings)
): Layer.Layer<Transport, TransportConfigError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
