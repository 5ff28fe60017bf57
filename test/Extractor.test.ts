import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import * as fs from "node:fs"
import { decodeSync, logText } from "../src/Evaluation.js"
import type { ExtractedEvent, LineCounts } from "../src/Extractor.js"
import { defaultLimits, emptyCounts, extract, makeLimits, reserveKeys } from "../src/Extractor.js"

const fields = (event: ExtractedEvent | undefined): unknown => {
  assert.isDefined(event)
  return JSON.parse(event!.json)
}

/** Counts with only the given outcomes non-zero. */
const counts = (partial: Partial<LineCounts>): LineCounts => ({ ...emptyCounts(), ...partial })

const exampleTexts = (): Array<{ ordinate: string; cron: string | null; text: string; failed: boolean }> =>
  fs.readFileSync(new URL("../examples/aos-token-evaluations.ndjson", import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .flatMap((l) => {
      const e = decodeSync(JSON.parse(l))
      if (Either.isLeft(e)) throw e.left
      const t = logText(e.right.output)
      return t._tag === "Text" ? [{ ordinate: e.right.ordinate, cron: e.right.cron, text: t.text, failed: t.failed }] : []
    })

describe("extract: never throws", () => {
  it("answers no lines for what is not text (a plain JavaScript caller can pass anything)", () => {
    for (const value of [undefined, null, 3, {}, ["{\"_e\":1}"]]) {
      const result = extract(value as unknown as string)
      assert.deepStrictEqual(result, { events: [], lines: 0, counts: emptyCounts() }, String(value))
    }
  })
})

describe("extract: what an event is", () => {
  it("takes a line whose _e is the number 1 and strips the flag", () => {
    const r = extract("{\"_e\": 1, \"Action\": \"Transfer\", \"Quantity\": \"1000000\"}")
    assert.strictEqual(r.events.length, 1)
    assert.deepStrictEqual(fields(r.events[0]), { Action: "Transfer", Quantity: "1000000" })
    assert.deepStrictEqual(r.counts, counts({ event: 1 }))
    assert.strictEqual(r.lines, 1)
  })

  it("refuses _e that is not the number 1", () => {
    for (const flag of ["\"1\"", "true", "2", "0", "null", "[1]", "{}", "-1"]) {
      const r = extract(`{"_e": ${flag}, "a": 1}`)
      assert.deepStrictEqual(r.events, [], flag)
      assert.deepStrictEqual(r.counts, counts({ not_event: 1 }), flag)
    }
  })

  it("takes 1 however JSON spells it", () => {
    for (const flag of ["1.0", "1e0", "10e-1"]) {
      assert.strictEqual(extract(`{"_e": ${flag}}`).events.length, 1, flag)
    }
  })

  it("lets the last duplicate key win, as JSON.parse does", () => {
    assert.deepStrictEqual(extract("{\"_e\": 1, \"_e\": 2}").counts, counts({ not_event: 1 }))
    const r = extract("{\"_e\": 2, \"a\": 1, \"_e\": 1}")
    assert.deepStrictEqual(fields(r.events[0]), { a: 1 })
  })

  it("needs _e at the top level", () => {
    assert.deepStrictEqual(extract("{\"inner\": {\"_e\": 1}}").counts, counts({ not_event: 1 }))
  })

  it("counts ordinary lines without parsing them", () => {
    const text = [
      "\u001b[90mNew Message From \u001b[32mXER...eee\u001b[90m: \u001b[90mAction = \u001b[34mPing\u001b[0m",
      "{",
      "   \u001b[31ma\u001b[0m = \u001b[34m6\u001b[0m",
      "}",
      "[\"_e\", 1]",
      "stack traceback: {\"_e\": 1}"
    ].join("\n")
    const r = extract(text)
    assert.deepStrictEqual(r.counts, counts({ not_event: 6 }))
  })

  it("counts a JSON object without the flag as not an event", () => {
    assert.deepStrictEqual(extract("{\"a\": 1}\n{\"_e_\": 1}").counts, counts({ not_event: 2 }))
  })

  it("keeps every kind of value exactly", () => {
    const event = {
      s: "a \"q\"\nb \\ / \u00e9 \u{1F600}",
      n: [0, -1, 1.5, 9.007199254741e15, 1e-7, 123456789012345680000],
      b: [true, false, null],
      o: { deep: { deeper: [1, { x: "y" }] } },
      e: {},
      a: []
    }
    const line = JSON.stringify({ _e: 1, ...event })
    assert.deepStrictEqual(fields(extract(line).events[0]), event)
  })

  it("keeps a number's exact digits", () => {
    const r = extract("{\"_e\":1,\"supply\":10000000000000000000000000001,\"f\":1.10}")
    assert.strictEqual(r.events[0]!.json, "{\"supply\":10000000000000000000000000001,\"f\":1.10}")
  })
})

describe("extract: lines", () => {
  it("handles CRLF, a BOM, blank lines and trailing whitespace", () => {
    const text = "\uFEFF{\"_e\": 1, \"a\": 1}\r\n\r\n   \t\n  {\"_e\": 1, \"a\": 2}  \t\r\nplain\r\n"
    const r = extract(text)
    assert.strictEqual(r.lines, 5)
    assert.deepStrictEqual(r.counts, counts({ event: 2, blank: 2, not_event: 1 }))
    assert.deepStrictEqual(r.events.map((e) => [e.index, fields(e)]), [[0, { a: 1 }], [3, { a: 2 }]])
  })

  it("does not count a final newline as a line, but counts a lone one", () => {
    assert.strictEqual(extract("").lines, 0)
    assert.strictEqual(extract("a\n").lines, 1)
    assert.deepStrictEqual(extract("\n").counts, counts({ blank: 1 }))
    assert.strictEqual(extract("a\n\n").lines, 2)
  })

  it("gives events in order with the number of the line they were on", () => {
    const text = "x\n{\"_e\":1,\"n\":1}\ny\n\n{\"_e\":1,\"n\":2}\n{\"_e\":1,\"n\":3}"
    assert.deepStrictEqual(extract(text).events.map((e) => e.index), [1, 4, 5])
  })

  it("finds the flag in each line, not in the next", () => {
    // The first line starts like an event; `"_e"` only appears on the second.
    const r = extract("{\"a\": 1}\n{\"_e\": 1}")
    assert.deepStrictEqual(r.counts, counts({ not_event: 1, event: 1 }))
    assert.strictEqual(r.events[0]!.index, 1)
  })
})

describe("extract: aos's non-strict JSON", () => {
  it("turns inf, -inf, nan, -nan into null and names the repaired fields", () => {
    const r = extract("{\"_e\": 1, \"a\": inf, \"b\": -inf, \"c\": nan, \"d\": -nan, \"e\": 1, \"f\": [1, nan]}")
    assert.deepStrictEqual(fields(r.events[0]), { a: null, b: null, c: null, d: null, e: 1, f: [1, null] })
    assert.deepStrictEqual(r.events[0]!.repaired, ["a", "b", "c", "d", "f.1"])
    assert.deepStrictEqual(r.counts, counts({ repaired: 1 }))
  })

  it("keeps raw control characters inside strings, escaped in the JSON", () => {
    const r = extract("{\"_e\": 1, \"Ctl\": \"x\by\tz\", \"nested\": {\"k\": \"\u0001\"}}")
    assert.deepStrictEqual(fields(r.events[0]), { Ctl: "x\by\tz", nested: { k: "\u0001" } })
    assert.deepStrictEqual(r.events[0]!.repaired, ["Ctl", "nested.k"])
    assert.include(r.events[0]!.json, "x\\by\\tz")
  })

  it("repairs numbers that overflow to Infinity", () => {
    const r = extract("{\"_e\": 1, \"big\": 1e999, \"neg\": -1e400}")
    assert.deepStrictEqual(fields(r.events[0]), { big: null, neg: null })
    assert.deepStrictEqual(r.events[0]!.repaired, ["big", "neg"])
  })

  it("does not repair anything else", () => {
    for (const line of ["{\"_e\": 1, \"a\": 1,}", "{\"_e\": 1, 'a': 1}", "{\"_e\": 1, \"a\": infinity}", "{\"_e\": 1, \"a\": \"\\x\"}", "{\"_e\": 1"]) {
      assert.deepStrictEqual(extract(line).counts, counts({ invalid_json: 1 }), line)
    }
  })

  it("does not count a repaired line that is not an event", () => {
    assert.deepStrictEqual(extract("{\"_e\": 2, \"a\": nan}").counts, counts({ not_event: 1 }))
  })
})

describe("extract: limits", () => {
  it("rejects a line over maxLineBytes, counting UTF-8 bytes", () => {
    const limits = { ...defaultLimits, maxLineBytes: 30 }
    assert.deepStrictEqual(extract("{\"_e\": 1, \"a\": \"0123456789\"}", limits).counts, counts({ event: 1 }))
    // 18 characters but 33 bytes.
    assert.deepStrictEqual(extract("{\"_e\": 1, \"a\": \"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"}", limits).counts, counts({ too_large: 1 }))
  })

  it("rejects nesting deeper than maxDepth; the event itself is depth 1", () => {
    const limits = { ...defaultLimits, maxDepth: 3 }
    assert.strictEqual(extract("{\"_e\": 1, \"a\": {\"b\": [1]}}", limits).events.length, 1)
    assert.deepStrictEqual(extract("{\"_e\": 1, \"a\": {\"b\": [[1]]}}", limits).counts, counts({ too_deep: 1 }))
    assert.deepStrictEqual(extract("{\"_e\": 1, \"a\": {\"b\": {\"c\": [nan]}}}", limits).counts, counts({ too_deep: 1 }))
  })

  it("survives nesting far deeper than any stack", () => {
    const deep = "{\"_e\": 1, \"a\": " + "[".repeat(200_000) + "]".repeat(200_000) + "}"
    assert.deepStrictEqual(extract(deep).counts, counts({ too_deep: 1 }))
    const broken = "{\"_e\": 1, \"a\": " + "[".repeat(200_000) + "nan"
    assert.deepStrictEqual(extract(broken).counts, counts({ too_deep: 1 }))
  })

  it("rejects more fields than maxFields, counting nested object keys but not _e", () => {
    const limits = { ...defaultLimits, maxFields: 3 }
    assert.strictEqual(extract("{\"_e\": 1, \"a\": 1, \"b\": {\"c\": 1}}", limits).events.length, 1)
    assert.deepStrictEqual(extract("{\"_e\": 1, \"a\": 1, \"b\": {\"c\": 1, \"d\": 2}}", limits).counts, counts({ too_many_fields: 1 }))
    // Objects inside arrays are values, not columns.
    assert.strictEqual(extract("{\"_e\": 1, \"a\": [{\"x\": 1, \"y\": 2, \"z\": 3, \"w\": 4}]}", limits).events.length, 1)
  })

  it("rejects 100,000 fields at the default field limit", () => {
    const many = "{\"_e\": 1, " + Array.from({ length: 100_000 }, (_, i) => `"f${i}": ${i}`).join(", ") + "}"
    assert.deepStrictEqual(extract(many).counts, counts({ too_large: 1 }))
    assert.deepStrictEqual(extract(many, { ...defaultLimits, maxLineBytes: 4_000_000 }).counts, counts({ too_many_fields: 1 }))
  })

  it("rejects a string over maxStringBytes, counting UTF-8 bytes", () => {
    const limits = { ...defaultLimits, maxStringBytes: 10 }
    assert.strictEqual(extract("{\"_e\": 1, \"a\": \"0123456789\"}", limits).events.length, 1)
    assert.deepStrictEqual(extract("{\"_e\": 1, \"a\": \"0123456789x\"}", limits).counts, counts({ string_too_long: 1 }))
    assert.deepStrictEqual(extract("{\"_e\": 1, \"a\": \"\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\"}", limits).counts, counts({ string_too_long: 1 }))
    // An escape is one character, not six.
    assert.strictEqual(extract("{\"_e\": 1, \"a\": \"\\u00410123456789\"}", { ...limits, maxStringBytes: 11 }).events.length, 1)
  })

  it("judges limits only on events", () => {
    const limits = { ...defaultLimits, maxFields: 1 }
    assert.deepStrictEqual(extract("{\"_e\": 2, \"a\": 1, \"b\": 2}", limits).counts, counts({ not_event: 1 }))
  })

  it("validates limits, naming the bad setting", () => {
    assert.deepStrictEqual(makeLimits({ maxDepth: 8 }), Either.right({ ...defaultLimits, maxDepth: 8 }))
    const bad = makeLimits({ maxFields: 0, maxDepth: 1.5 })
    assert(Either.isLeft(bad))
    assert.include(bad.left.message, "maxFields")
    assert.include(bad.left.message, "maxDepth")
  })
})

describe("extract: keys are plain data", () => {
  it("never touches a prototype", () => {
    const lines = [
      "{\"_e\": 1, \"__proto__\": {\"polluted\": true}, \"constructor\": {\"prototype\": {\"polluted\": true}}}",
      "{\"_e\": 1, \"__proto__\": {\"polluted\": nan}, \"x\": \"\u0001\"}",
      "{\"_e\": 1, \"a\": {\"__proto__\": {\"polluted\": 1e999}}}"
    ]
    const r = extract(lines.join("\n"))
    assert.strictEqual(r.events.length, 3)
    assert.isUndefined(({} as Record<string, unknown>).polluted)
    const first = fields(r.events[0]) as Record<string, unknown>
    assert.deepStrictEqual(Object.keys(first), ["__proto__", "constructor"])
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(first, "__proto__")?.value, { polluted: true })
    const second = JSON.parse(r.events[1]!.json) as Record<string, unknown>
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(second, "__proto__")?.value, { polluted: null })
    const third = JSON.parse(r.events[2]!.json) as { a: Record<string, unknown> }
    assert.deepStrictEqual(Object.getOwnPropertyDescriptor(third.a, "__proto__")?.value, { polluted: null })
  })
})

describe("extract: reserved keys", () => {
  const reserved = reserveKeys(["processId", "nonce", "timestamp"])

  it("renames a reserved top-level key on the fast path, keeping its value's exact text", () => {
    const r = extract("{\"_e\":1, \"processId\" : \"spoof\",\"a\":1,\"nonce\":10000000000000000000001}", defaultLimits, reserved)
    assert.strictEqual(r.events[0]!.json, "{\"event.processId\" : \"spoof\",\"a\":1,\"event.nonce\":10000000000000000000001}")
    assert.deepStrictEqual(r.counts, counts({ event: 1 }))
  })

  it("renames on the exact path the same way, in key order", () => {
    const r = extract("{\"_e\":1,\"a\":inf,\"process\\u0049d\":\"spoof\",\"b\":2}", defaultLimits, reserved)
    assert.strictEqual(r.events[0]!.json, "{\"a\":null,\"event.processId\":\"spoof\",\"b\":2}")
    assert.deepStrictEqual(r.counts, counts({ repaired: 1 }))
  })

  it("renames a time field only when it stays a field", () => {
    const used = extract("{\"_e\":1,\"timestamp\":1727000008009}", defaultLimits, reserved)
    assert.deepStrictEqual(fields(used.events[0]), {})
    assert.strictEqual(used.events[0]!.time, 1727000008009)
    const kept = extract("{\"_e\":1,\"timestamp\":\"soon\",\"Timestamp\":1727000008009}", defaultLimits, reserved)
    assert.deepStrictEqual(fields(kept.events[0]), { "event.timestamp": "soon" })
    const exact = extract("{\"_e\":1,\"timestamp\":\"soon\",\"x\":nan}", defaultLimits, reserved)
    assert.deepStrictEqual(fields(exact.events[0]), { "event.timestamp": "soon", x: null })
  })

  it("settles a renamed key that collides with the event's own the same way on every path", () => {
    // Found by the property test: the fast path kept the text's last value, the exact path the renamed one.
    const line = "{\"_e\":1,\"event.processId\":[],\"processId\":[],\"event.processId\":null}"
    const escaped = line.replace("\"processId\"", "\"process\\u0049d\"")
    const fast = extract(line, defaultLimits, reserved)
    const exact = extract(escaped, defaultLimits, reserved)
    assert.deepStrictEqual(fields(fast.events[0]), { "event.processId": [] })
    assert.deepStrictEqual(fields(exact.events[0]), fields(fast.events[0]))
  })

  it("leaves nested and look-alike keys alone", () => {
    const r = extract("{\"_e\":1,\"processIds\":1,\"nonc\":2,\"o\":{\"processId\":3}}", defaultLimits, reserved)
    assert.deepStrictEqual(fields(r.events[0]), { processIds: 1, nonc: 2, o: { processId: 3 } })
  })
})

describe("extract: event time", () => {
  const timeOf = (value: string) => extract(`{"_e": 1, "timestamp": ${value}, "a": 1}`).events[0]!

  it("reads ms, seconds, µs and ns numbers, and numeric strings", () => {
    assert.strictEqual(timeOf("1727000008009").time, 1727000008009)
    assert.strictEqual(timeOf("1727000008").time, 1727000008000)
    assert.strictEqual(timeOf("1727000008.5").time, 1727000008500)
    assert.strictEqual(timeOf("1727000008009123").time, 1727000008009)
    assert.strictEqual(timeOf("1727000008009123456").time, 1727000008009)
    assert.strictEqual(timeOf("\"1727000008009\"").time, 1727000008009)
  })

  it("reads ISO 8601 strings, as UTC when they have no offset", () => {
    assert.strictEqual(timeOf("\"2024-09-22T10:13:28.009Z\"").time, Date.UTC(2024, 8, 22, 10, 13, 28, 9))
    assert.strictEqual(timeOf("\"2024-09-22T10:13:28\"").time, Date.UTC(2024, 8, 22, 10, 13, 28))
    assert.strictEqual(timeOf("\"2024-09-22T12:13:28+02:00\"").time, Date.UTC(2024, 8, 22, 10, 13, 28))
    assert.strictEqual(timeOf("\"2024-09-22\"").time, Date.UTC(2024, 8, 22))
  })

  it("moves a usable time out of the fields", () => {
    const e = timeOf("1727000008009")
    assert.deepStrictEqual(fields(e), { a: 1 })
  })

  it("keeps an unusable time as a field and gives no time", () => {
    for (const value of ["\"soon\"", "-5", "0", "\"1\"", "946684799", "true", "null", "{}", "\"2024-13-45T00:00:00Z\"", "1e300", "\"Tuesday\""]) {
      const e = timeOf(value)
      assert.strictEqual(e.time, null, value)
      assert.deepStrictEqual(fields(e), { timestamp: JSON.parse(value), a: 1 }, value)
    }
  })

  it("prefers timestamp, then Timestamp", () => {
    const both = extract("{\"_e\": 1, \"Timestamp\": 1727000000000, \"timestamp\": 1727000008009}").events[0]!
    assert.strictEqual(both.time, 1727000008009)
    assert.deepStrictEqual(fields(both), { Timestamp: 1727000000000 })
    const fallback = extract("{\"_e\": 1, \"timestamp\": \"soon\", \"Timestamp\": 1727000008009}").events[0]!
    assert.strictEqual(fallback.time, 1727000008009)
    assert.deepStrictEqual(fields(fallback), { timestamp: "soon" })
  })

  it("reads the time of repaired events too", () => {
    const e = extract("{\"_e\": 1, \"Timestamp\": 1727000008009, \"x\": nan}").events[0]!
    assert.strictEqual(e.time, 1727000008009)
    assert.deepStrictEqual(fields(e), { x: null })
  })
})

describe("extract: sample rate", () => {
  // The same event on each path: the scanner's (strict, no tab), JSON.parse's (a tab the scanner
  // declines) and the lenient parser's (a `nan` only it reads).
  const paths = (members: string) => ({
    fast: extract(`{"_e": 1, ${members}}`),
    exact: extract(`{\t"_e": 1, ${members}}`),
    lenient: extract(`{"_e": 1, ${members}, "z": nan}`)
  })
  const rateOf = (value: string) => {
    const { exact, fast, lenient } = paths(`"sampleRate": ${value}, "a": 1`)
    // Each line took the path it was written for: the fast one keeps the line's own spacing.
    assert.deepStrictEqual(fast.counts, counts({ event: 1 }), value)
    assert.strictEqual(fast.events[0]!.json, `{"sampleRate": ${value}, "a": 1}`, value)
    assert.strictEqual(exact.events[0]!.json, JSON.stringify({ sampleRate: JSON.parse(value), a: 1 }), value)
    assert.deepStrictEqual(lenient.counts, counts({ repaired: 1 }), value)
    assert.deepStrictEqual(fields(lenient.events[0]), { sampleRate: JSON.parse(value), a: 1, z: null }, value)
    assert.strictEqual(exact.events[0]!.sampleRate, fast.events[0]!.sampleRate, value)
    assert.strictEqual(lenient.events[0]!.sampleRate, fast.events[0]!.sampleRate, value)
    return fast.events[0]!.sampleRate
  }

  it("reads a whole number from 1 up, as a number or a string of digits, on every path, and keeps the field", () => {
    const usable: Array<[string, number]> = [
      ["10", 10],
      ["1", 1],
      ["\"10\"", 10],
      ["\"\\u0031\\u0036\"", 16],
      ["\"0008\"", 8],
      ["1e3", 1000],
      ["10.0", 10],
      ["0.5e1", 5],
      ["9007199254740991", 9007199254740991]
    ]
    for (const [value, rate] of usable) assert.strictEqual(rateOf(value), rate, value)
  })

  it("gives null for anything else, and keeps the field as it was", () => {
    const unusable = [
      "0", "-4", "2.5", "1e-3", "9007199254740992", "1e30", "\"\"", "\"0\"", "\"2.5\"", "\"1e3\"", "\"+10\"",
      "\" 10\"", "\"10 \"", "\"-1\"", "\"ten\"", "\"9007199254740993\"", "true", "null", "{}", "[10]", "{\"n\":10}"
    ]
    for (const value of unusable) assert.strictEqual(rateOf(value), null, value)
  })

  it("is null without the field; only the top-level key counts, spelled exactly, its last value if repeated", () => {
    for (const members of ["\"a\": 1", "\"samplerate\": 8, \"SampleRate\": 8, \"sampleRate \": 8", "\"o\": {\"sampleRate\": 8}"]) {
      for (const [path, r] of Object.entries(paths(members))) assert.strictEqual(r.events[0]!.sampleRate, null, `${path}: ${members}`)
    }
    for (const [path, r] of Object.entries(paths("\"sampleRate\": 8, \"a\": 1, \"sampleRate\": 4"))) {
      assert.strictEqual(r.events[0]!.sampleRate, 4, path)
    }
    for (const [path, r] of Object.entries(paths("\"sampleRate\": 8, \"sampleRate\": 0"))) {
      assert.strictEqual(r.events[0]!.sampleRate, null, path)
    }
  })

  it("stays among the fields beside a time that leaves them", () => {
    for (const [path, r] of Object.entries(paths("\"timestamp\": 1727000008009, \"sampleRate\": 8"))) {
      const e = r.events[0]!
      assert.strictEqual(e.time, 1727000008009, path)
      assert.strictEqual(e.sampleRate, 8, path)
      assert.strictEqual((fields(e) as Record<string, unknown>).sampleRate, 8, path)
      assert.isFalse(Object.hasOwn(fields(e) as object, "timestamp"), path)
    }
  })

  it("is not a context key: an evaluation's reserved keys leave it as it is", () => {
    const reserved = reserveKeys(["processId", "nonce", "timestamp"])
    const fast = extract("{\"_e\":1,\"processId\":\"spoof\",\"sampleRate\":8}", defaultLimits, reserved)
    assert.strictEqual(fast.events[0]!.json, "{\"event.processId\":\"spoof\",\"sampleRate\":8}")
    assert.strictEqual(fast.events[0]!.sampleRate, 8)
    const lenient = extract("{\"_e\":1,\"processId\":\"spoof\",\"sampleRate\":8,\"z\":nan}", defaultLimits, reserved)
    assert.deepStrictEqual(fields(lenient.events[0]), { "event.processId": "spoof", sampleRate: 8, z: null })
    assert.strictEqual(lenient.events[0]!.sampleRate, 8)
  })
})

describe("extract: the real aos example", () => {
  const texts = exampleTexts()

  it("an event alone", () => {
    const transfer = texts.find((t) => t.ordinate === "3" && t.cron === null)!
    const r = extract(transfer.text)
    assert.deepStrictEqual(r.counts, counts({ event: 1 }))
    const e = r.events[0]!
    assert.strictEqual(e.time, 1727000008009)
    const f = fields(e) as Record<string, unknown>
    assert.strictEqual(f.Action, "Transfer")
    assert.strictEqual(f.Recipient, "XALICE_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert.notProperty(f, "_e")
    assert.notProperty(f, "Timestamp")
  })

  it("events mixed with prints and ANSI output", () => {
    const mixed = texts.find((t) => t.text.startsWith("plain line "))!
    const r = extract(mixed.text)
    // plain line, event, `{`, ANSI `a = n`, `}`, a bare number
    assert.strictEqual(r.lines, 6)
    assert.deepStrictEqual(r.counts, counts({ event: 1, not_event: 5 }))
    const f = fields(r.events[0]) as Record<string, unknown>
    assert.strictEqual(f.Action, "Custom")
    assert.strictEqual(f.Big, 9.007199254741e15)
    assert.match(f.Msg as string, /^a "q"\nb \d+$/)
    assert.strictEqual(r.events[0]!.index, 1)
  })

  it("events inside an Error text, before the stack trace", () => {
    const failed = texts.filter((t) => t.failed)
    assert.strictEqual(failed.length, 4)
    for (const t of failed) {
      const r = extract(t.text)
      assert.strictEqual(r.events.length, 1)
      assert.strictEqual(r.counts.invalid_json, 0)
      const f = fields(r.events[0]) as Record<string, unknown>
      assert.strictEqual(f.Error, "[string \"aos\"]:132: Quantity is required!")
      assert.strictEqual(r.events[0]!.index, 0)
    }
  })

  it("aos's non-strict events, recovered", () => {
    const odd = texts.find((t) => t.text.startsWith("{\"_e\": 1, \"Action\": \"Odd\""))!
    const r = extract(odd.text)
    assert.deepStrictEqual(r.counts, counts({ repaired: 3, not_event: 1 }))
    assert.deepStrictEqual(r.events.map((e) => [fields(e), e.repaired]), [
      [{ Action: "Odd", Nan: null }, ["Nan"]],
      [{ Action: "Odd2", Inf: null }, ["Inf"]],
      [{ Action: "Odd3", Ctl: "x\by" }, ["Ctl"]]
    ])
  })

  it("the whole file, every line accounted for", () => {
    const total = emptyCounts()
    let lines = 0
    let events = 0
    for (const t of texts) {
      const r = extract(t.text)
      lines += r.lines
      events += r.events.length
      for (const [k, v] of Object.entries(r.counts)) total[k as keyof LineCounts] += v
    }
    assert.strictEqual(Object.values(total).reduce((a, b) => a + b, 0), lines)
    assert.deepStrictEqual(total, counts({ event: 121, repaired: 12, blank: 8, not_event: 58 }))
    assert.strictEqual(events, 133)
  })
})
