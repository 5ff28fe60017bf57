/**
 * A JSON parser that accepts exactly what aos's event emitter gets wrong and
 * nothing else: `inf`, `-inf`, `nan`, `-nan` (and `Infinity`, `NaN`) as
 * values, which become `null`, and raw control characters inside strings, which
 * are kept as characters (and escaped again whenever the value is serialized).
 * Every repair is reported by the path of the value it touched.
 *
 * It only runs on candidate lines that `JSON.parse` already rejected, so it
 * favours plain code over speed. It never throws and never recurses deeper than
 * `maxDepth`.
 *
 * @internal
 */

/** The outcome of a lenient parse. */
export type LenientResult =
  | {
    readonly _tag: "Ok"
    readonly value: unknown
    /** Dot-joined paths of the repaired values still in the result. */
    readonly repaired: ReadonlyArray<string>
    /** True when the text was not strict JSON, even if no repaired value survived. */
    readonly notStrict: boolean
  }
  | { readonly _tag: "Invalid" }
  | { readonly _tag: "TooDeep" }

const INVALID: LenientResult = { _tag: "Invalid" }
const TOO_DEEP: LenientResult = { _tag: "TooDeep" }

/** Sentinel returned by the value parsers on failure; never a JSON value. */
const FAIL: unique symbol = Symbol("FAIL")
type Fail = typeof FAIL

const NON_FINITE_WORDS = ["-Infinity", "Infinity", "-inf", "-nan", "inf", "nan", "NaN", "-NaN"] as const

/** Matches a strict JSON number at the start of the sticky position. */
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

/**
 * Defines `key` on `target` as a plain own data property, as `JSON.parse`
 * does, so a `__proto__` key can never reach a prototype.
 */
export const defineField = (target: Record<string, unknown>, key: string, value: unknown): void => {
  if (key === "__proto__") {
    Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true })
  } else {
    target[key] = value
  }
}

const samePath = (a: ReadonlyArray<string>, b: ReadonlyArray<string>): boolean =>
  a.length === b.length && startsWithPath(a, b)

const startsWithPath = (path: ReadonlyArray<string>, prefix: ReadonlyArray<string>): boolean =>
  path.length >= prefix.length && prefix.every((segment, i) => path[i] === segment)

class Parser {
  pos = 0
  tooDeep = false
  readonly path: Array<string> = []
  /** Repaired values by path segments, compared segment by segment (keys may contain dots). */
  repaired: Array<ReadonlyArray<string>> = []
  /** Whether anything was repaired at all, even if a duplicate key later replaced it. */
  anyRepair = false

  readonly end: number

  constructor(
    readonly text: string,
    readonly maxDepth: number
  ) {
    this.end = text.length
  }

  skipWhitespace(): void {
    const text = this.text
    let pos = this.pos
    while (pos < this.end) {
      const c = text.charCodeAt(pos)
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++
      else break
    }
    this.pos = pos
  }

  markRepaired(): void {
    this.anyRepair = true
    const last = this.repaired[this.repaired.length - 1]
    if (last === undefined || !samePath(last, this.path)) this.repaired.push([...this.path])
  }

  forget(key: string): void {
    const prefix = [...this.path, key]
    this.repaired = this.repaired.filter((p) => !startsWithPath(p, prefix))
  }

  value(depth: number): unknown | Fail {
    this.skipWhitespace()
    if (this.pos >= this.end) return FAIL
    const c = this.text.charCodeAt(this.pos)
    switch (c) {
      case 0x7b: // {
        return this.object(depth + 1)
      case 0x5b: // [
        return this.array(depth + 1)
      case 0x22: // "
        return this.string()
      case 0x74: // t
        return this.word("true", true)
      case 0x66: // f
        return this.word("false", false)
      default: {
        if (this.text.startsWith("null", this.pos)) return this.word("null", null)
        for (const word of NON_FINITE_WORDS) {
          if (this.text.startsWith(word, this.pos)) {
            this.pos += word.length
            this.markRepaired()
            return null
          }
        }
        return this.number()
      }
    }
  }

