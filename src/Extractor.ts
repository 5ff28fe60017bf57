/**
 * The extractor: from one evaluation's log text to the events in it, with an
 * account of every line.
 *
 * An event is a line holding a JSON object whose `_e` is the number 1. Every
 * other line is counted, not parsed: a line is only handed to `JSON.parse`
 * when its first non-blank character is `{` and it contains `"_e"`, so prompts,
 * ANSI colours and stack traces cost a character comparison each.
 *
 * Two top-level fields are read as well: the event's time (`timestamp` or
 * `Timestamp`, taken out of its fields) and its sample rate (`sampleRate`,
 * for a process that sampled itself, left in its fields).
 *
 * @since 0.1.0
 */
import { Either, ParseResult, Schema } from "effect"
import { toEventTime } from "./internal/extract/eventTime.js"
import { defineField, parseLenient } from "./internal/extract/lenientJson.js"
import { toSampleRate } from "./internal/extract/sampleRate.js"
import {
  KEY_E,
  KEY_RESERVED,
  KEY_SAMPLE_RATE,
  KEY_TIMESTAMP,
  KEY_TIMESTAMP_CAP,
  NO_RESERVED_KEYS,
  ReservedKeys,
  SCAN_OK,
  SCAN_SYNTAX,
  scanEvent,
  ScanOut
} from "./internal/extract/scanEvent.js"

const PositiveInt = (max: number) => Schema.Int.pipe(Schema.positive(), Schema.lessThanOrEqualTo(max))

/**
 * Limits on a single event, by bytes and shape. Defaults follow Honeycomb's
 * limits: events under 1 MB, 2,000 fields, strings of 64 KB.
 *
 * @since 0.1.0
 */
export const Limits = Schema.Struct({
  /** Longest event line, in UTF-8 bytes. */
  maxLineBytes: PositiveInt(64 * 1024 * 1024),
  /** Deepest nesting of objects and arrays; the event object itself is depth 1. */
  maxDepth: PositiveInt(1_000),
  /** Most fields: the keys of the event and of objects nested in it (not in arrays), `_e` excluded. */
  maxFields: PositiveInt(1_000_000),
  /** Longest string value, in UTF-8 bytes. */
  maxStringBytes: PositiveInt(64 * 1024 * 1024)
})

/**
 * @since 0.1.0
 */
export type Limits = typeof Limits.Type

/**
 * The default limits.
 *
 * @since 0.1.0
 */
export const defaultLimits: Limits = {
  maxLineBytes: 1_000_000,
  maxDepth: 32,
  maxFields: 2_000,
  maxStringBytes: 65_536
}

/**
 * Limits that fail validation: not positive integers, or absurdly large.
 *
 * @since 0.1.0
 */
export class InvalidLimitsError extends Schema.TaggedError<InvalidLimitsError>()("InvalidLimitsError", {
  issues: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `Invalid extractor limits: ${this.issues.join("; ")}`
  }
}

/**
 * Completes and validates limits, naming each bad setting.
 *
 * @since 0.1.0
 */
export const makeLimits = (limits: Partial<Limits> = {}): Either.Either<Limits, InvalidLimitsError> =>
  Schema.decodeUnknownEither(Limits, { errors: "all" })({ ...defaultLimits, ...limits }).pipe(
    Either.mapLeft((error) =>
      new InvalidLimitsError({
        issues: ParseResult.ArrayFormatter.formatErrorSync(error).map((i) => `${i.path.join(".")}: ${i.message}`)
      })
    )
  )

/**
 * What became of one line of log text. Every line gets exactly one outcome.
 *
 * - `event`, `repaired`: an event; `repaired` when it was not strict JSON and
 *   was recovered (non-finite numbers, raw control characters).
 * - `blank`: empty or only whitespace.
 * - `not_event`: anything else that is not an event, including JSON objects
 *   whose `_e` is not the number 1.
 * - `invalid_json`: looked like an event but is not JSON, even leniently.
 * - `too_large`, `too_deep`, `too_many_fields`, `string_too_long`: an event
 *   over one of the {@link Limits}.
 *
 * @since 0.1.0
 */
export type LineOutcome =
  | "event"
  | "repaired"
  | "blank"
  | "not_event"
  | "invalid_json"
  | "too_large"
  | "too_deep"
  | "too_many_fields"
  | "string_too_long"

