/**
 * Events as OTLP LogRecords, in the shape protobuf.js encodes and the
 * OTLP/JSON mapping writes (camelCase fields; in JSON, 64-bit integers as
 * decimal strings).
 *
 * An event's data (its fields and context, as the text of a JSON object) is
 * read once, straight into attributes: nested objects become key-value
 * lists, arrays arrays, integers ints, fractions doubles, and an integer
 * beyond 64 bits its exact digits as a string (`JSON.parse` would round it).
 * Nulls are left out. A key given twice keeps its last value, as
 * `JSON.parse` would.
 *
 * @internal
 */
import type { OutboundEvent } from "../../Enrich.js"

/** An OTLP `AnyValue`: one of its fields set (none: an empty value, JSON's null inside arrays). */
export type AnyValue =
  | { readonly stringValue: string }
  | { readonly boolValue: boolean }
  | { readonly intValue: number | string }
  | { readonly doubleValue: number }
  | { readonly arrayValue: { readonly values: ReadonlyArray<AnyValue> } }
  | { readonly kvlistValue: { readonly values: ReadonlyArray<KeyValue> } }
  | Record<string, never>

export interface KeyValue {
  readonly key: string
  readonly value: AnyValue
}

/** How 64-bit integers are written: numbers where exact (protobuf), or always decimal strings (JSON). */
export type Ints = "protobuf" | "json"

/** Severity numbers of the OTLP data model. */
export const SEVERITY_INFO = 9
export const SEVERITY_ERROR = 17

const INT = /^-?[0-9]+$/
const INT64_MAX = 9223372036854775807n
const INT64_MIN = -9223372036854775808n

/** A JSON number's text as an AnyValue, exactly. */
const numberValue = (text: string, ints: Ints): AnyValue => {
  if (!INT.test(text)) return { doubleValue: Number(text) }
  // Up to 15 digits is always a safe integer.
  if (text.length <= 15) return { intValue: ints === "json" ? text : Number(text) }
  const big = BigInt(text)
  if (big > INT64_MAX || big < INT64_MIN) return { stringValue: text }
  // Exact either way: protobuf.js reads a decimal string as a 64-bit integer.
  return { intValue: Number.isSafeInteger(Number(text)) && ints === "protobuf" ? Number(text) : big.toString() }
}

/** What the record needs of the event besides its attributes. */
export interface Noted {
  failed: boolean
  name: string | undefined
  error: string | undefined
  processId: string | undefined
  nonce: string | undefined
  cron: string | undefined
}

/** Top-level fields whose (string) value names the event, first found wins. */
const NAMES = new Set(["Action", "action", "Event", "event", "name", "Name"])

/** A one-pass reader of JSON text (valid: the vacuum wrote it) into AnyValues; one, reused, for every event. */
class Reader {
  i = 0
  s = ""
  ints: Ints = "protobuf"
  reset(s: string, ints: Ints, at: number): void {
    this.s = s
    this.ints = ints
    this.i = at
  }

  private space(): void {
    const s = this.s
    let c = s.charCodeAt(this.i)
    while (c === 32 || c === 10 || c === 13 || c === 9) c = s.charCodeAt(++this.i)
  }

  private string(): string {
    const s = this.s
    const start = this.i + 1
    let i = start
    let escaped = false
    for (;;) {
      const c = s.charCodeAt(i)
      if (c === 34) break
      if (c === 92) {
        escaped = true
        i += 2
      } else {
        i++
      }
      if (i > s.length) throw new Error("unterminated string")
    }
    this.i = i + 1
    // Escapes are decoded by the real parser, so they follow JSON exactly.
    return escaped ? (JSON.parse(s.slice(start - 1, i + 1)) as string) : s.slice(start, i)
  }

  value(): AnyValue | null {
    this.space()
    const s = this.s
    const c = s.charCodeAt(this.i)
    if (c === 34) return { stringValue: this.string() }
    if (c === 123) return { kvlistValue: { values: this.object(undefined) } }
    if (c === 91) return { arrayValue: { values: this.array() } }
    if (c === 116) {
      this.i += 4
      return { boolValue: true }
    }
    if (c === 102) {
      this.i += 5
      return { boolValue: false }
    }
    if (c === 110) {
      this.i += 4
      return null
    }
    const start = this.i
    let i = start
    for (;;) {
      const d = s.charCodeAt(i)
      // - + . 0-9 e E
      if (d === 45 || d === 43 || d === 46 || (d >= 48 && d <= 57) || d === 101 || d === 69) i++
      else break
    }
    if (i === start) throw new Error(`unexpected ${JSON.stringify(s[start] ?? "end")} at ${start}`)
    this.i = i
    return numberValue(s.slice(start, i), this.ints)
  }

  private array(): Array<AnyValue> {
    const out: Array<AnyValue> = []
    this.i++
    this.space()
    if (this.s.charCodeAt(this.i) === 93) {
      this.i++
      return out
    }
    for (;;) {
      out.push(this.value() ?? {})
      this.space()
      const c = this.s.charCodeAt(this.i++)
      if (c === 93) return out
      if (c !== 44) throw new Error(`expected , or ] at ${this.i - 1}`)
    }
  }

