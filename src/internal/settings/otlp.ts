/**
 * The OTLP sink's settings: the standard `OTEL_*` variables every
 * OpenTelemetry exporter reads (each in its general and its `_LOGS_` form,
 * the logs form winning), and the vacuum's own `OTLP_*` ones. A table that
 * loads without the sink.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Redacted from "effect/Redacted"
import * as Setting from "../../Setting.js"
import { selectionSettings } from "./selection.js"
import { timingSettings } from "./sink.js"

/** What a `_LOGS_` form is when not set: the general form's value. */
export const UNSET = "unset"

/** The spec's default base endpoint. */
export const DEFAULT_ENDPOINT = "http://localhost:4318"

const httpUrl = (s: string): string | undefined => {
  try {
    const u = new URL(s)
    return u.protocol === "http:" || u.protocol === "https:" ? undefined : "expected an http(s) URL"
  } catch {
    return "expected an http(s) URL"
  }
}

/** A header name: an HTTP token. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/**
 * `k=v,k=v` as the spec writes it: entries separated by commas, each a key,
 * `=`, and a value that is URL-decoded; spaces around either are trimmed.
 * Answers the pairs, or what is wrong, naming the entry by its number and
 * key but never repeating a value (header values are secrets).
 *
 * @since 0.3.0
 */
export const parsePairs = (
  text: string,
  what: { readonly key: (key: string) => boolean; readonly keyIs: string }
): Either.Either<ReadonlyArray<readonly [string, string]>, string> => {
  const pairs: Array<readonly [string, string]> = []
  const entries = text.split(",")
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    if (entry.trim() === "") continue
    const at = entry.indexOf("=")
    if (at < 0) return Either.left(`entry ${i + 1} has no "=": expected key=value`)
    const key = entry.slice(0, at).trim()
    if (!what.key(key)) return Either.left(`entry ${i + 1}: ${JSON.stringify(key)} is not ${what.keyIs}`)
    let value: string
    try {
      value = decodeURIComponent(entry.slice(at + 1).trim())
    } catch {
      return Either.left(`entry ${i + 1} (${key}): its value is not URL-encoded text`)
    }
    pairs.push([key, value])
  }
  return Either.right(pairs)
}

const headerPairs = (text: string) => parsePairs(text, { key: (k) => TOKEN.test(k), keyIs: "a header name" })

/** Headers: kept redacted, checked without ever showing a value; `none` for no headers. */
const headersKind = (unset: string): Setting.Kind<Redacted.Redacted<string>, Redacted.Redacted<string> | string> =>
  Setting.custom({
    check: (x) => {
      const r = typeof x === "string" ? Redacted.make(x) : Redacted.isRedacted(x) ? x : undefined
      const text = r === undefined ? undefined : Redacted.value(r)
      if (typeof text !== "string") return Either.left("expected key=value,key=value")
      if (text === unset) return Either.right(r as Redacted.Redacted<string>)
      return Either.map(headerPairs(text), () => r as Redacted.Redacted<string>)
    },
    fromText: Either.right,
    secret: true,
    value: "<key=value,...>"
  })

/**
 * The headers a `headers` setting holds: none for `none` or `unset`.
 *
 * @since 0.3.0
 */
export const headersOf = (setting: Redacted.Redacted<string>): ReadonlyArray<readonly [string, string]> => {
  const text = Redacted.value(setting)
  if (text === "none" || text === UNSET) return []
  return Either.getOrElse(headerPairs(text), () => [])
}

/**
 * The resource attributes `OTEL_RESOURCE_ATTRIBUTES` holds: none for `none`.
 *
 * @since 0.3.0
 */
export const resourcePairs = (text: string): Either.Either<ReadonlyArray<readonly [string, string]>, string> =>
  text === "none" ? Either.right([]) : parsePairs(text, { key: (k) => k.length > 0, keyIs: "an attribute name" })

