/**
 * The extractor's fast path: a validating scanner over one candidate line that
 * never builds a value. It checks strict JSON syntax and the shape limits, and
 * records where each top-level member starts and ends so the event can be
 * re-sliced (without `_e` and its time field) instead of parsed and
 * re-serialized, and its `sampleRate` read from its token.
 *
 * It answers only "fast path OK" or "not for me": anything unusual (control
 * characters or surrogates, escaped top-level keys, numbers that may not be
 * finite, a broken limit, a syntax error) is left to the exact path, which
 * classifies it precisely. So this scanner can be strict and simple; it must
 * never accept a line `JSON.parse` would reject.
 *
 * @internal
 */

/** A top-level key the extractor cares about. */
export const KEY_OTHER = 0
export const KEY_E = 1
export const KEY_TIMESTAMP = 2
export const KEY_TIMESTAMP_CAP = 3
export const KEY_SAMPLE_RATE = 4
/** Kinds from here on are reserved keys: `KEY_RESERVED + index` into {@link ReservedKeys.names}. */
export const KEY_RESERVED = 5

/**
 * Top-level keys that must not reach the output under their own name, each
 * with the JSON text of the key it is renamed to. Grouped by length so the
 * scanner pays almost nothing for keys that cannot match.
 */
export class ReservedKeys {
  readonly byLength: Array<Array<number> | undefined> = []
  readonly renamed: ReadonlyArray<string>
  readonly index: ReadonlyMap<string, number>
  /**
   * What the scanner matches: the names (`i` < names.length), then the names
   * they are renamed to (`names.length + i`), so that an event already holding
   * a renamed key can be left to the exact path.
   */
  readonly keys: ReadonlyArray<string>
  /** Scratch for the fast path: which names and renamed names a line has. */
  readonly seen: Uint8Array

  constructor(readonly names: ReadonlyArray<string>, readonly prefix: string) {
    if (names.length * 2 > 255 - KEY_RESERVED) throw new RangeError("too many reserved keys")
    this.renamed = names.map((name) => JSON.stringify(prefix + name))
    this.index = new Map(names.map((name, i) => [name, i]))
    this.keys = [...names, ...names.map((name) => prefix + name)]
    this.seen = new Uint8Array(names.length)
    this.keys.forEach((key, i) => {
      ;(this.byLength[key.length] ??= []).push(i)
    })
  }
}

/** No reserved keys. */
export const NO_RESERVED_KEYS = new ReservedKeys([], "")

/** Reusable output of {@link scanEvent}; valid until the next call. */
export class ScanOut {
  members = 0
  starts = new Int32Array(64)
  valueStarts = new Int32Array(64)
  ends = new Int32Array(64)
  kinds = new Uint8Array(64)
  stack: Uint8Array

  constructor(readonly maxDepth: number) {
    this.stack = new Uint8Array(maxDepth + 1)
  }

  /** Room for one more member. */
  grow(): void {
    const size = this.starts.length * 2
    const starts = new Int32Array(size)
    starts.set(this.starts)
    const valueStarts = new Int32Array(size)
    valueStarts.set(this.valueStarts)
    const ends = new Int32Array(size)
    ends.set(this.ends)
    const kinds = new Uint8Array(size)
    kinds.set(this.kinds)
    this.starts = starts
    this.valueStarts = valueStarts
    this.ends = ends
    this.kinds = kinds
  }
}

/**
 * Raw control characters are not JSON; aos writes them, the lenient parser
 * repairs them. (Lone surrogates are valid for `JSON.parse` and stay: UTF-8
 * encoding turns them into U+FFFD, as Honeycomb's own decoder would.)
 */
const CONTROL = /[\u0000-\u001f]/

/**
 * Control characters JSON allows nowhere, not even between tokens (only tab,
 * line feed and carriage return are whitespace): proof that `JSON.parse`
 * would throw, so the lenient parser can have the line at once.
 */
const CONTROL_NOT_WHITESPACE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/

/** {@link scanEvent}: the line is a strict JSON object within limits; `out` describes it. */
export const SCAN_OK = 0
/** {@link scanEvent}: not strict JSON; `JSON.parse` would throw. */
export const SCAN_SYNTAX = 1
/** {@link scanEvent}: strict JSON maybe, but something only the exact path can judge. */
export const SCAN_DECLINED = 2

const OBJECT = 1
const ARRAY = 2

const VALUE = 0
const FIRST_VALUE = 1
const AFTER = 2
const FIRST_KEY = 3
const KEY = 4

/**
 * A backslash not followed by a valid JSON escape. It may also flag a valid
 * `\\` followed by a letter; that only sends the line to the exact path.
 */