  /** An object's members, nulls left out; `noted` (top level only) collects what the record needs. */
  object(noted: Noted | undefined): Array<KeyValue> {
    const out: Array<KeyValue> = []
    // A repeated key is found by looking back over the few before it, or through a map in a large object.
    let at: Map<string, number> | undefined
    this.i++
    this.space()
    if (this.s.charCodeAt(this.i) === 125) {
      this.i++
      return out
    }
    for (;;) {
      this.space()
      const key = this.string()
      this.space()
      if (this.s.charCodeAt(this.i++) !== 58) throw new Error(`expected : at ${this.i - 1}`)
      const value = this.value()
      if (value !== null) {
        if (noted !== undefined) note(noted, key, value)
        // A key seen again keeps its last value, in its first place.
        let seen: number | undefined
        if (at === undefined && out.length >= 32) {
          at = new Map()
          for (let k = 0; k < out.length; k++) at.set(out[k]!.key, k)
        }
        if (at !== undefined) seen = at.get(key)
        else {
          for (let k = 0; k < out.length; k++) {
            if (out[k]!.key === key) {
              seen = k
              break
            }
          }
        }
        if (seen === undefined) {
          at?.set(key, out.length)
          out.push({ key, value })
        } else {
          out[seen] = { key, value }
        }
      }
      this.space()
      const c = this.s.charCodeAt(this.i++)
      if (c === 125) return out
      if (c !== 44) throw new Error(`expected , or } at ${this.i - 1}`)
    }
  }
}

const note = (noted: Noted, key: string, value: AnyValue): void => {
  const text = "stringValue" in value ? value.stringValue : undefined
  if (key === "failed") noted.failed = "boolValue" in value && value.boolValue === true
  else if (key === "processId") noted.processId = text
  else if (key === "nonce") noted.nonce = "intValue" in value ? String(value.intValue) : text
  else if (key === "cron") noted.cron = text
  else if (key === "Error" || key === "error") noted.error ??= text
  else if (noted.name === undefined && text !== undefined && NAMES.has(key)) noted.name = text
}

/**
 * The event's data as attributes, and what the record's severity, name and
 * body are made of. Throws on text that is not a JSON object.
 */
const reader = new Reader()

export const readEvent = (data: string, ints: Ints): { readonly attributes: Array<KeyValue>; readonly noted: Noted } => {
  const noted: Noted = { failed: false, name: undefined, error: undefined, processId: undefined, nonce: undefined, cron: undefined }
  let start = 0
  while (data.charCodeAt(start) === 32 || data.charCodeAt(start) === 10 || data.charCodeAt(start) === 9) start++
  if (data.charCodeAt(start) !== 123) throw new Error("the event's data is not a JSON object")
  reader.reset(data, ints, start)
  try {
    return { attributes: reader.object(noted), noted }
  } finally {
    reader.reset("", ints, 0)
  }
}

const clipped = (text: string, max: number): string => (text.length > max ? `${text.slice(0, max)}…` : text)

/**
 * The line a log view shows: the event's name (its `Action`, `Event` or
 * `name` field; `event` when it has none), `failed` and the error text for
 * an event of a failed evaluation, then where it came from.
 */
export const bodyOf = (noted: Noted): string => {
  let line = noted.name ?? "event"
  if (noted.failed) line += " failed"
  if (noted.error !== undefined) line += `: ${clipped(noted.error, 200)}`
  const where: Array<string> = []
  if (noted.processId !== undefined) where.push(`process ${noted.processId}`)
  if (noted.nonce !== undefined) where.push(`nonce ${noted.nonce}`)
  if (noted.cron !== undefined) where.push(`cron ${noted.cron}`)
  return where.length === 0 ? line : `${line} (${where.join(", ")})`
}

const TWO_16 = 65_536
const TWO_32 = 4_294_967_296

/**
 * Epoch milliseconds as nanoseconds, exactly: for protobuf the two 32-bit
 * halves protobuf.js writes a fixed64 from, for JSON the decimal string.
 */
export const nanos = (millis: number, ints: Ints): string | { readonly low: number; readonly high: number } => {
  const ms = Math.max(0, Math.round(millis))
  if (ints === "json") return ms === 0 ? "0" : `${ms}000000`
  // ms * 10^6 in halves, every step exact in a double: ms = hi * 2^16 + lo.
  const a = Math.floor(ms / TWO_16) * 1_000_000
  const b = (ms % TWO_16) * 1_000_000
  const t = (a % TWO_16) * TWO_16 + b
  return { low: t % TWO_32, high: Math.floor(a / TWO_16) + Math.floor(t / TWO_32) }
}

/** One LogRecord: the event's time, when it was sent, its severity, name and body, and its fields as attributes. */
export interface LogRecord {
  readonly timeUnixNano: string | { readonly low: number; readonly high: number }
  readonly observedTimeUnixNano: string | { readonly low: number; readonly high: number }
  readonly severityNumber: number
  readonly severityText: string
  readonly body: AnyValue
  readonly attributes: ReadonlyArray<KeyValue>
  /** The event's name; an empty string (left off the wire) when it has none. */
  readonly eventName: string
}

/**
 * The event as a LogRecord, observed at `observed` (ns, as {@link nanos}
 * gives it). A sample rate over 1 is the attribute `SampleRate`, as
 * Honeycomb reads it.
 */
export const toLogRecord = (
  event: OutboundEvent,
  observed: LogRecord["observedTimeUnixNano"],
  ints: Ints
): LogRecord => {
  const { attributes, noted } = readEvent(event.data, ints)
  const rate = event.sampleRate
  if (rate !== undefined && rate > 1) attributes.push({ key: "SampleRate", value: { intValue: ints === "json" ? String(rate) : rate } })
  // One shape for every record: an absent name is the empty string, which protobuf leaves off the wire.
  return {
    timeUnixNano: nanos(event.time, ints),
    observedTimeUnixNano: observed,
    severityNumber: noted.failed ? SEVERITY_ERROR : SEVERITY_INFO,
    severityText: noted.failed ? "ERROR" : "INFO",
    body: { stringValue: bodyOf(noted) },
    attributes,
    eventName: noted.name ?? ""
  }
}
