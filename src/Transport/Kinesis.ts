/**
 * The Kinesis sink: events as records of a Kinesis data stream, through
 * `PutRecords`. Each record's `Data` is one JSON object, the event as the
 * file sink writes it (`{"time", "samplerate"?, "data"}`); its partition key
 * is the event's `processId` unless told another field or dotted path
 * (`user.id`), so a process's events keep their order within a shard.
 *
 * A batch is one request: at most 500 records and 5 MiB of records and
 * partition keys (the vacuum's batches are sized to fit). The answer is read
 * per record: a record Kinesis throttled (`ProvisionedThroughputExceededException`)
 * or failed (`InternalFailure`) is sent again under the retry schedule, for as
 * long as it takes, and the others are acknowledged, so none is lost and none
 * is sent twice. A whole request throttled, a 5xx, a timeout or a dropped
 * connection is retried under the schedule; an expired signature or
 * credentials: the credentials are fetched anew (the client, its clock
 * offset and its connections kept), then retried; a credential provider
 * that fails (a metadata endpoint down) is retried under the schedule; a
 * stream that does not exist, access refused (KMS included) or credentials
 * Kinesis does not know stop the sink with one line naming the cause, its
 * events kept. An event too large for a record is dead-lettered unsent.
 *
 * The AWS SDK v3 with its own retries off (the vacuum's schedule retries) and
 * an HTTP/1.1 keep-alive connection pool. Credentials come from the standard
 * chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`,
 * profiles, container and instance roles) unless given; the sink never
 * reads, prints or stores them.
 *
 * @since 0.3.0
 */