const { timeout: _timeout, ...timing } = timingSettings("OTLP_", "OTLP")

/**
 * The OTLP sink's settings, declared once.
 *
 * @since 0.3.0
 */
export const settings = {
  endpoint: Setting.make(Setting.text(httpUrl), {
    env: "OTEL_EXPORTER_OTLP_ENDPOINT",
    value: "<url>",
    default: DEFAULT_ENDPOINT,
    doc: "the OTLP/HTTP base URL; /v1/logs is appended"
  }),
  logsEndpoint: Setting.make(Setting.text((s) => (s === UNSET ? undefined : httpUrl(s))), {
    env: "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    value: "<url>",
    default: UNSET,
    doc: "the logs URL, as it is (unset: the base URL's)"
  }),
  protocol: Setting.make(Setting.literal("http/protobuf", "http/json"), {
    env: "OTEL_EXPORTER_OTLP_PROTOCOL",
    default: "http/protobuf",
    doc: "http/protobuf or http/json"
  }),
  logsProtocol: Setting.make(Setting.literal(UNSET, "http/protobuf", "http/json"), {
    env: "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    default: UNSET,
    doc: "for logs (unset: the general one)"
  }),
  headers: Setting.make(headersKind("none"), {
    env: "OTEL_EXPORTER_OTLP_HEADERS",
    default: "none",
    doc: "headers, key=value,... (values URL-decoded); redacted"
  }),
  logsHeaders: Setting.make(headersKind(UNSET), {
    env: "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
    default: UNSET,
    doc: "for logs, over the general ones; redacted"
  }),
  compression: Setting.make(Setting.literal("gzip", "none"), {
    env: "OTEL_EXPORTER_OTLP_COMPRESSION",
    default: "gzip",
    doc: "gzip or none"
  }),
  logsCompression: Setting.make(Setting.literal(UNSET, "gzip", "none"), {
    env: "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION",
    default: UNSET,
    doc: "for logs (unset: the general one)"
  }),
  timeout: Setting.make(Setting.int({ min: 100 }), {
    env: "OTEL_EXPORTER_OTLP_TIMEOUT",
    default: 10_000,
    doc: "milliseconds one request may take"
  }),
  logsTimeout: Setting.make(Setting.int({ min: 0 }), {
    env: "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    default: 0,
    doc: "for logs (0: the general one)"
  }),
  serviceName: Setting.make(Setting.text(), {
    env: "OTEL_SERVICE_NAME",
    value: "<name>",
    default: UNSET,
    doc: "service.name (unset: the resource's, else ao-event-vacuum)"
  }),
  resourceAttributes: Setting.make(
    Setting.text((s) => Either.match(resourcePairs(s), { onLeft: (why) => why, onRight: () => undefined })),
    {
      env: "OTEL_RESOURCE_ATTRIBUTES",
      value: "<key=value,...>",
      default: "none",
      doc: "resource attributes, key=value,... (values URL-decoded)"
    }
  ),
  maxBatchEvents: Setting.make(Setting.int({ min: 1 }), {
    env: "OTLP_BATCH_MAX_EVENTS",
    default: 500,
    doc: "log records a request"
  }),
  maxBatchBytes: Setting.make(Setting.int({ min: 1 }), {
    env: "OTLP_BATCH_MAX_BYTES",
    default: 2_000_000,
    doc: "bytes of event data a request"
  }),
  ...timing,
  ...selectionSettings("OTLP_", "otlp")
}

/**
 * Where a request goes: the logs endpoint as it is, else the base endpoint
 * with `/v1/logs` appended to its path.
 *
 * @since 0.3.0
 */
export const logsUrl = (values: { readonly endpoint: string; readonly logsEndpoint: string }): string => {
  if (values.logsEndpoint !== UNSET) return values.logsEndpoint
  const base = new URL(values.endpoint)
  base.pathname = `${base.pathname.replace(/\/+$/, "")}/v1/logs`
  return base.href
}
