import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Schema } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import { decode, decodeSync, Evaluation, EvaluationDecodeError, logText } from "../src/Evaluation.js"

const examplePath = new URL("../examples/aos-token-evaluations.ndjson", import.meta.url)
const exampleRecords = (): Array<unknown> =>
  fs.readFileSync(examplePath, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as unknown)

const base = {
  processId: "P1",
  messageId: "M1",
  ordinate: "7",
  cron: null,
  timestamp: 1727000002464,
  blockHeight: 1500001,
  readOnly: false,
  output: { Output: { data: "hello", prompt: "> " }, Error: null, GasUsed: 0, memorySize: 109903872 }
}

const decodeOk = (input: unknown) => {
  const result = decodeSync(input)
  if (Either.isLeft(result)) assert.fail(result.left.message)
  return result.right
}

const decodeErr = (input: unknown): EvaluationDecodeError => {
  const result = decodeSync(input)
  if (Either.isRight(result)) assert.fail("expected a decode error")
  return result.left
}

describe("Evaluation", () => {
  it("decodes every record of the real aos example", () => {
    const records = exampleRecords()
    assert.strictEqual(records.length, 134)
    const decoded = records.map(decodeOk)
    assert.strictEqual(decoded.filter((e) => e.readOnly).length, 12)
    assert.strictEqual(decoded.filter((e) => e.cron !== null).length, 9)
    const cron = decoded.find((e) => e.cron === "0-10-minutes")!
    assert.strictEqual(cron.messageId, null)
    assert.strictEqual(typeof cron.ordinate, "string")
  })

  it("accepts numbers or strings where the CU gives either", () => {
    const e = decodeOk({
      ...base,
      ordinate: 0,
      timestamp: "1727000002464",
      blockHeight: "1500001",
      output: { ...base.output, GasUsed: "12", memorySize: "4096" }
    })
    assert.strictEqual(e.ordinate, "0")
    assert.strictEqual(e.timestamp, 1727000002464)
    assert.strictEqual(e.blockHeight, 1500001)
    assert.strictEqual(e.output.GasUsed, 12)
    assert.strictEqual(e.output.memorySize, 4096)
  })

  it("fills what older CUs leave out", () => {
    const e = decodeOk({ processId: "P", ordinate: "1", timestamp: 1, output: { Output: "text" } })
    assert.strictEqual(e.messageId, null)
    assert.strictEqual(e.cron, null)
    assert.strictEqual(e.readOnly, false)
    assert.strictEqual(e.output.Error, null)
    assert.strictEqual(e.output.memorySize, null)
  })

  it("names every bad field, once each", () => {
    const error = decodeErr({
      ...base,
      processId: 42,
      timestamp: "soon",
      output: { ...base.output, GasUsed: "lots" }
    })
    assert.deepStrictEqual(error.issues, [
      "processId: Expected string, actual 42",
      "timestamp: Expected epoch milliseconds as an integer from 0 to 8.64e15 (a number or numeric string), actual \"soon\"",
      "output.GasUsed: Expected a finite number or numeric string, actual \"lots\""
    ])
    assert.include(error.message, "output.GasUsed")
  })

  it("refuses non-finite numbers and empty ordinates", () => {
    assert.deepStrictEqual(decodeErr({ ...base, timestamp: "Infinity" }).issues, [
      "timestamp: Expected epoch milliseconds as an integer from 0 to 8.64e15 (a number or numeric string), actual \"Infinity\""
    ])
    assert.deepStrictEqual(decodeErr({ ...base, GasUsed: 1, output: { ...base.output, GasUsed: "Infinity" } }).issues, [
      "output.GasUsed: Expected a finite number or numeric string, actual \"Infinity\""
    ])
    assert.match(decodeErr({ ...base, ordinate: "" }).issues[0]!, /^ordinate: /)
  })

  it("refuses an ordinate that is not the message's nonce, by name", () => {
    // Any text would compare as text against the digits of a watermark: "abc" sits above every
    // nonce, so every later evaluation of the process would count as already handed off.
    for (const ordinate of ["abc", "-5", -5, 1.5, "1.5", " 7", "7 ", "", "a7:retry", "1e3", "0x1F", "٣", 2 ** 53, null, true, {}]) {
      assert.deepStrictEqual(decodeErr({ ...base, ordinate }).issues, [
        `ordinate: Expected the message's nonce as decimal digits (a string or a non-negative integer up to 2^53 - 1), actual ${JSON.stringify(ordinate)}`
      ], String(ordinate))
    }
    for (const ordinate of [Infinity, NaN]) {
      assert.match(decodeErr({ ...base, ordinate }).issues[0]!, /^ordinate: Expected the message's nonce as decimal digits/, String(ordinate))
    }
  })

  it("refuses a fractional timestamp, by name", () => {
    for (const timestamp of [1.5, "1.5", 1727000002464.5, "1727000002464.5"]) {
      assert.deepStrictEqual(decodeErr({ ...base, timestamp }).issues, [
        `timestamp: Expected epoch milliseconds as an integer from 0 to 8.64e15 (a number or numeric string), actual ${JSON.stringify(timestamp)}`
      ], String(timestamp))
    }
  })

  it("takes every form of a nonce and of a timestamp the CU gives, as before", () => {
    const long = "1234567890123456789012345"
    const cases: Array<[unknown, string]> = [["0", "0"], ["007", "007"], ["7", "7"], [7, "7"], [0, "0"], [long, long], [Number.MAX_SAFE_INTEGER, "9007199254740991"]]
    for (const [ordinate, decoded] of cases) assert.strictEqual(decodeOk({ ...base, ordinate }).ordinate, decoded, String(ordinate))
    assert.strictEqual(decodeOk({ ...base, timestamp: "1727000002464" }).timestamp, 1727000002464)
    assert.strictEqual(decodeOk({ ...base, timestamp: 1727000002464 }).timestamp, 1727000002464)
  })

  it("refuses a timestamp no Date can hold, or before 1970", () => {
    for (const timestamp of [8.64e15 + 1, 1e16, -1]) {
      assert.match(decodeErr({ ...base, timestamp }).issues[0]!, /^timestamp: Expected epoch milliseconds/, String(timestamp))
    }
    assert.strictEqual(decodeOk({ ...base, timestamp: 8.64e15 }).timestamp, 8.64e15)
    assert.strictEqual(decodeOk({ ...base, timestamp: 0 }).timestamp, 0)
  })

  it("names a missing required field", () => {
    const { processId: _, ...rest } = base
    assert.match(decodeErr(rest).issues[0]!, /^processId: /)
    assert.match(decodeErr(null).issues[0]!, /^\(record\): /)
  })

  it.effect("decodes as an Effect with a typed error", () =>
    Effect.gen(function*() {
      const ok = yield* decode(base)
      assert.strictEqual(ok.processId, "P1")
      const error = yield* Effect.flip(decode({}))
      assert.strictEqual(error._tag, "EvaluationDecodeError")
    }))
})

describe("logText", () => {
  const output = (o: object) => decodeOk({ ...base, output: o }).output

  it("takes Error when it is a string, and marks the evaluation failed", () => {
    const t = logText(output({ Output: { data: "ignored" }, Error: "{\"_e\": 1}\nstack" }))
    assert.deepStrictEqual(t, { _tag: "Text", text: "{\"_e\": 1}\nstack", source: "Error", failed: true })
  })

  it("takes Output.data on success", () => {
    assert.deepStrictEqual(logText(output({ Output: { data: "a\nb" }, Error: null })), {
      _tag: "Text",
      text: "a\nb",
      source: "Output.data",
      failed: false
    })
  })

  it("takes Output when it is a string", () => {
    assert.deepStrictEqual(logText(output({ Output: "plain" })), {
      _tag: "Text",
      text: "plain",
      source: "Output",
      failed: false
    })
  })

  it("falls back past a non-string Error, still failed", () => {
    const t = logText(output({ Output: { data: "x" }, Error: { code: 1 } }))
    assert.deepStrictEqual(t, { _tag: "Text", text: "x", source: "Output.data", failed: true })
  })

  it("gives a reason when there is no text", () => {
    assert.deepStrictEqual(logText(output({ Output: null })), { _tag: "NoText", reason: "no_output", failed: false })
    assert.deepStrictEqual(logText(output({ Output: { data: { json: 1 } } })), {
      _tag: "NoText",
      reason: "data_not_text",
      failed: false
    })
    assert.deepStrictEqual(logText(output({ Output: null, Error: { message: "boom" } })), {
      _tag: "NoText",
      reason: "error_not_text",
      failed: true
    })
  })

  it("finds the text of every example record", () => {
    const sources = new Map<string, number>()
    for (const record of exampleRecords()) {
      const t = logText(decodeOk(record).output)
      const key = t._tag === "Text" ? `${t.source}:${t.failed}` : t.reason
      sources.set(key, (sources.get(key) ?? 0) + 1)
    }
    assert.deepStrictEqual(Object.fromEntries(sources), { "Output.data:false": 130, "Error:true": 4 })
  })
})

describe("decodeSync: the fast path agrees with the schema", () => {
  const maybe = <A>(arb: fc.Arbitrary<A>) => fc.option(arb, { nil: undefined, freq: 4 })
  const numberish = fc.oneof(
    fc.double(),
    fc.integer(),
    fc.constantFrom(0, -1, 8.64e15, 8.64e15 + 1, 1727000002464, Infinity, NaN),
    fc.constantFrom("12", "1e3", "x", ""),
    fc.constant(null)
  )
  const outputArb = fc.record(
    {
      Output: fc.oneof(
        fc.string(),
        fc.constant(null),
        fc.constant(undefined),
        fc.record({ data: maybe(fc.oneof(fc.string(), fc.integer())), prompt: maybe(fc.string()), print: maybe(fc.boolean()), test: maybe(fc.string()) }, { requiredKeys: [] }),
        fc.array(fc.string(), { maxLength: 2 })
      ),
      Error: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined), fc.object({ maxDepth: 1 })),
      GasUsed: numberish,
      memorySize: numberish,
      extra: fc.string()
    },
    { requiredKeys: [] }
  )
  const recordArb = fc.record(
    {
      processId: fc.oneof(fc.string(), fc.constant(""), fc.integer()),
      messageId: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined), fc.integer()),
      ordinate: fc.oneof(fc.string(), fc.constant(""), fc.integer(), fc.double()),
      cron: fc.oneof(fc.string(), fc.constant(null), fc.constant(undefined)),
      timestamp: numberish,
      blockHeight: numberish,
      readOnly: fc.oneof(fc.boolean(), fc.constant(undefined), fc.constant("true")),
      output: fc.oneof(outputArb, fc.constant(null), fc.string()),
      other: fc.string()
    },
    { requiredKeys: [] }
  )

  // Valid records of two kinds: in the shape the CU sends (strings and finite numbers, fields
  // absent or null), which decodeSync builds on its fast path, and with each field in every form
  // the schema accepts (also undefined, numeric strings, numeric ordinates), which go to the
  // schema. Extra keys anywhere.
  const absent = Symbol("absent")
  const withoutAbsent = (o: Record<string, unknown>): Record<string, unknown> =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== absent))
  const numericString = (arb: fc.Arbitrary<number>) =>
    fc.oneof({ arbitrary: arb.map(String), weight: 4 }, arb.map((n) => ` ${n} `), arb.map((n) => n.toExponential()))
  const finiteArb = fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.constantFrom(0, -0, 109903872))
  const timeArb = fc.oneof(
    fc.integer({ min: 0, max: 2_000_000_000_000 }),
    fc.integer({ min: 0, max: 8.64e15 }),
    fc.constantFrom(0, -0, 8.64e15, 1727000002464)
  )
  // Nonces: digits of any length, leading zeros kept; as numbers, the safe non-negative integers.
  const digitsArb = fc.oneof(
    { arbitrary: fc.nat().map(String), weight: 3 },
    fc.stringMatching(/^[0-9]{1,30}$/),
    fc.constantFrom("0", "007", "9007199254740993", "1234567890123456789012345")
  )
  const nonceNumberArb = fc.oneof(fc.nat(), fc.maxSafeNat(), fc.constantFrom(0, -0, Number.MAX_SAFE_INTEGER))
  const extraKeys = fc.dictionary(fc.constantFrom("extra", "Messages", "Spawns", "Assignments", "test", "x"), fc.jsonValue({ maxDepth: 1 }), {
    maxKeys: 2
  })
  const validRecord = (everyForm: boolean): fc.Arbitrary<Record<string, unknown>> => {
    const optional = <A>(arb: fc.Arbitrary<A>): fc.Arbitrary<A | typeof absent | undefined> =>
      everyForm
        ? fc.oneof({ arbitrary: arb, weight: 4 }, fc.constant(absent), fc.constant(undefined))
        : fc.oneof({ arbitrary: arb, weight: 4 }, fc.constant(absent))
    const number = everyForm
      ? fc.oneof({ arbitrary: finiteArb, weight: 3 }, numericString(finiteArb), fc.constantFrom("0x1F", "1e3", "-0"))
      : finiteArb
    const output = fc.tuple(
      fc.record({
        Output: optional(fc.oneof(
          fc.string(),
          fc.constant(null),
          fc.record({
            data: fc.oneof(fc.string(), fc.integer(), fc.constant(undefined)),
            prompt: fc.string(),
            print: fc.boolean(),
            test: fc.string()
          }, { requiredKeys: [] })
        )),
        Error: optional(fc.oneof(fc.constant(null), fc.string(), fc.object({ maxDepth: 1 }), fc.integer(), fc.boolean())),
        GasUsed: optional(fc.oneof(fc.constant(null), number)),
        memorySize: optional(fc.oneof(fc.constant(null), number))
      }),
      extraKeys
    ).map(([o, extra]) => ({ ...extra, ...withoutAbsent(o) }))
    return fc.tuple(
      fc.record({
        processId: fc.string({ minLength: 1 }),
        messageId: optional(fc.oneof(fc.string(), fc.constant(null))),
        ordinate: everyForm ? fc.oneof(digitsArb, nonceNumberArb) : digitsArb,
        cron: optional(fc.oneof(fc.constant(null), fc.string(), fc.constantFrom("0-10-minutes", "1-10-minutes"))),
        timestamp: everyForm ? fc.oneof({ arbitrary: timeArb, weight: 3 }, numericString(timeArb)) : timeArb,
        blockHeight: optional(fc.oneof(fc.constant(null), number)),
        readOnly: optional(fc.boolean()),
        output
      }),
      extraKeys
    ).map(([r, extra]) => ({ ...extra, ...withoutAbsent(r) }))
  }
  const validArb = fc.oneof(validRecord(false), validRecord(true))

  // A valid record with exactly one field broken in one way: the schema must refuse it.
  const breaks: Record<string, ReadonlyArray<unknown>> = {
    processId: [absent, "", 42, null],
    ordinate: [absent, "", null, true, {}, "abc", "-5", -5, -1, 1.5, "1.5", " 7", "7\n", "a7:retry", "1e3", 2 ** 53, Infinity, NaN],
    timestamp: [absent, -1, 8.64e15 + 1, Infinity, NaN, "soon", "", "Infinity", null, true, 1.5, "1.5", 1727000002464.5],
    messageId: [42, true, {}],
    cron: [42, false, []],
    blockHeight: ["x", Infinity, NaN, true, ""],
    readOnly: ["true", 1, null],
    output: [absent, null, "text", 7],
    "output.Output": [42, true],
    "output.GasUsed": ["lots", Infinity, -Infinity, NaN, true, "", "Infinity"],
    "output.memorySize": ["lots", Infinity, NaN, false, " "]
  }
  const brokenArb = fc.tuple(validArb, fc.constantFrom(...Object.entries(breaks).flatMap(([path, values]) => values.map((v) => [path, v] as const))))
    .map(([record, [path, value]]) => {
      const [key, inner] = path.split(".") as [string, string | undefined]
      return inner === undefined
        ? withoutAbsent({ ...record, [key]: value })
        : { ...record, [key]: withoutAbsent({ ...(record[key] as Record<string, unknown>), [inner]: value }) }
    })

  // Measured over 3000 runs: about 70% of the inputs decode (the valid ones, and a handful of the
  // fully arbitrary ones), half of those on the fast path; when every input was fully arbitrary,
  // some 12 in 3000 decoded.
  const inputArb = fc.oneof(
    { arbitrary: validArb.map((input) => ({ kind: "valid" as const, input })), weight: 7 },
    { arbitrary: brokenArb.map((input) => ({ kind: "broken" as const, input })), weight: 2 },
    { arbitrary: recordArb.map((input) => ({ kind: "arbitrary" as const, input })), weight: 1 }
  )

  const schema = Schema.decodeUnknownEither(Evaluation)

  it("gives what the schema gives, for every input", () => {
    const runs = 3000
    let decoded = 0
    fc.assert(
      fc.property(inputArb, ({ input, kind }) => {
        const fast = decodeSync(input)
        const slow = schema(input)
        assert.strictEqual(Either.isRight(fast), Either.isRight(slow))
        if (kind !== "arbitrary") assert.strictEqual(Either.isRight(slow), kind === "valid", kind)
        if (Either.isRight(fast) && Either.isRight(slow)) {
          decoded++
          assert.instanceOf(fast.right, Evaluation)
          assert.deepStrictEqual({ ...fast.right, output: { ...fast.right.output } }, { ...slow.right, output: { ...slow.right.output } })
        }
      }),
      { numRuns: runs }
    )
    // The comparison above must actually run: most inputs have to decode.
    assert.isAtLeast(decoded / runs, 0.6, `only ${decoded} of ${runs} inputs decoded`)
  })

  it("takes the example's records as the schema does", () => {
    for (const line of fs.readFileSync(new URL("../examples/aos-token-evaluations.ndjson", import.meta.url), "utf8").split("\n")) {
      if (line === "") continue
      const input = JSON.parse(line) as unknown
      assert.deepStrictEqual(Either.getOrThrow(decodeSync(input)), Either.getOrThrow(schema(input)))
    }
  })
})