import type { KinesisClientConfig, PutRecordsRequestEntry, PutRecordsResultEntry } from "@aws-sdk/client-kinesis"
import { KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import type { ConfigError } from "effect"
import { Config, Duration, Effect, Either, Layer } from "effect"
import * as http from "node:http"
import * as https from "node:https"
import type { OutboundEvent } from "../Enrich.js"
import { check, limits, partitionValue, resolveRegion, settings } from "../internal/settings/kinesis.js"
import { sinkSelection } from "../internal/settings/selection.js"
import * as Setting from "../Setting.js"
import type { EventStatus, Sink } from "../Transport.js"
import { accepted, EventStatus as Status, Transport, TransportConfigError, TransportError } from "../Transport.js"
import { make as makeTransport } from "../Transport.js"
import { jsonLine } from "./Console.js"

/**
 * Its settings, declared once (see `Setting`): the table the CLI, `--help`
 * and README read; and Kinesis's own limits.
 *
 * @since 0.3.0
 */
export { limits, settings }

/**
 * The settings (see {@link settings}), plus the sink's name (default
 * `kinesis`) and, for code that has its own, the credentials.
 *
 * @since 0.3.0
 */
export type Options = Setting.Options<typeof settings> & {
  readonly name?: string | undefined
  /** Credentials, or a provider of them; the standard AWS chain unless given. */
  readonly credentials?: KinesisClientConfig["credentials"] | undefined
}

/**
 * What a record's envelope costs at most beyond the event's data: the time,
 * the sample rate and the braces around them, and a partition key (at most
 * 256 characters, 4 bytes each in UTF-8). The vacuum's batches of event
 * data leave this room per record, so a batch always fits one request.
 */
const RECORD_OVERHEAD = 64 + 256 * 4

/** Request-level answers that no retry will change: the sink stops, naming the cause. */
const STOPS: Record<string, string> = {
  ResourceNotFoundException: "no such stream (check KINESIS_STREAM_NAME and KINESIS_REGION)",
  AccessDeniedException: "access denied: the credentials may not put records to this stream",
  KMSAccessDeniedException: "access denied to the stream's KMS key",
  KMSDisabledException: "the stream's KMS key is disabled",
  KMSInvalidStateException: "the stream's KMS key is not in a state to be used",
  KMSNotFoundException: "the stream's KMS key was not found",
  KMSOptInRequired: "the account is not subscribed to KMS",
  UnrecognizedClientException: "the credentials are not valid (the access key is not known)",
  InvalidClientTokenId: "the credentials are not valid (the access key is not known)",
  IncompleteSignature: "the request signature is incomplete (check the credentials)",
  MissingAuthenticationToken: "no credentials were sent",
  InvalidSignatureException: "the request signature does not match (check AWS_SECRET_ACCESS_KEY)",
  SignatureDoesNotMatch: "the request signature does not match (check AWS_SECRET_ACCESS_KEY)"
}

/** Answers that say the credentials expired: fetched anew, then the batch is sent again. */
const EXPIRED = new Set(["ExpiredTokenException", "ExpiredToken", "RequestExpired", "TokenRefreshRequired"])

/**
 * A signature outside the server's five minutes: our clock is off (the SDK has
 * already learned the offset from the reply's `Date`), or the credentials expired.
 */
const EXPIRED_SIGNATURE = /^(signature expired|signature not yet current)\b|security token .*expired/i

/**
 * Failures of the credential provider chain (`@smithy/core/config`'s
 * `ProviderError` and its kinds): no answer from a container or instance
 * metadata endpoint, a profile's process that failed. The sink cannot tell
 * an endpoint briefly down from one that never answers, and either way no
 * request was sent: retried under the schedule, never a stop.
 */
const PROVIDER_ERRORS = new Set(["CredentialsProviderError", "ProviderError", "TokenProviderError"])

/** Per-record error codes of a throttled or failed record: sent again, never given up. */
const RECORD_RETRY = new Set(["ProvisionedThroughputExceededException", "InternalFailure", "KMSThrottlingException"])

interface AwsError {
  readonly name?: string
  readonly message?: string
  readonly code?: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

const errorOf = (cause: unknown): AwsError => (typeof cause === "object" && cause !== null ? cause as AwsError : { message: String(cause) })

/**
 * The Kinesis sink. Fails at once on a bad setting.
 *
 * @since 0.3.0
 */
export const make = (input: Options) =>
  Effect.gen(function*() {
    const name = input.name ?? "kinesis"
    const options = yield* Setting.decode(settings, input, `sink ${name}`).pipe(
      Effect.mapError((e) => new TransportConfigError({ description: e.message }))
    )
    const fits = check(options)
    if (Either.isLeft(fits)) return yield* new TransportConfigError({ description: `sink ${name}: ${fits.left}` })
    const region = resolveRegion(options.region)
    const timeoutMs = Duration.toMillis(options.timeout)

    // One pool of keep-alive HTTP/1.1 connections and one client for the sink's life. The client
    // is never made anew: it holds the clock offset the SDK learns from Kinesis's replies, and
    // destroying it would destroy the connections of the batches in flight beside (a batch cut
    // after Kinesis stored it is sent again: a copy).
    const agents = yield* Effect.acquireRelease(
      Effect.sync(() => ({
        http: new http.Agent({ keepAlive: true, maxSockets: options.concurrency * 2 }),
        https: new https.Agent({ keepAlive: true, maxSockets: options.concurrency * 2 })
      })),
      (a) => Effect.sync(() => (a.http.destroy(), a.https.destroy()))
    )
    const client = yield* Effect.acquireRelease(
      Effect.sync(() =>
        new KinesisClient({
          region,
          ...(options.endpoint === "aws" ? {} : { endpoint: options.endpoint }),
          ...(input.credentials === undefined ? {} : { credentials: input.credentials }),
          // The vacuum's schedule retries, per record: the SDK's own retries would re-send whole requests.
          maxAttempts: 1,
          requestHandler: new NodeHttpHandler({
            httpAgent: agents.http,
            httpsAgent: agents.https,
            connectionTimeout: timeoutMs,
            requestTimeout: timeoutMs,
            // Without it a request past its timeout is only warned about.
            throwOnRequestTimeout: true
          })
        })
      ),
      (c) => Effect.sync(() => c.destroy())
    )
    const credentials = refresher(client)

    const failure = (reason: TransportError["reason"], description: string) => new TransportError({ sink: name, reason, description })

    /** The request's failure as the vacuum reads it: retried, split, or the sink stopped. */
    const failed = (cause: unknown): TransportError => {
      const e = errorOf(cause)
      const type = e.name ?? e.code ?? "Error"
      const status = e.$metadata?.httpStatusCode
      const said = `${type}${status === undefined ? "" : ` (${status})`}: ${e.message ?? ""}`.trim()
      if (EXPIRED.has(type) || EXPIRED_SIGNATURE.test(e.message ?? "")) {
        credentials.expired()
        // The message's times change every attempt: the cause is said without them, once.
        const what = `${type}${status === undefined ? "" : ` (${status})`}: ${(e.message ?? "").split(":")[0]}`
        return failure(
          "Unavailable",
          `the signature or the credentials expired (${what}): credentials fetched anew, the clock offset taken from Kinesis's reply`
        )
      }
      if (PROVIDER_ERRORS.has(type)) {
        return failure("Unavailable", `could not get AWS credentials (${type}: ${firstLine(e.message)}); asking the provider chain again`)
      }
      const stop = STOPS[type]
      if (stop !== undefined) return failure("Rejected", `${stop}; Kinesis said ${said}`)
      if (type === "InvalidArgumentException" || type === "ValidationException" || status === 413) {
        return failure("TooLarge", said)
      }
      // Throttled requests, KMS throttling, 5xx, timeouts and dropped connections.
      return failure("Unavailable", said)
    }

    /**
     * The record's partition key: the value of the field or dotted path the setting names (its
     * first 256 characters; JSON when not a string), else the process id.
     */
    const keyOf = (event: OutboundEvent): string => {
      if (options.partitionKey === "processId") {
        const m = /^\{"processId":"((?:[^"\\]|\\.)*)"/.exec(event.data)
        if (m !== null) return keyText(JSON.parse(`"${m[1]}"`) as string)
      }
      const fields = JSON.parse(event.data) as Record<string, unknown>
      const value = partitionValue(fields, options.partitionKey) ?? fields.processId
      return keyText(typeof value === "string" ? value : JSON.stringify(value ?? "none"))
    }

    const encoder = new TextEncoder()

    const send = (batch: ReadonlyArray<OutboundEvent>) =>
      Effect.gen(function*() {
        const statuses = new Array<EventStatus | undefined>(batch.length)
        const records: Array<PutRecordsRequestEntry> = []
        const at: Array<number> = []
        let bytes = 0
        for (let i = 0; i < batch.length; i++) {
          const event = batch[i]!
          const data = encoder.encode(jsonLine(event))
          const key = keyOf(event)
          const size = data.length + Buffer.byteLength(key, "utf8")
          if (size > options.maxRecordBytes) {
            statuses[i] = Status.Refused({
              reason: `${size} bytes with its partition key: over the ${options.maxRecordBytes}-byte record limit (KINESIS_MAX_RECORD_BYTES)`
            })
            continue
          }
          records.push({ Data: data, PartitionKey: key })
          at.push(i)
          bytes += size
        }
        if (records.length === 0) return statuses as ReadonlyArray<EventStatus>
        if (records.length > limits.maxRecords || bytes > options.maxBatchBytes) {
          return yield* failure("TooLarge", `${records.length} records of ${bytes} bytes: over a request's limits`)
        }
        yield* credentials.refreshIfExpired(failed)
        const reply = yield* Effect.tryPromise({
          try: (signal) => client.send(new PutRecordsCommand({ StreamName: options.streamName, Records: records }), { abortSignal: signal }),
          catch: failed
        })
        const results: ReadonlyArray<PutRecordsResultEntry> = reply.Records ?? []
        at.forEach((i, k) => {
          statuses[i] = statusOf(results[k], results.length, records.length)
        })
        return statuses as ReadonlyArray<EventStatus>
      })

    return {
      name,
      send,
      maxBatchEvents: options.maxBatchEvents,
      maxBatchBytes: Math.max(1, options.maxBatchBytes - options.maxBatchEvents * RECORD_OVERHEAD),
      flushInterval: options.flushInterval,
      sendTimeout: options.timeout,
      concurrency: options.concurrency,
      selection: sinkSelection(options, "KINESIS_")
    } satisfies Sink
  })

