/**
 * A faithful local OTLP/HTTP logs receiver: a real HTTP server on 127.0.0.1
 * that takes `POST /v1/logs` (or the path it is given) as the OTLP
 * specification says (opentelemetry-proto's docs/specification.md):
 *
 * - the body is an `ExportLogsServiceRequest`, binary protobuf for
 *   `Content-Type: application/x-protobuf`, OTLP/JSON for `application/json`
 *   (anything else: 415), gzipped when `Content-Encoding: gzip` (anything but
 *   gzip or identity: 415), at most 20 MiB before and after gunzip (413);
 * - the answer is in the request's own format and content type: on success
 *   an `ExportLogsServiceResponse` with `partialSuccess` left unset; a 400 or
 *   an injected failure carries a `google.rpc.Status`;
 * - OTLP/JSON is checked against the spec's deviations from the proto3 JSON
 *   mapping (lowerCamelCase keys only, enums as integers, `traceId` and
 *   `spanId` in hex) and against the mapping itself (types, oneofs); unknown
 *   keys are ignored, as receivers MUST. One rule is stricter than the spec,
 *   on purpose: a 64-bit integer written as a JSON number is refused (the
 *   mapping lets a receiver accept it), since a JSON number above 2^53 has
 *   already lost digits by the time anyone reads it.
 *
 * Both protocols end in the same plain form (the schema's `toObject` of the
 * decoded protobuf, 64-bit integers as exact decimal strings), so a record
 * reads the same whichever way it came. It records every request, every log
 * record it kept, the bytes on the wire; faults are injected per request.
 */
import * as http from "node:http"
import type { AddressInfo, Socket } from "node:net"
import * as zlib from "node:zlib"
import protobuf from "protobufjs"
import { logsSchema } from "../../src/Transport/otlp/schema.js"

// ---------------------------------------------------------------------------
// The plain form: what `toObject` gives with the options below.

/** `toObject` options: 64-bit integers as decimal strings, enums as numbers, bytes as base64, nothing unset filled in. */
export const plainOptions: protobuf.IConversionOptions = { longs: String, enums: Number, bytes: String, defaults: false }

export interface PlainAnyValue {
  readonly stringValue?: string
  readonly boolValue?: boolean
  /** An exact decimal string. */
  readonly intValue?: string
  readonly doubleValue?: number
  readonly arrayValue?: { readonly values?: ReadonlyArray<PlainAnyValue> }
  readonly kvlistValue?: { readonly values?: ReadonlyArray<PlainKeyValue> }
  /** base64 */
  readonly bytesValue?: string
  /** For the profiles signal's string table; never in logs. */
  readonly stringValueStrindex?: number
}

export interface PlainKeyValue {
  readonly key?: string
  readonly value?: PlainAnyValue
}

export interface PlainLogRecord {
  readonly timeUnixNano?: string
  readonly observedTimeUnixNano?: string
  readonly severityNumber?: number
  readonly severityText?: string
  readonly body?: PlainAnyValue
  readonly attributes?: ReadonlyArray<PlainKeyValue>
  readonly droppedAttributesCount?: number
  readonly flags?: number
  /** base64 (hex only in OTLP/JSON) */
  readonly traceId?: string
  readonly spanId?: string
  readonly eventName?: string
}

export interface PlainExportLogsServiceRequest {
  readonly resourceLogs?: ReadonlyArray<{
    readonly resource?: { readonly attributes?: ReadonlyArray<PlainKeyValue>; readonly droppedAttributesCount?: number }
    readonly scopeLogs?: ReadonlyArray<{
      readonly scope?: {
        readonly name?: string
        readonly version?: string
        readonly attributes?: ReadonlyArray<PlainKeyValue>
      }
      readonly logRecords?: ReadonlyArray<PlainLogRecord>
      readonly schemaUrl?: string
    }>
    readonly schemaUrl?: string
  }>
}

/**
 * An AnyValue as a JS value: string, boolean, bigint (an int, exact), number
 * (a double), array, object (a kvlist), string (bytes, base64 as decoded);
 * null when no value is set. Throws on a kvlist with a key twice.
 */