/**
 * Lines counted by outcome; they sum to the number of lines.
 *
 * @since 0.1.0
 */
export type LineCounts = { [K in LineOutcome]: number }

/**
 * Every outcome, in a stable order for reports.
 *
 * @since 0.1.0
 */
export const lineOutcomes: ReadonlyArray<LineOutcome> = [
  "event",
  "repaired",
  "blank",
  "not_event",
  "invalid_json",
  "too_large",
  "too_deep",
  "too_many_fields",
  "string_too_long"
]

/**
 * Outcomes that mean an event-looking line was rejected.
 *
 * @since 0.1.0
 */
export const rejectedOutcomes: ReadonlyArray<LineOutcome> = [
  "invalid_json",
  "too_large",
  "too_deep",
  "too_many_fields",
  "string_too_long"
]

/**
 * Fresh all-zero counts.
 *
 * @since 0.1.0
 */
export const emptyCounts = (): LineCounts => ({
  event: 0,
  repaired: 0,
  blank: 0,
  not_event: 0,
  invalid_json: 0,
  too_large: 0,
  too_deep: 0,
  too_many_fields: 0,
  string_too_long: 0
})

/**
 * One event found in the log.
 *
 * @since 0.1.0
 */
export interface ExtractedEvent {
  /** The 0-based number of the line it was on. */
  readonly index: number
  /**
   * The event's own fields as the text of a JSON object: `_e` removed, and the
   * time field removed when it became {@link ExtractedEvent.time}. Strict
   * events are re-sliced from the log line rather than re-serialized, so
   * numbers keep their exact digits; `JSON.parse` it to get the fields.
   */
  readonly json: string
  /** Epoch milliseconds from the event's `timestamp` or `Timestamp`; null when it has no usable one. */
  readonly time: number | null
  /**
   * 1 in how many events like it this one stands for, from the event's own
   * top-level `sampleRate` (the process sampled itself), which stays in
   * {@link ExtractedEvent.json}. A whole number from 1 up, as a JSON number
   * (`10`; also `1e3` or `10.0`, whose values are whole) or a string of ASCII
   * digits (`"10"`); null when the field is absent or anything else (0,
   * negative, a fraction, `"1e3"`, `"+10"`, `true`). The last `sampleRate`
   * counts when the key is repeated, as with `JSON.parse`.
   */
  readonly sampleRate: number | null
  /** Paths (dot-separated) of the values that were repaired; empty for strict JSON. */
  readonly repaired: ReadonlyArray<string>
}

/**
 * The events of one log text and the account of its lines.
 *
 * @since 0.1.0
 */
export interface Extraction {
  readonly events: Array<ExtractedEvent>
  readonly lines: number
  readonly counts: LineCounts
}

const NO_REPAIRS: ReadonlyArray<string> = []

/**
 * Top-level event keys to rename rather than pass through, so that they cannot
 * collide with fields someone else adds (the vacuum's evaluation context):
 * `reserveKeys(["processId"])` turns an event's own `processId` into
 * `event.processId`.
 *
 * @since 0.1.0
 */
export const reserveKeys = (names: ReadonlyArray<string>, prefix = "event."): ReservedKeys => new ReservedKeys(names, prefix)

/**
 * A set of reserved keys made by {@link reserveKeys}.
 *
 * @since 0.1.0
 */
export type { ReservedKeys }

/** The deepest the lenient parser recurses (the most `maxDepth` may be); deeper is `too_deep`. */
const LENIENT_MAX_DEPTH = 1_000

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0xfeff || c === 0x0b || c === 0x0c

/** UTF-8 length of a string; only called when the UTF-16 length cannot decide. */
const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8")

/** True when a string's UTF-8 length exceeds `max`, computing it only when needed. */
const exceedsBytes = (s: string, max: number): boolean =>
  s.length > max || (s.length * 3 > max && utf8Length(s) > max)

/**
 * Walks a parsed event for the shape limits, replacing non-finite numbers
 * (`1e999` parses to Infinity) with null. Paths are built only for repairs.
 */
class Checker {
  fields = 0
  repaired: Array<string> | undefined = undefined
  readonly path: Array<string | number> = []

