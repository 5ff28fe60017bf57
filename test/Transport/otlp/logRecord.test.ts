/**
 * Events as LogRecords: attributes read straight from the event's JSON
 * text (exact integers, nested lists and arrays, nulls left out, a repeated
 * key keeping its last value), exact nanosecond times, and a severity and
 * body a log view reads.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { execFileSync } from "node:child_process"
import type { AnyValue, KeyValue } from "../../../src/Transport/otlp/logRecord.js"
import { bodyOf, nanos, readEvent, SEVERITY_ERROR, SEVERITY_INFO, toLogRecord } from "../../../src/Transport/otlp/logRecord.js"

/** An AnyValue back as a JS value: ints as bigint, so that exactness shows. */
const js = (v: AnyValue): unknown => {
  if ("stringValue" in v) return v.stringValue
  if ("boolValue" in v) return v.boolValue
  if ("intValue" in v) return BigInt(v.intValue)
  if ("doubleValue" in v) return v.doubleValue
  if ("arrayValue" in v) return v.arrayValue.values.map(js)
  if ("kvlistValue" in v) return toObject(v.kvlistValue.values)
  return null
}
const toObject = (list: ReadonlyArray<KeyValue>) => Object.fromEntries(list.map((kv) => [kv.key, js(kv.value)]))

/** JSON.parse's view, with integers as bigint and nulls out of objects: what the attributes must equal. */
const expected = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(expected)
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value) : value
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, expected(v)]))
  }
  return value
}

const exampleEvents = (): Array<string> =>
  execFileSync(process.execPath, ["dist/cli/bin.js", "extract", "examples/aos-token-evaluations.ndjson"], { encoding: "utf8" })
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.stringify((JSON.parse(l) as { data: unknown }).data))

describe("otlp/logRecord", () => {
  it("reads every example event's fields and context as attributes, in both integer forms", () => {
    const events = exampleEvents()
    assert.isAbove(events.length, 100)
    for (const data of events) {
      for (const ints of ["protobuf", "json"] as const) {
        const { attributes } = readEvent(data, ints)
        assert.deepStrictEqual(toObject(attributes), expected(JSON.parse(data)), data)
        if (ints === "json") {
          for (const kv of attributes) if ("intValue" in kv.value) assert.isString(kv.value.intValue)
        }
      }
    }
  })

  it("keeps integers beyond 2^53 exactly, as ints within 64 bits and as their digits beyond", () => {
    const data = `{"a":9007199254740993,"b":-9223372036854775808,"c":9223372036854775808,"d":10000000000000000000000000001,"e":1.5e3,"f":-0.25}`
    const { attributes } = readEvent(data, "protobuf")
    const byKey = Object.fromEntries(attributes.map((kv) => [kv.key, kv.value]))
    assert.deepStrictEqual(byKey.a, { intValue: "9007199254740993" })
    assert.deepStrictEqual(byKey.b, { intValue: "-9223372036854775808" })
    assert.deepStrictEqual(byKey.c, { stringValue: "9223372036854775808" })
    assert.deepStrictEqual(byKey.d, { stringValue: "10000000000000000000000000001" })
    assert.deepStrictEqual(byKey.e, { doubleValue: 1500 })
    assert.deepStrictEqual(byKey.f, { doubleValue: -0.25 })
  })

  it("nests objects as key-value lists and arrays as arrays, leaves nulls out of objects, keeps the last of a repeated key", () => {
    const data = ` { "x" : { "y" : [1, "two", null, {"z": true}] , "n": null }, "s": "a\\"b\\u00e9", "x2": [], "o": {}, "k": 1, "k": 2 } `
    const { attributes } = readEvent(data, "json")
    assert.deepStrictEqual(attributes.map((kv) => kv.key), ["x", "s", "x2", "o", "k"])
    assert.deepStrictEqual(toObject(attributes), { x: { y: [1n, "two", null, { z: true }] }, s: "a\"bé", x2: [], o: {}, k: 2n })
  })

  it("refuses data that is not a JSON object", () => {
    assert.throws(() => readEvent("[1,2]", "protobuf"), /not a JSON object/)
  })

  it("writes the event time in nanoseconds exactly, in both forms", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 8_000_000_000_000 }), (ms) => {
      const exact = BigInt(ms) * 1_000_000n
      assert.strictEqual(nanos(ms, "json"), exact.toString())
      const { high, low } = nanos(ms, "protobuf") as { low: number; high: number }
      assert.isTrue(low >= 0 && low < 2 ** 32 && Number.isInteger(low) && Number.isInteger(high))
      assert.strictEqual((BigInt(high) << 32n) + BigInt(low), exact)
    }), { numRuns: 2000 })
  })

  it("makes a record: ERROR for an event of a failed evaluation, INFO else; a body naming the event and where it came from", () => {
    const ok = toLogRecord(
      { id: "e1", time: 1_727_000_008_009, data: `{"processId":"P","nonce":3,"failed":false,"eventId":"e1","Action":"Transfer","Quantity":"5"}` },
      "1",
      "json"
    )
    assert.strictEqual(ok.severityNumber, SEVERITY_INFO)
    assert.strictEqual(ok.severityText, "INFO")
    assert.deepStrictEqual(ok.body, { stringValue: "Transfer (process P, nonce 3)" })
    assert.strictEqual(ok.eventName, "Transfer")
    assert.strictEqual(ok.timeUnixNano, "1727000008009000000")
    const failed = toLogRecord(
      { id: "e2", time: 1, data: `{"processId":"P","nonce":4,"cron":"1-10-minutes","failed":true,"Error":"insufficient balance"}`, sampleRate: 8 },
      "1",
      "protobuf"
    )
    assert.strictEqual(failed.severityNumber, SEVERITY_ERROR)
    assert.strictEqual(failed.severityText, "ERROR")
    assert.deepStrictEqual(failed.body, { stringValue: "event failed: insufficient balance (process P, nonce 4, cron 1-10-minutes)" })
    assert.strictEqual(failed.eventName, "")
    assert.deepStrictEqual(failed.attributes.at(-1), { key: "SampleRate", value: { intValue: 8 } })
    assert.strictEqual(bodyOf({ failed: false, name: undefined, error: undefined, processId: undefined, nonce: undefined, cron: undefined }), "event")
  })
})