  word(word: string, value: unknown): unknown | Fail {
    if (!this.text.startsWith(word, this.pos)) return FAIL
    this.pos += word.length
    return value
  }

  number(): number | Fail {
    NUMBER.lastIndex = this.pos
    const match = NUMBER.exec(this.text)
    if (match === null) return FAIL
    this.pos += match[0].length
    const n = Number(match[0])
    if (!Number.isFinite(n)) {
      // `1e999` overflows to Infinity, which would serialize as null anyway.
      this.markRepaired()
      return null as unknown as number
    }
    return n
  }

  string(): string | Fail {
    const text = this.text
    const start = this.pos + 1
    let pos = start
    let control = false
    while (pos < this.end) {
      const c = text.charCodeAt(pos)
      if (c === 0x22) break
      if (c === 0x5c) {
        // A raw control character cannot be escaped: repairing it would make `\` + it a valid escape.
        if (text.charCodeAt(pos + 1) < 0x20) return FAIL
        pos += 2
      } else {
        if (c < 0x20) control = true
        pos++
      }
    }
    if (pos >= this.end) return FAIL
    this.pos = pos + 1
    let raw = text.slice(start, pos)
    if (control) {
      this.markRepaired()
      raw = raw.replace(/[\u0000-\u001f]/g, (ch) => "\\u" + ch.charCodeAt(0).toString(16).padStart(4, "0"))
    }
    try {
      // Escapes are decoded by the real parser so they follow JSON exactly.
      return JSON.parse("\"" + raw + "\"") as string
    } catch {
      return FAIL
    }
  }

  array(depth: number): Array<unknown> | Fail {
    if (depth > this.maxDepth) {
      this.tooDeep = true
      return FAIL
    }
    this.pos++
    const out: Array<unknown> = []
    this.skipWhitespace()
    if (this.text.charCodeAt(this.pos) === 0x5d) {
      this.pos++
      return out
    }
    for (;;) {
      this.path.push(String(out.length))
      const item = this.value(depth)
      this.path.pop()
      if (item === FAIL) return FAIL
      out.push(item)
      this.skipWhitespace()
      const c = this.text.charCodeAt(this.pos++)
      if (c === 0x5d) return out
      if (c !== 0x2c) return FAIL
    }
  }

  object(depth: number): Record<string, unknown> | Fail {
    if (depth > this.maxDepth) {
      this.tooDeep = true
      return FAIL
    }
    this.pos++
    const out: Record<string, unknown> = {}
    this.skipWhitespace()
    if (this.text.charCodeAt(this.pos) === 0x7d) {
      this.pos++
      return out
    }
    for (;;) {
      this.skipWhitespace()
      if (this.text.charCodeAt(this.pos) !== 0x22) return FAIL
      // A key with control characters is repaired at the object's own path.
      const key = this.string()
      if (key === FAIL) return FAIL
      this.skipWhitespace()
      if (this.text.charCodeAt(this.pos++) !== 0x3a) return FAIL
      // A duplicate key replaces the earlier value, and with it that value's repairs.
      if (Object.hasOwn(out, key)) this.forget(key)
      this.path.push(key)
      const item = this.value(depth)
      this.path.pop()
      if (item === FAIL) return FAIL
      defineField(out, key, item)
      this.skipWhitespace()
      const c = this.text.charCodeAt(this.pos++)
      if (c === 0x7d) return out
      if (c !== 0x2c) return FAIL
    }
  }
}

/**
 * Parses one line leniently. The depth of the outermost object or array is 1.
 */
export const parseLenient = (line: string, maxDepth: number): LenientResult => {
  const parser = new Parser(line, maxDepth)
  const value = parser.value(0)
  if (value === FAIL) return parser.tooDeep ? TOO_DEEP : INVALID
  parser.skipWhitespace()
  if (parser.pos !== line.length) return INVALID
  return { _tag: "Ok", value, repaired: parser.repaired.map((p) => p.join(".")), notStrict: parser.anyRepair }
}