  constructor(readonly limits: Limits) {}

  reset(): void {
    this.fields = 0
    this.repaired = undefined
    this.path.length = 0
  }

  /** Returns the first limit broken, or undefined. */
  check(value: object, depth: number, countFields: boolean): LineOutcome | undefined {
    if (depth > this.limits.maxDepth) return "too_deep"
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const r = this.item(value, i, value[i], depth, false)
        if (r !== undefined) return r
      }
      return undefined
    }
    const record = value as Record<string, unknown>
    for (const key in record) {
      if (countFields && ++this.fields > this.limits.maxFields) return "too_many_fields"
      const r = this.item(record, key, record[key], depth, countFields)
      if (r !== undefined) return r
    }
    return undefined
  }

  item(
    parent: Record<string, unknown> | Array<unknown>,
    key: string | number,
    value: unknown,
    depth: number,
    countFields: boolean
  ): LineOutcome | undefined {
    switch (typeof value) {
      case "string":
        return exceedsBytes(value, this.limits.maxStringBytes) ? "string_too_long" : undefined
      case "number":
        if (!Number.isFinite(value)) {
          ;(this.repaired ??= []).push([...this.path, key].join("."))
          if (typeof key === "number") (parent as Array<unknown>)[key] = null
          else defineField(parent as Record<string, unknown>, key, null)
        }
        return undefined
      case "object": {
        if (value === null) return undefined
        this.path.push(key)
        const r = this.check(value, depth + 1, countFields)
        this.path.pop()
        return r
      }
      default:
        return undefined
    }
  }
}

const takeTime = (fields: Record<string, unknown>): number | null => {
  for (const key of ["timestamp", "Timestamp"]) {
    if (Object.hasOwn(fields, key)) {
      const time = toEventTime(fields[key])
      if (time !== null) {
        delete fields[key]
        return time
      }
    }
  }
  return null
}

const takeSampleRate = (fields: Record<string, unknown>): number | null =>
  Object.hasOwn(fields, "sampleRate") ? toSampleRate(fields.sampleRate) : null

/**
 * Extracts the events from one log text, in order, and counts every line by
 * its outcome. Pure and synchronous; never throws on any input string.
 *
 * Lines are split on `\n`; a trailing `\r`, surrounding whitespace and a
 * leading byte-order mark are ignored. A final newline does not start a line.
 *
 * @since 0.1.0
 */
export const extract = (
  text: string,
  limits: Limits = defaultLimits,
  reserved: ReservedKeys = NO_RESERVED_KEYS
): Extraction => {
  const counts = emptyCounts()
  const events: Array<ExtractedEvent> = []
  // Called from plain JavaScript with anything: what is not text has no lines.
  if (typeof text !== "string") return { events, lines: 0, counts }
  const length = text.length
  let pos = text.charCodeAt(0) === 0xfeff ? 1 : 0
  let index = 0
  // Position of the next `"_e"` at or after the current line; -1 when none is left.
  let marker = -2

  while (pos < length) {
    const newline = text.indexOf("\n", pos)
    const lineEnd = newline === -1 ? length : newline
    let start = pos
    let c = text.charCodeAt(start)
    while (start < lineEnd && isBlank(c)) c = text.charCodeAt(++start)

    if (start === lineEnd) {
      counts.blank++
    } else if (c !== 0x7b) {
      counts.not_event++
    } else {
      if (marker !== -1 && marker < start) marker = text.indexOf("\"_e\"", start)
      if (marker === -1 || marker >= lineEnd) {
        counts.not_event++
      } else {
        let end = lineEnd
        while (end > start && isBlank(text.charCodeAt(end - 1))) end--
        const outcome = candidate(text.slice(start, end), index, limits, reserved, events)
        counts[outcome]++
      }
    }
    index++
    pos = lineEnd + 1
  }

  return { events, lines: index, counts }
}

let lastChecker: Checker | undefined

/** One checker per limits object, reused across lines. */
const checkerFor = (limits: Limits): Checker => {
  if (lastChecker === undefined || lastChecker.limits !== limits) lastChecker = new Checker(limits)
  lastChecker.reset()
  return lastChecker
}

let lastScanOut: ScanOut | undefined