export const anyValue = (v: PlainAnyValue | null | undefined): unknown => {
  if (v === null || v === undefined) return null
  if (v.stringValue !== undefined) return v.stringValue
  if (v.boolValue !== undefined) return v.boolValue
  // String() so that a protobuf.js Long (toObject without `longs: String`) is exact too.
  if (v.intValue !== undefined) return BigInt(String(v.intValue))
  if (v.doubleValue !== undefined) return v.doubleValue
  if (v.arrayValue !== undefined) return (v.arrayValue.values ?? []).map(anyValue)
  if (v.kvlistValue !== undefined) return attributes(v.kvlistValue.values ?? [])
  if (v.bytesValue !== undefined) return v.bytesValue
  if (v.stringValueStrindex !== undefined) {
    throw new Error("stringValueStrindex is set: it indexes the profiles signal's string table, which logs do not have")
  }
  return null
}

/** A KeyValue list as an object; keys MUST be unique (the data model's attribute collections), so a repeated key throws. */
export const attributes = (list: ReadonlyArray<PlainKeyValue> | null | undefined): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  for (const kv of list ?? []) {
    const key = kv.key ?? ""
    if (Object.hasOwn(out, key)) throw new Error(`the key ${JSON.stringify(key)} is there twice`)
    // defineProperty: a key "__proto__" is a key like any other.
    Object.defineProperty(out, key, { value: anyValue(kv.value), enumerable: true, writable: true, configurable: true })
  }
  return out
}

/** One log record as kept, with what its envelopes say about it. */
export interface Received {
  /** The resource's attributes. */
  readonly resource: Record<string, unknown>
  readonly scope: { readonly name: string; readonly version: string }
  /** Decimal nanoseconds; "0" when unset. */
  readonly timeUnixNano: string
  readonly observedTimeUnixNano: string
  /** Absent when unset (0, SEVERITY_NUMBER_UNSPECIFIED, is the same on the wire). */
  readonly severityNumber?: number
  readonly severityText?: string
  /** `anyValue` of the body; undefined when the record has none. */
  readonly body: unknown
  readonly attributes: Record<string, unknown>
  /** Lowercase hex, as OTLP/JSON writes them; absent when empty. */
  readonly traceId?: string
  readonly spanId?: string
  readonly eventName?: string
  /** The record in the plain form. */
  readonly raw: PlainLogRecord
}

const hexOf = (base64: string | undefined): string | undefined =>
  base64 === undefined || base64 === "" ? undefined : Buffer.from(base64, "base64").toString("hex")