const SUSPICIOUS_ESCAPE = /\\(?:[^"\\/bfnrtu]|u(?![0-9a-fA-F]{4}))/

/**
 * Index after the closing quote of the string opening at `p`, or 0. With no
 * backslash in the line it is just the next quote; otherwise the next quote
 * preceded by an even run of backslashes (escapes were validated up front).
 */
const endOfString = (s: string, p: number, escapes: boolean): number => {
  let q = s.indexOf("\"", p + 1)
  if (escapes) {
    while (q !== -1) {
      let b = q - 1
      while (s.charCodeAt(b) === 0x5c) b--
      if (((q - 1 - b) & 1) === 0) break
      q = s.indexOf("\"", q + 1)
    }
  }
  return q + 1
}

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39

/**
 * Index after the JSON number starting at `p`; -1 when it is not one, -2 when
 * it might not be finite (an exponent of 3+ digits, an exponent that overflows,
 * or 300+ digits): the exact path decides those.
 */
const endOfNumber = (s: string, p: number): number => {
  const start = p
  let c = s.charCodeAt(p)
  if (c === 0x2d) c = s.charCodeAt(++p)
  if (c === 0x30) {
    c = s.charCodeAt(++p)
  } else if (c >= 0x31 && c <= 0x39) {
    do c = s.charCodeAt(++p)
    while (isDigit(c))
  } else {
    return -1
  }
  if (c === 0x2e) {
    c = s.charCodeAt(++p)
    if (!isDigit(c)) return -1
    do c = s.charCodeAt(++p)
    while (isDigit(c))
  }
  if (c === 0x65 || c === 0x45) {
    c = s.charCodeAt(++p)
    if (c === 0x2b || c === 0x2d) c = s.charCodeAt(++p)
    const digits = p
    if (!isDigit(c)) return -1
    do c = s.charCodeAt(++p)
    while (isDigit(c))
    if (p - digits > 2) return -2
    // A long mantissa can still overflow with a two-digit exponent.
    return Number.isFinite(Number(s.slice(start, p))) ? p : -2
  }
  return p - start > 300 ? -2 : p
}

const keyKind = (s: string, p: number, end: number, reserved: ReservedKeys): number => {
  const length = end - p - 2
  if (length === 2) {
    if (s.charCodeAt(p + 1) === 0x5f && s.charCodeAt(p + 2) === 0x65) return KEY_E
  } else if (length === 9) {
    if (s.startsWith("timestamp", p + 1)) return KEY_TIMESTAMP
    if (s.startsWith("Timestamp", p + 1)) return KEY_TIMESTAMP_CAP
  } else if (length === 10) {
    if (s.startsWith("sampleRate", p + 1)) return KEY_SAMPLE_RATE
  }
  const candidates = reserved.byLength[length]
  if (candidates !== undefined) {
    for (let i = 0; i < candidates.length; i++) {
      const r = candidates[i]!
      if (s.startsWith(reserved.keys[r]!, p + 1)) return KEY_RESERVED + r
    }
  }
  return KEY_OTHER
}

/** True when a string token's decoded UTF-8 length exceeds `max`; exact only when it could. */
const stringTooLong = (s: string, p: number, end: number, escapes: boolean, max: number): boolean => {
  const raw = end - p - 2
  if (raw * 3 <= max) return false
  const token = s.slice(p, end)
  const value = escapes ? (JSON.parse(token) as string) : token.slice(1, -1)
  return Buffer.byteLength(value, "utf8") > max
}

const isWhitespace = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09

/**
 * Scans one candidate line: {@link SCAN_OK} when it is a strict JSON object
 * within the limits (then `out` describes its top-level members), else why
 * the exact path must judge it.
 */
export const scanEvent = (
  s: string,
  maxFields: number,
  maxStringBytes: number,
  out: ScanOut,
  reserved: ReservedKeys = NO_RESERVED_KEYS
): number => {
  if (s.charCodeAt(0) !== 0x7b) return SCAN_SYNTAX
  // Tabs between tokens are valid JSON, so this is not proof of a syntax error.
  if (CONTROL.test(s)) return CONTROL_NOT_WHITESPACE.test(s) ? SCAN_SYNTAX : SCAN_DECLINED
  const escapes = s.indexOf("\\") !== -1
  // Not proof: an escaped backslash before a letter looks the same.
  if (escapes && SUSPICIOUS_ESCAPE.test(s)) return SCAN_DECLINED
  const n = s.length
  const stack = out.stack
  const maxDepth = out.maxDepth
  let p = 0
  let sp = 0
  let arrays = 0
  let fields = 0
  let member = -1
  let state = VALUE
  // The next backslash at or after the current key; found lazily, so the scan stays linear.
  let backslash = escapes ? 0 : -1
  let valueStarts = out.valueStarts
  let ends = out.ends
  // Strings this short cannot break the string limit, whatever they encode to.
  const shortString = Math.floor(maxStringBytes / 3) + 2
  out.members = 0

  while (p < n) {
    const c = s.charCodeAt(p)
    if (c <= 0x20 && isWhitespace(c)) {
      p++
      continue
    }
    switch (state) {
      case FIRST_VALUE: {
        if (c === 0x5d) {
          p++
          sp--
          arrays--
          state = AFTER
          if (sp === 1) ends[member] = p
          break
        }
        state = VALUE
        continue
      }
      case VALUE: {
        if (sp === 1) valueStarts[member] = p
        if (c === 0x22) {
          const end = endOfString(s, p, escapes)
          if (end === 0) return SCAN_SYNTAX
          if (end - p > shortString && stringTooLong(s, p, end, escapes, maxStringBytes)) return SCAN_DECLINED
          p = end
        } else if (c === 0x7b) {
          if (sp >= maxDepth) return SCAN_DECLINED
          stack[sp++] = OBJECT
          p++
          state = FIRST_KEY
          break
        } else if (c === 0x5b) {
          if (sp >= maxDepth) return SCAN_DECLINED
          stack[sp++] = ARRAY
          arrays++
          p++
          state = FIRST_VALUE
          break
        } else if (c === 0x74) {
          if (!s.startsWith("true", p)) return SCAN_SYNTAX
          p += 4
        } else if (c === 0x66) {
          if (!s.startsWith("false", p)) return SCAN_SYNTAX
          p += 5
        } else if (c === 0x6e) {
          if (!s.startsWith("null", p)) return SCAN_SYNTAX
          p += 4
        } else {
          const end = endOfNumber(s, p)
          if (end < 0) return end === -1 ? SCAN_SYNTAX : SCAN_DECLINED
          p = end
        }
        if (sp === 0) return onlyWhitespaceFrom(s, p) ? SCAN_OK : SCAN_SYNTAX
        state = AFTER
        if (sp === 1) ends[member] = p
        break
      }
      case AFTER: {
        const top = stack[sp - 1]
        if (c === 0x2c) {
          p++
          state = top === OBJECT ? KEY : VALUE
          break
        }
        if ((c === 0x7d && top === OBJECT) || (c === 0x5d && top === ARRAY)) {
          p++
          sp--
          if (top === ARRAY) arrays--
          if (sp === 0) return onlyWhitespaceFrom(s, p) ? SCAN_OK : SCAN_SYNTAX
          if (sp === 1) ends[member] = p
          break
        }
        return SCAN_SYNTAX
      }
      case FIRST_KEY:
      case KEY: {
        if (c === 0x7d && state === FIRST_KEY) {
          p++
          sp--
          state = AFTER
          if (sp === 0) return onlyWhitespaceFrom(s, p) ? SCAN_OK : SCAN_SYNTAX
          if (sp === 1) ends[member] = p
          break
        }
        if (c !== 0x22) return SCAN_SYNTAX
        const end = endOfString(s, p, escapes)
        if (end === 0) return SCAN_SYNTAX
          if (end - p > shortString && stringTooLong(s, p, end, escapes, maxStringBytes)) return SCAN_DECLINED
        let kind = KEY_OTHER
        if (sp === 1) {
          // An escaped top-level key could spell `_e`: the exact path decides.
          if (escapes) {
            if (backslash !== -1 && backslash < p) backslash = s.indexOf("\\", p)
            if (backslash !== -1 && backslash < end) return SCAN_DECLINED
          }
          kind = keyKind(s, p, end, reserved)
          member = out.members++
          if (member === out.starts.length) {
            out.grow()
            valueStarts = out.valueStarts
            ends = out.ends
          }
          out.starts[member] = p
          out.kinds[member] = kind
        }
        if (arrays === 0 && kind !== KEY_E && ++fields > maxFields) return SCAN_DECLINED
        p = end
        while (p < n && isWhitespace(s.charCodeAt(p))) p++
        if (s.charCodeAt(p) !== 0x3a) return SCAN_SYNTAX
        p++
        state = VALUE
        break
      }
    }
  }
  return SCAN_SYNTAX
}

const onlyWhitespaceFrom = (s: string, p: number): boolean => {
  const n = s.length
  while (p < n && isWhitespace(s.charCodeAt(p))) p++
  return p === n
}