const scanOutFor = (limits: Limits): ScanOut => {
  if (lastScanOut === undefined || lastScanOut.maxDepth !== limits.maxDepth) lastScanOut = new ScanOut(limits.maxDepth)
  return lastScanOut
}

/** Classifies one candidate line and, when it is an event within limits, appends it. */
const candidate = (
  line: string,
  index: number,
  limits: Limits,
  reserved: ReservedKeys,
  events: Array<ExtractedEvent>
): LineOutcome => {
  if (exceedsBytes(line, limits.maxLineBytes)) return "too_large"
  const out = scanOutFor(limits)
  const scan = scanEvent(line, limits.maxFields, limits.maxStringBytes, out, reserved)
  if (scan === SCAN_OK) {
    const outcome = fastEvent(line, index, out, reserved, events)
    if (outcome !== undefined) return outcome
  }
  return exactEvent(line, index, limits, reserved, events, scan === SCAN_SYNTAX)
}

/** The time in a raw JSON value token, or null. */
const tokenTime = (line: string, start: number, end: number): number | null => {
  const c = line.charCodeAt(start)
  if (c === 0x22) return toEventTime(JSON.parse(line.slice(start, end)))
  if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return toEventTime(Number(line.slice(start, end)))
  return null
}

/** The sample rate in a raw JSON value token, or null; a string is decoded only when it has an escape. */
const tokenSampleRate = (line: string, start: number, end: number): number | null => {
  const c = line.charCodeAt(start)
  if (c === 0x22) {
    const text = line.slice(start + 1, end - 1)
    return toSampleRate(text.indexOf("\\") === -1 ? text : JSON.parse(line.slice(start, end)))
  }
  if (c >= 0x30 && c <= 0x39) return toSampleRate(Number(line.slice(start, end)))
  return null
}

/**
 * The fast path's verdict on a strict, within-limits JSON object: an event
 * when its last `_e` is the number 1. The event's JSON is the line's
 * top-level members minus `_e` and the time field, sliced, not re-serialized.
 * The last `sampleRate` is read from its token and stays among the members.
 */
const fastEvent = (
  line: string,
  index: number,
  out: ScanOut,
  reserved: ReservedKeys,
  events: Array<ExtractedEvent>
): LineOutcome | undefined => {
  const { kinds, starts, valueStarts, ends, members } = out
  const n = reserved.names.length
  let e = -1
  let lower = -1
  let upper = -1
  let rate = -1
  let renamedKeys = false
  for (let i = 0; i < members; i++) {
    const kind = kinds[i]!
    if (kind === KEY_E) e = i
    else if (kind === KEY_TIMESTAMP) lower = i
    else if (kind === KEY_TIMESTAMP_CAP) upper = i
    else if (kind === KEY_SAMPLE_RATE) rate = i
    else if (kind >= KEY_RESERVED + n) renamedKeys = true
  }
  // An event that already has `event.<name>` keys beside `<name>` ones: the
  // exact path settles which value the renamed key keeps, as for any line.
  if (renamedKeys && collides(out, reserved)) return undefined
  // Duplicate keys: like JSON.parse, the last one counts.
  if (e < 0 || Number(line.slice(valueStarts[e]!, ends[e]!)) !== 1) return "not_event"

  let time: number | null = null
  let drop = KEY_E
  if (lower >= 0) {
    time = tokenTime(line, valueStarts[lower]!, ends[lower]!)
    if (time !== null) drop = KEY_TIMESTAMP
  }
  if (time === null && upper >= 0) {
    time = tokenTime(line, valueStarts[upper]!, ends[upper]!)
    if (time !== null) drop = KEY_TIMESTAMP_CAP
  }

  // Consecutive kept members are sliced as one run, separators and all;
  // a reserved key ends the run and is written under its new name.
  let json = "{"
  let first = true
  let runStart = -1
  let runEnd = -1
  for (let i = 0; i < members; i++) {
    const kind = kinds[i]!
    const r = kind === KEY_E || kind === drop ? -1 : renameIndex(kind, reserved)
    // Renamed-form keys (`event.<name>`) stay as they are.
    const rename = r < n ? r : -1
    if (kind === KEY_E || kind === drop || rename >= 0) {
      if (runStart >= 0) {
        json += (first ? "" : ",") + line.slice(runStart, runEnd)
        first = false
        runStart = -1
      }
      if (rename >= 0) {
        const name = reserved.names[rename]!
        json += (first ? "" : ",") + reserved.renamed[rename] + line.slice(starts[i]! + name.length + 2, ends[i]!)
        first = false
      }
      continue
    }
    if (runStart < 0) runStart = starts[i]!
    runEnd = ends[i]!
  }
  if (runStart >= 0) json += (first ? "" : ",") + line.slice(runStart, runEnd)
  const sampleRate = rate >= 0 ? tokenSampleRate(line, valueStarts[rate]!, ends[rate]!) : null
  events.push({ index, json: json + "}", time, sampleRate, repaired: NO_REPAIRS })
  return "event"
}