/** Runs `f`, a throw from it prefixed with where it was. */
const at = <A>(where: string, f: () => A): A => {
  try {
    return f()
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`)
  }
}

/** Every log record of a request, flattened; throws where `attributes` does, saying where. */
export const flattenLogs = (request: PlainExportLogsServiceRequest): Array<Received> => {
  const out: Array<Received> = []
  ;(request.resourceLogs ?? []).forEach((rl, i) => {
    const resource = at(`resourceLogs[${i}].resource.attributes`, () => attributes(rl.resource?.attributes))
    ;(rl.scopeLogs ?? []).forEach((sl, j) => {
      const scope = { name: sl.scope?.name ?? "", version: sl.scope?.version ?? "" }
      // Checked for repeated keys, not kept.
      at(`resourceLogs[${i}].scopeLogs[${j}].scope.attributes`, () => attributes(sl.scope?.attributes))
      ;(sl.logRecords ?? []).forEach((raw, k) => {
        const where = `resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}]`
        const traceId = hexOf(raw.traceId)
        const spanId = hexOf(raw.spanId)
        out.push({
          resource,
          scope,
          timeUnixNano: raw.timeUnixNano ?? "0",
          observedTimeUnixNano: raw.observedTimeUnixNano ?? "0",
          ...(raw.severityNumber === undefined || raw.severityNumber === 0 ? {} : { severityNumber: raw.severityNumber }),
          ...(raw.severityText === undefined || raw.severityText === "" ? {} : { severityText: raw.severityText }),
          body: raw.body === undefined ? undefined : at(`${where}.body`, () => anyValue(raw.body)),
          attributes: at(`${where}.attributes`, () => attributes(raw.attributes)),
          ...(traceId === undefined ? {} : { traceId }),
          ...(spanId === undefined ? {} : { spanId }),
          ...(raw.eventName === undefined || raw.eventName === "" ? {} : { eventName: raw.eventName }),
          raw
        })
      })
    })
  })
  return out
}

/** The byte lengths the data model gives `traceId` and `spanId` when they are not empty. */
const idProblems = (request: PlainExportLogsServiceRequest): Array<string> => {
  const problems: Array<string> = []
  ;(request.resourceLogs ?? []).forEach((rl, i) =>
    (rl.scopeLogs ?? []).forEach((sl, j) =>
      (sl.logRecords ?? []).forEach((r, k) => {
        for (const [field, size] of [["traceId", 16], ["spanId", 8]] as const) {
          const bytes = Buffer.from(r[field] ?? "", "base64").length
          if (bytes !== 0 && bytes !== size) {
            problems.push(`resourceLogs[${i}].scopeLogs[${j}].logRecords[${k}].${field}: ${bytes} bytes, not ${size} (or none)`)
          }
        }
      })
    )
  )
  return problems
}

// ---------------------------------------------------------------------------
// OTLP/JSON: checked field by field against the schema, then read through it.

const INT64 = new Set(["int64", "sint64", "sfixed64"])
const UINT64 = new Set(["uint64", "fixed64"])
const INT32 = new Set(["int32", "sint32", "sfixed32"])
const UINT32 = new Set(["uint32", "fixed32"])
/** The fields OTLP/JSON writes in hex instead of base64. */
const HEX_BYTES = new Set(["traceId", "spanId", "parentSpanId"])

const camel = (name: string) => name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())
const show = (v: unknown) =>
  typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? "an array" : typeof v === "object" && v !== null ? "an object" : String(v)

const inRange = (v: bigint, min: bigint, max: bigint) => v >= min && v <= max

/**
 * Checks one JSON value (one element, for a repeated field) against a field
 * of the schema, pushing what breaks the mapping into `problems`; returns
 * the value as `fromObject` takes it (hex ids turned to base64). 32-bit
 * integers and doubles may be strings too, as the mapping reads them.
 */
const checkValue = (field: protobuf.Field, v: unknown, at: string, problems: Array<string>): unknown => {
  const type = field.resolvedType
  if (type instanceof protobuf.Type) return checkMessage(type, v, at, problems)
  if (type instanceof protobuf.Enum) {
    if (typeof v === "string") problems.push(`${at}: the enum name ${show(v)}; OTLP/JSON writes enums as integers`)
    else if (typeof v !== "number" || !Number.isInteger(v) || !inRange(BigInt(v), -(2n ** 31n), 2n ** 31n - 1n)) {
      problems.push(`${at}: ${show(v)} is not an integer enum value`)
    }
    return v
  }
  const t = field.type
  if (INT64.has(t) || UINT64.has(t)) {
    const unsigned = UINT64.has(t)
    if (typeof v === "number") {
      problems.push(`${at}: the JSON number ${show(v)}; OTLP/JSON writes 64-bit integers (${t}) as decimal strings`)
    } else if (typeof v !== "string" || !(unsigned ? /^\d+$/ : /^-?\d+$/).test(v)) {
      problems.push(`${at}: ${show(v)} is not a decimal string (${t})`)
    } else if (!(unsigned ? inRange(BigInt(v), 0n, 2n ** 64n - 1n) : inRange(BigInt(v), -(2n ** 63n), 2n ** 63n - 1n))) {
      problems.push(`${at}: ${v} is out of range for ${t}`)
    }
    return v
  }
  if (INT32.has(t) || UINT32.has(t)) {
    const [min, max] = INT32.has(t) ? [-(2n ** 31n), 2n ** 31n - 1n] : [0n, 2n ** 32n - 1n]
    const ok = (typeof v === "number" && Number.isInteger(v) && inRange(BigInt(v), min, max)) ||
      (typeof v === "string" && /^-?\d+$/.test(v) && inRange(BigInt(v), min, max))
    if (!ok) problems.push(`${at}: ${show(v)} is not a ${t}`)
    return v
  }
  switch (t) {
    case "double":
    case "float":
      if (
        typeof v !== "number" &&
        !(typeof v === "string" && (v === "NaN" || v === "Infinity" || v === "-Infinity" || (v.trim() !== "" && Number.isFinite(Number(v)))))
      ) problems.push(`${at}: ${show(v)} is not a ${t}`)
      return v
    case "bool":
      if (typeof v !== "boolean") problems.push(`${at}: ${show(v)} is not a boolean`)
      return v
    case "string":
      if (typeof v !== "string") problems.push(`${at}: ${show(v)} is not a string`)
      return v
    case "bytes":
      if (HEX_BYTES.has(field.name)) {
        if (typeof v !== "string" || !/^([0-9a-fA-F]{2})*$/.test(v)) {
          problems.push(`${at}: ${show(v)} is not hex; OTLP/JSON writes ${field.name} in hex, not base64`)
          return v
        }
        return Buffer.from(v, "hex").toString("base64")
      }
      if (typeof v !== "string" || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) problems.push(`${at}: ${show(v)} is not base64`)
      return typeof v === "string" ? Buffer.from(v, "base64").toString("base64") : v
    default:
      problems.push(`${at}: a field of type ${t}, which this receiver does not know`)
      return v
  }
}

const checkMessage = (type: protobuf.Type, v: unknown, at: string, problems: Array<string>): unknown => {
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    problems.push(`${at || "the body"}: ${show(v)} is not an object (${type.name})`)
    return {}
  }
  const out: Record<string, unknown> = {}
  const oneofs = new Map<string, Array<string>>()
  for (const [key, value] of Object.entries(v)) {
    const where = at === "" ? key : `${at}.${key}`
    const field = Object.hasOwn(type.fields, key) ? type.fields[key] : undefined
    if (field === undefined) {
      const known = Object.hasOwn(type.fields, camel(key)) ? camel(key) : undefined
      if (known !== undefined && known !== key) {
        problems.push(`${where}: the proto field name; OTLP/JSON keys are lowerCamelCase ("${known}")`)
      }
      // Any other unknown key is ignored: OTLP/JSON receivers MUST, so that new fields do not break old receivers.
      continue
    }
    // null is the mapping's "not set".
    if (value === null) continue
    if (field.partOf !== null) oneofs.set(field.partOf.name, [...(oneofs.get(field.partOf.name) ?? []), key])
    if (field.repeated) {
      if (!Array.isArray(value)) {
        problems.push(`${where}: ${show(value)} is not an array`)
        continue
      }
      out[key] = value.map((item, i) => checkValue(field, item, `${where}[${i}]`, problems))
    } else {
      out[key] = checkValue(field, value, where, problems)
    }
  }
  for (const [name, set] of oneofs) {
    if (set.length > 1) problems.push(`${at || type.name}: ${set.join(" and ")} are both set, but are one of ${name}`)
  }
  return out
}

/** Problems past this many are counted, not listed. */
const MAX_PROBLEMS = 20

/** OTLP/JSON to the plain form, or the problems that refuse it. */
export const readJson = (
  text: string
):
  | { readonly ok: true; readonly request: PlainExportLogsServiceRequest }
  | { readonly ok: false; readonly problems: ReadonlyArray<string> } =>
{
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (e) {
    return { ok: false, problems: [`the body is not JSON: ${(e as Error).message}`] }
  }
  const { ExportLogsServiceRequest } = logsSchema()
  const problems: Array<string> = []
  const checked = checkMessage(ExportLogsServiceRequest, parsed, "", problems)
  if (problems.length > 0) return { ok: false, problems: capped(problems) }
  // Through the binary form, so that JSON ends exactly where protobuf does.
  const wire = ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(checked as Record<string, unknown>)).finish()
  return { ok: true, request: readProtobuf(wire) }
}

/** Binary protobuf to the plain form; throws when it does not decode. */
export const readProtobuf = (bytes: Uint8Array): PlainExportLogsServiceRequest => {
  const { ExportLogsServiceRequest } = logsSchema()
  return ExportLogsServiceRequest.toObject(ExportLogsServiceRequest.decode(bytes), plainOptions) as PlainExportLogsServiceRequest
}

const capped = (problems: Array<string>) =>
  problems.length <= MAX_PROBLEMS ? problems : [...problems.slice(0, MAX_PROBLEMS), `and ${problems.length - MAX_PROBLEMS} more`]

// ---------------------------------------------------------------------------
// google.rpc.Status, the body of every OTLP/HTTP 4xx and 5xx. Not in the
// logs schema; `code` and `message` as googleapis' google/rpc/status.proto
// numbers them (its `details`, 3, is left out: nothing here sends any).

const statusType = new protobuf.Type("Status")
  .add(new protobuf.Field("code", 1, "int32"))
  .add(new protobuf.Field("message", 2, "string"))
new protobuf.Root().define("google.rpc").add(statusType)

/** The gRPC code closest to an HTTP status (the spec does not use it; clients MAY log it). */
const rpcCode = (status: number): number =>
  ({ 400: 3, 401: 16, 403: 7, 404: 5, 409: 10, 413: 3, 429: 8, 499: 1, 500: 13, 501: 12, 502: 14, 503: 14, 504: 4 } as Record<number, number>)[
    status
  ] ?? 2

export interface RpcStatus {
  readonly code?: number
  readonly message?: string
}

/** A Status reply body read back, protobuf or JSON by its content type (for tests of what a client gets). */
export const readStatus = (body: Uint8Array, contentType: string | null): RpcStatus =>
  mediaType(contentType ?? undefined) === JSON_TYPE
    ? JSON.parse(Buffer.from(body).toString("utf8")) as RpcStatus
    : statusType.toObject(statusType.decode(body), { defaults: false }) as RpcStatus

// ---------------------------------------------------------------------------
// The receiver.

/** What to do with one request instead of (or on top of) the normal answer. */
export type Fault =
  /** Answers this status, keeps nothing; `retryAfter` goes out verbatim as Retry-After; `body` as text (else a Status). */
  | { readonly kind: "status"; readonly status: number; readonly retryAfter?: string; readonly body?: string }
  /** 200 with `partialSuccess: { rejectedLogRecords, errorMessage }`; every record is kept all the same. */
  | { readonly kind: "partial"; readonly rejected: number; readonly message: string }
  /** When any record matches, 400 (a Status naming how many) and nothing kept; else the normal answer. */
  | { readonly kind: "reject-record"; readonly where: (r: Received) => boolean }
  /** Waits, then keeps and answers; a client gone before then leaves nothing kept. */
  | { readonly kind: "slow"; readonly millis: number }
  /** Keeps the records at once, answers after the delay: a reply lost to a timeout means a re-send. */
  | { readonly kind: "late-reply"; readonly millis: number }
  /** Destroys the connection without a reply; nothing kept. */
  | { readonly kind: "drop" }

export interface Request {
  readonly method: string
  /** The path and query, as sent. */
  readonly url: string
  /** The Content-Type header as sent. */
  readonly contentType: string | undefined
  readonly encoding: string | undefined
  /** The body's bytes as received, before any gunzip. */
  readonly wireBytes: number
  /** Log records in the body (0 when it did not decode). */
  readonly records: number
  readonly headers: http.IncomingHttpHeaders
  /** Why the request was refused (a 4xx of the receiver's own); empty otherwise. */
  readonly problems: ReadonlyArray<string>
  /** The partial success it was answered, if any. */
  readonly partial?: { readonly rejected: number; readonly message: string }
  /** The status answered; "dropped" for a connection destroyed instead; undefined while not answered yet. */
  readonly status: number | "dropped" | undefined
}

/** A request as it is filled in while answered. */
type Entry = { -readonly [K in keyof Request]: Request[K] } & { problems: Array<string> }

export interface Options {
  /** The path to take requests on; "/v1/logs" by default. */
  readonly path?: string
  /** Headers every request must carry (name, case-insensitive → exact value); else 401. */
  readonly headers?: Record<string, string>
  /** The body limit, on the wire and after gunzip; the spec's recommended 20 MiB by default. */
  readonly maxBytes?: number
}

const PROTOBUF_TYPE = "application/x-protobuf"
const JSON_TYPE = "application/json"

/** The media type of a Content-Type, lowercase, without parameters. */
const mediaType = (header: string | undefined) => header?.split(";")[0]!.trim().toLowerCase()

export class FakeOtlp {
  /** Every request, in order of arrival, whatever its path or answer. */
  readonly requests: Array<Request> = []
  /** Every log record of every request it kept (answered 200), in order. */
  readonly received: Array<Received> = []
  /** Decides a fault for request number `n` (1-based, `requests[n - 1]`) that decoded; none by default. */
  fault: (n: number, records: ReadonlyArray<Received>) => Fault | undefined = () => undefined
  private readonly sockets = new Set<Socket>()
  private readonly required: ReadonlyArray<readonly [string, string]>

  private constructor(readonly server: http.Server, readonly path: string, headers: Record<string, string>, readonly maxBytes: number) {
    this.required = Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v] as const)
    server.on("connection", (socket) => {
      this.sockets.add(socket)
      socket.on("close", () => this.sockets.delete(socket))
    })
  }

  /** Listens on 127.0.0.1 (only), on a free port. */
  static async start(options: Options = {}): Promise<FakeOtlp> {
    logsSchema() // a missing schema fails here, not in the first request
    let self: FakeOtlp | undefined
    const server = http.createServer((req, res) => self!.handle(req, res))
    self = new FakeOtlp(server, options.path ?? "/v1/logs", options.headers ?? {}, options.maxBytes ?? 20 * 1024 * 1024)
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(0, "127.0.0.1", resolve)
    })
    return self
  }

  /** `http://127.0.0.1:PORT` */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** Where to send logs: `url` and the path. */
  get endpoint(): string {
    return this.url + this.path
  }

  /** Log records kept. */
  get records(): number {
    return this.received.length
  }

  /** Bytes received on the wire in all requests' bodies, before gunzip. */
  get wireBytes(): number {
    return this.requests.reduce((sum, r) => sum + r.wireBytes, 0)
  }

  /** Destroys open connections (so that it never waits on a client's keep-alive or a pending reply) and stops listening. */
  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Array<Buffer> = []
    let size = 0
    // A client gone mid-body: no answer is owed, and no 'end' comes.
    req.on("error", () => {})
    req.on("data", (c: Buffer) => {
      size += c.length
      // Past the limit the bytes are counted, not kept.
      if (size <= this.maxBytes) chunks.push(c)
    })
    req.on("end", () => this.answer(req, res, Buffer.concat(chunks), size))
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse, wire: Buffer, wireBytes: number): void {
    const contentType = req.headers["content-type"]
    const encoding = req.headers["content-encoding"]
    const entry: Entry = {
      method: req.method ?? "",
      url: req.url ?? "",
      contentType,
      encoding,
      wireBytes,
      records: 0,
      headers: req.headers,
      problems: [],
      status: undefined
    }
    this.requests.push(entry)
    const n = this.requests.length
    const json = mediaType(contentType) === JSON_TYPE

    const send = (status: number, headers: http.OutgoingHttpHeaders, body: string | Uint8Array) => {
      if (res.destroyed) return
      entry.status = status
      res.writeHead(status, { ...headers, "content-length": Buffer.byteLength(body) })
      res.end(body)
    }
    /** A refusal of the receiver's own, before the body is understood: text, as an HTTP server or a proxy in front answers. */
    const text = (status: number, message: string, headers: http.OutgoingHttpHeaders = {}) => {
      entry.problems.push(message)
      send(status, { ...headers, "content-type": "text/plain; charset=utf-8" }, message)
    }
    /** A Status in the request's format, as the spec wants for every 4xx and 5xx. */
    const status = (code: number, message: string, headers: http.OutgoingHttpHeaders = {}) =>
      json
        ? send(code, { ...headers, "content-type": JSON_TYPE }, JSON.stringify({ code: rpcCode(code), message }))
        : send(code, { ...headers, "content-type": PROTOBUF_TYPE }, statusType.encode(statusType.fromObject({ code: rpcCode(code), message })).finish())
    const refuse = (code: number, problems: ReadonlyArray<string>) => {
      entry.problems.push(...problems)
      status(code, problems.join("; "))
    }

    if (new URL(req.url ?? "/", "http://127.0.0.1").pathname !== this.path) return text(404, `404 page not found: ${req.url}`)
    if (req.method !== "POST") return text(405, `405 method not allowed, supported: [POST]`, { allow: "POST" })
    for (const [name, value] of this.required) {
      const got = req.headers[name]
      if (got === undefined) return text(401, `401 unauthorized: no ${name} header`)
      if (got !== value) return text(401, `401 unauthorized: the ${name} header is not the expected one`)
    }
    const coding = encoding?.trim().toLowerCase()
    if (coding !== undefined && coding !== "" && coding !== "identity" && coding !== "gzip") {
      return text(415, `415 unsupported content encoding ${JSON.stringify(encoding)}, supported: [gzip, identity]`)
    }
    if (!json && mediaType(contentType) !== PROTOBUF_TYPE) {
      return text(415, `415 unsupported media type ${JSON.stringify(contentType ?? "")}, supported: [${JSON_TYPE}, ${PROTOBUF_TYPE}]`)
    }
    if (wireBytes > this.maxBytes) return refuse(413, [`the body is ${wireBytes} bytes on the wire, over the limit of ${this.maxBytes}`])

    let body: Buffer
    try {
      body = coding === "gzip" ? zlib.gunzipSync(wire, { maxOutputLength: this.maxBytes }) : wire
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE"
        ? refuse(413, [`the body is over the limit of ${this.maxBytes} bytes after gunzip`])
        : refuse(400, [`the body does not gunzip: ${(e as Error).message}`])
    }

    let request: PlainExportLogsServiceRequest
    if (json) {
      const read = readJson(body.toString("utf8"))
      if (!read.ok) return refuse(400, read.problems)
      request = read.request
    } else {
      try {
        request = readProtobuf(body)
      } catch (e) {
        return refuse(400, [`the body is not an ExportLogsServiceRequest: ${(e as Error).message}`])
      }
    }
    let records: Array<Received>
    try {
      records = flattenLogs(request)
    } catch (e) {
      return refuse(400, [(e as Error).message])
    }
    entry.records = records.length
    const ids = idProblems(request)
    if (ids.length > 0) return refuse(400, capped(ids))

    /** The normal answer: an ExportLogsServiceResponse, partialSuccess unset unless given. */
    const success = (partial?: { readonly rejected: number; readonly message: string }) => {
      const { ExportLogsServiceResponse } = logsSchema()
      const message = ExportLogsServiceResponse.fromObject(
        partial === undefined ? {} : { partialSuccess: { rejectedLogRecords: partial.rejected, errorMessage: partial.message } }
      )
      if (partial !== undefined) entry.partial = { rejected: partial.rejected, message: partial.message }
      json
        ? send(200, { "content-type": JSON_TYPE }, JSON.stringify(ExportLogsServiceResponse.toObject(message, plainOptions)))
        : send(200, { "content-type": PROTOBUF_TYPE }, ExportLogsServiceResponse.encode(message).finish())
    }
    const keep = () => this.received.push(...records)
    /** Runs `f` after `millis` unless the client is gone by then. */
    const later = (millis: number, f: () => void) => {
      const timer = setTimeout(f, millis)
      res.on("close", () => clearTimeout(timer))
    }

    const fault = this.fault(n, records)
    switch (fault?.kind) {
      case undefined:
        keep()
        return success()
      case "status":
        return fault.body !== undefined
          ? send(fault.status, { "content-type": "text/plain; charset=utf-8", ...retryAfter(fault) }, fault.body)
          : status(fault.status, `injected ${fault.status}`, retryAfter(fault))
      case "partial":
        keep()
        return success({ rejected: fault.rejected, message: fault.message })
      case "reject-record": {
        const refused = records.filter(fault.where).length
        if (refused === 0) {
          keep()
          return success()
        }
        return refuse(400, [`${refused} of ${records.length} log records refused; the request is refused whole`])
      }
      case "slow":
        return later(fault.millis, () => {
          keep()
          success()
        })
      case "late-reply":
        keep()
        return later(fault.millis, () => success())
      case "drop":
        entry.status = "dropped"
        return void req.socket.destroy()
    }
  }
}

const retryAfter = (fault: { readonly retryAfter?: string }): http.OutgoingHttpHeaders =>
  fault.retryAfter === undefined ? {} : { "retry-after": fault.retryAfter }