/**
 * Fetching the client's credentials anew once Kinesis said they (or the
 * signature) expired: before the next request, through the SDK's own
 * `forceRefresh` (the standard chain, or the caller's provider, asked again),
 * on the same client, so its clock offset and its connections stay. A
 * refresh that fails is tried again before the next request.
 */
const refresher = (client: KinesisClient) => {
  let stale = false
  return {
    expired: (): void => {
      stale = true
    },
    refreshIfExpired: <E>(failed: (cause: unknown) => E): Effect.Effect<void, E> =>
      stale
        ? Effect.tryPromise({ try: () => client.config.credentials({ forceRefresh: true }), catch: failed }).pipe(
          Effect.tap(() => {
            stale = false
          }),
          Effect.asVoid
        )
        : Effect.void
  }
}

/** The first line of an error's message, for a cause said in one line. */
const firstLine = (message: string | undefined): string => (message ?? "").split("\n")[0]!.trim()

/** A partition key: 1 to 256 characters. */
const keyText = (text: string): string => (text.length === 0 ? "none" : text.length > 256 ? text.slice(0, 256) : text)

/** One record's answer: acknowledged, sent again (throttled or failed), never refused for it. */
const statusOf = (result: PutRecordsResultEntry | undefined, answered: number, sent: number): EventStatus => {
  if (result === undefined) return Status.Retry({ reason: `Kinesis answered ${answered} records for ${sent}` })
  if (result.ErrorCode === undefined || result.ErrorCode === null) return accepted
  const reason = `${result.ErrorCode}${result.ErrorMessage ? `: ${result.ErrorMessage}` : ""}`
  return Status.Retry({ reason, transient: RECORD_RETRY.has(result.ErrorCode) })
}

/**
 * The Kinesis sink, its client closed with the layer.
 *
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<Transport, TransportConfigError> =>
  Layer.scoped(Transport, Effect.flatMap(make(options), (sink) => makeTransport([sink])))

/**
 * The Kinesis sink configured from env (the keys in {@link settings}), or from a `Config` of the caller's own keys.
 *
 * @since 0.3.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = Setting.config(settings)
): Layer.Layer<Transport, TransportConfigError | ConfigError.ConfigError> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