/** True when a line has both a reserved key (or a time key that is reserved) and its renamed form. */
const collides = (out: ScanOut, reserved: ReservedKeys): boolean => {
  const n = reserved.names.length
  const seen = reserved.seen
  seen.fill(0)
  for (let i = 0; i < out.members; i++) {
    const r = renameIndex(out.kinds[i]!, reserved)
    if (r >= 0 && r < n) seen[r] = seen[r]! | 1
    else if (r >= n) seen[r - n] = seen[r - n]! | 2
  }
  for (let r = 0; r < n; r++) if (seen[r] === 3) return true
  return false
}

/** The reserved-key index of a kept member's kind, or -1. */
const renameIndex = (kind: number, reserved: ReservedKeys): number => {
  if (kind >= KEY_RESERVED) return kind - KEY_RESERVED
  if (kind === KEY_TIMESTAMP) return reserved.index.get("timestamp") ?? -1
  if (kind === KEY_TIMESTAMP_CAP) return reserved.index.get("Timestamp") ?? -1
  if (kind === KEY_SAMPLE_RATE) return reserved.index.get("sampleRate") ?? -1
  return -1
}

/** The fields with every reserved key renamed, in their order; the same object when none is present. */
const renameReserved = (fields: Record<string, unknown>, reserved: ReservedKeys): Record<string, unknown> => {
  if (!reserved.names.some((name) => Object.hasOwn(fields, name))) return fields
  const renamed: Record<string, unknown> = {}
  for (const key of Object.keys(fields)) {
    const r = reserved.index.get(key)
    defineField(renamed, r === undefined ? key : reserved.prefix + key, fields[key])
  }
  return renamed
}

/**
 * The exact path, for every line the scanner declined: `JSON.parse`, or the
 * lenient parser for aos's non-strict output straight away when the scanner
 * saw that `JSON.parse` would throw; then the limits on the value.
 */
const exactEvent = (
  line: string,
  index: number,
  limits: Limits,
  reserved: ReservedKeys,
  events: Array<ExtractedEvent>,
  notStrict: boolean
): LineOutcome => {
  let value: unknown
  let repaired: ReadonlyArray<string> = NO_REPAIRS
  let parsed = false
  let strict = true
  if (!notStrict) {
    try {
      value = JSON.parse(line)
      parsed = true
    } catch {
      // not strict after all: the lenient parser decides
    }
  }
  if (!parsed) {
    // The depth limit is judged below, for events only; this bound only guards the stack.
    const lenient = parseLenient(line, LENIENT_MAX_DEPTH)
    if (lenient._tag === "Invalid") return "invalid_json"
    if (lenient._tag === "TooDeep") return "too_deep"
    value = lenient.value
    repaired = lenient.repaired
    strict = !lenient.notStrict
  }

  if (typeof value !== "object" || value === null || Array.isArray(value)) return "not_event"
  const fields = value as Record<string, unknown>
  if (fields._e !== 1 || !Object.hasOwn(fields, "_e")) return "not_event"
  delete fields._e

  const checker = checkerFor(limits)
  const broken = checker.check(fields, 1, true)
  if (broken !== undefined) return broken
  if (checker.repaired !== undefined) repaired = [...repaired, ...checker.repaired]

  const time = takeTime(fields)
  const sampleRate = takeSampleRate(fields)
  const kept = reserved.names.length === 0 ? fields : renameReserved(fields, reserved)
  events.push({ index, json: JSON.stringify(kept), time, sampleRate, repaired })
  return repaired.length > 0 || !strict ? "repaired" : "event"
}
