import { assert, describe, it } from "@effect/vitest"
import { Either } from "effect"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { contextKeys, contextPrefix, enrich, eventId, reservedKeys } from "../src/Enrich.js"
import { decodeSync, Evaluation, logText } from "../src/Evaluation.js"
import { defaultLimits, extract } from "../src/Extractor.js"

const rawRecords = (): Array<Record<string, unknown>> =>
  fs.readFileSync(new URL("../examples/aos-token-evaluations.ndjson", import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>)

const decoded = (input: unknown): Evaluation => {
  const result = decodeSync(input)
  if (Either.isLeft(result)) assert.fail(result.left.message)
  return result.right
}

const raw = rawRecords()
const P0 = "XPROC0_pppppppppppppppppppppppppppppppppppp"
const P1 = "XPROC1_pppppppppppppppppppppppppppppppppppp"

/**
 * The record as decoded, but with an ordinate the decoder refuses (it is not the message's nonce),
 * built without validation: `eventId` and `contextPrefix` take any string, and these pin what
 * they make of one.
 */
const unchecked = (input: Record<string, unknown>, ordinate: string): Evaluation =>
  new Evaluation({ ...decoded({ ...input, ordinate: "0" }), ordinate }, true)

/** The example record of a process at an ordinate (and cron), as found in the file. */
const example = (processId: string, ordinate: string, cron: string | null = null): Record<string, unknown> => {
  const found = raw.find((r) => r.processId === processId && r.ordinate === ordinate && r.cron === cron)
  assert.isDefined(found, `${processId} ${ordinate} ${cron}`)
  return found!
}

/** What the vacuum does with one evaluation: its log text, extracted with the context names reserved, enriched. */
const outbound = (evaluation: Evaluation) => {
  const text = logText(evaluation.output)
  assert.strictEqual(text._tag, "Text")
  if (text._tag !== "Text") return []
  return enrich(evaluation, extract(text.text, defaultLimits, reservedKeys).events, text.failed)
}

/** A hand-made evaluation: only the required fields unless given. */
const made = (fields: Record<string, unknown> = {}): Evaluation =>
  decoded({ processId: "P", ordinate: "7", timestamp: 1727000000000, output: { Output: "" }, ...fields })

/** The documented id input: processId, timestamp, ordinate, cron ("" when none) and line, one per line; SHA-256, base64url, 22 characters. */
const independentId = (processId: string, timestamp: number, ordinate: string, cron: string | null, line: number): string =>
  createHash("sha256")
    .update([processId, String(timestamp), ordinate, cron ?? "", String(line)].join("\n"), "utf8")
    .digest("base64url")
    .slice(0, 22)

describe("eventId: golden values", () => {
  // Pinned on purpose. The id is how a consumer drops the copies a restart
  // re-sends: an upgrade that changed how ids are computed would make every
  // consumer see every event ever sent as new. These literals must never
  // change silently; changing one is a breaking change to announce.
  const first = example(P0, "1") // the file's first message of XPROC0 (the file starts at ordinate 1)
  const golden: Array<[string, Evaluation, number, string]> = [
    // A process's first message has ordinate 0; the file has none, so this is its first record with the ordinate set to "0".
    ["first message, ordinate 0", decoded({ ...first, ordinate: "0" }), 0, "Anf4vsWnYUcFTncel9jrfh"],
    ["first message, ordinate 0, line 3", decoded({ ...first, ordinate: "0" }), 3, "QLo5wwv1K6lCPnYM9LELzR"],
    ["the file's first message (ordinate 1)", decoded(first), 0, "WuHVEp1555dmhdc9O92MjJ"],
    ["an ordinary transfer", decoded(example(P0, "3")), 0, "6cxSoX6ekQ6-4bHCLedCSl"],
    ["an ordinary transfer, line 1", decoded(example(P0, "3")), 1, "tgjXZq7XXtINf93Jeo4OyO"],
    ["a cron evaluation", decoded(example(P0, "16", "0-10-minutes")), 0, "qAFcAYmXrdHdDDF5AlmGMs"],
    ["a failed evaluation", decoded(example(P0, "31")), 0, "1uuIlWYmOn32eKMjO81IwC"],
    ["three events of XPROC1, line 0", decoded(example(P1, "30")), 0, "RZe7tJGu9Xhrl3xkyUmKFB"],
    ["three events of XPROC1, line 1", decoded(example(P1, "30")), 1, "2wjMJRshdr37Ilbe1jEYu9"],
    ["three events of XPROC1, line 2", decoded(example(P1, "30")), 2, "X4D58bD2rqSYaVoGeI5bjY"],
    // No longer decodable (the ordinate is not a nonce), built unchecked: the id hashes any ordinate text as it is.
    [
      "a hand-made record with a non-numeric ordinate",
      unchecked({ processId: P0, messageId: "MSG_X", cron: null, timestamp: 1727000300000, output: { Output: "", GasUsed: 3, memorySize: null } }, "a7:retry"),
      0,
      "fI1w7WbiASZJRUDTeAQS5T"
    ],
    [
      "the same, line 4",
      unchecked({ processId: P0, messageId: "MSG_X", cron: null, timestamp: 1727000300000, output: { Output: "", GasUsed: 3, memorySize: null } }, "a7:retry"),
      4,
      "JVBT7MU_UsGeLIXrwSKSqW"
    ]
  ]

  it("gives the pinned id for each known evaluation and line", () => {
    for (const [name, evaluation, line, id] of golden) assert.strictEqual(eventId(evaluation, line), id, name)
  })

  it("is the documented hash, computed independently", () => {
    for (const [name, e, line, id] of golden) {
      assert.strictEqual(independentId(e.processId, e.timestamp, e.ordinate, e.cron, line), id, name)
    }
    // Written out by hand for one: the cron evaluation's line 0.
    const input = `${P0}\n1727000049597\n16\n0-10-minutes\n0`
    assert.strictEqual(createHash("sha256").update(input).digest("base64url").slice(0, 22), "qAFcAYmXrdHdDDF5AlmGMs")
  })

  it("is 22 base64url characters", () => {
    for (const [name, , , id] of golden) assert.match(id, /^[A-Za-z0-9_-]{22}$/, name)
  })

  it("depends on the process, the position and the line, and on nothing else", () => {
    const e = example(P0, "3")
    const id = eventId(decoded(e), 0)
    // Not on what the CU may give in either form, nor on the rest of the record.
    assert.strictEqual(eventId(decoded({ ...e, ordinate: 3, timestamp: "1727000008009" }), 0), id)
    assert.strictEqual(eventId(decoded({ ...e, messageId: "other", blockHeight: null, readOnly: true }), 0), id)
    assert.strictEqual(eventId(decoded({ ...e, output: { Output: null, Error: "boom", GasUsed: 9, memorySize: 1 } }), 0), id)
    // Each part of the position changes it.
    const changed = [
      eventId(decoded({ ...e, processId: P1 }), 0),
      eventId(decoded({ ...e, timestamp: 1727000008010 }), 0),
      eventId(decoded({ ...e, ordinate: "4" }), 0),
      eventId(decoded({ ...e, ordinate: "03" }), 0),
      eventId(decoded({ ...e, cron: "0-10-minutes" }), 0),
      eventId(decoded(e), 1)
    ]
    assert.strictEqual(new Set([id, ...changed]).size, 7)
  })
})

describe("contextPrefix", () => {
  it("writes the context fields in order, leaving nulls out", () => {
    assert.strictEqual(
      contextPrefix(made(), false),
      "{\"processId\":\"P\",\"nonce\":7,\"timestamp\":1727000000000,\"failed\":false,\"eventId\":\""
    )
    const full = made({ messageId: "M", cron: "0-10-minutes", output: { Output: "", GasUsed: 12, memorySize: 4096 } })
    const prefix = contextPrefix(full, true)
    assert.strictEqual(
      prefix,
      "{\"processId\":\"P\",\"nonce\":7,\"messageId\":\"M\",\"cron\":\"0-10-minutes\",\"timestamp\":1727000000000," +
        "\"gasUsed\":12,\"memorySize\":4096,\"failed\":true,\"eventId\":\""
    )
    assert.deepStrictEqual(Object.keys(JSON.parse(prefix + "x\"}")), [...contextKeys])
  })

  it("keeps zero gas and memory: only null is left out", () => {
    assert.strictEqual(
      contextPrefix(made({ output: { Output: "", GasUsed: 0, memorySize: 0 } }), false),
      "{\"processId\":\"P\",\"nonce\":7,\"timestamp\":1727000000000,\"gasUsed\":0,\"memorySize\":0,\"failed\":false,\"eventId\":\""
    )
  })

  it("writes the nonce as a number for a digit ordinate and as a string otherwise", () => {
    // What the decoder refuses is built unchecked: the prefix stays valid JSON whatever the ordinate.
    const nonce = (ordinate: unknown): string => {
      const e = typeof ordinate === "number" || /^[0-9]+$/.test(String(ordinate))
        ? made({ ordinate })
        : unchecked({ processId: "P", timestamp: 1727000000000, output: { Output: "" } }, String(ordinate))
      const prefix = contextPrefix(e, false)
      return prefix.slice(prefix.indexOf(",\"nonce\":") + 9, prefix.indexOf(",\"timestamp\":"))
    }
    const cases: Array<[unknown, string]> = [
      ["0", "0"],
      [0, "0"],
      ["7", "7"],
      [7, "7"],
      // Leading zeros go: JSON has no such number.
      ["007", "7"],
      ["000", "0"],
      // Exact digits, beyond what a double holds.
      ["12345678901234567890123", "12345678901234567890123"],
      ["a7:retry", "\"a7:retry\""],
      ["-1", "\"-1\""],
      ["1.5", "\"1.5\""],
      [" 7", "\" 7\""],
      ["7\n", "\"7\\n\""],
      ["a\"b", "\"a\\\"b\""]
    ]
    for (const [ordinate, text] of cases) assert.strictEqual(nonce(ordinate), text, JSON.stringify(ordinate))
  })

  it("escapes what needs escaping, so the prefix is always the start of valid JSON", () => {
    const e = made({ processId: "P\"}\n,\"x", messageId: "\\", cron: "\u0000" })
    const fields = JSON.parse(contextPrefix(e, false) + "id\"}") as Record<string, unknown>
    assert.deepStrictEqual(fields, {
      processId: "P\"}\n,\"x",
      nonce: 7,
      messageId: "\\",
      cron: "\u0000",
      timestamp: 1727000000000,
      failed: false,
      eventId: "id"
    })
  })
})

describe("enrich", () => {
  it("gives the exact record of a real cron evaluation", () => {
    const e = decoded(example(P0, "16", "0-10-minutes"))
    assert.deepStrictEqual(outbound(e), [{
      id: "qAFcAYmXrdHdDDF5AlmGMs",
      time: 1727000049597,
      // No messageId (a cron tick has none); the event's own fields as printed, its Timestamp gone into the time.
      data: "{\"processId\":\"XPROC0_pppppppppppppppppppppppppppppppppppp\",\"nonce\":16,\"cron\":\"0-10-minutes\"," +
        "\"timestamp\":1727000049597,\"gasUsed\":0,\"memorySize\":109903872,\"failed\":false,\"eventId\":\"qAFcAYmXrdHdDDF5AlmGMs\"," +
        "\"Action\": \"Info\", \"NumMintRequests\": 1, \"NumTransferRequests\": 9, \"Cast\": false, \"NumInfoRequests\": 1, " +
        "\"NumBalanceRequests\": 1, \"NumBalancesRequests\": 0, \"TotalSupply\": \"10000000000000000\", " +
        "\"From\": \"XOWNER0_ooooooooooooooooooooooooooooooooooo\",\"Cron\": true}"
    }])
  })

  it("gives the exact record of a real failed evaluation, marked failed", () => {
    const e = decoded(example(P0, "31"))
    assert.deepStrictEqual(outbound(e), [{
      id: "1uuIlWYmOn32eKMjO81IwC",
      time: 1727000105033,
      data: "{\"processId\":\"XPROC0_pppppppppppppppppppppppppppppppppppp\",\"nonce\":31,\"messageId\":\"MSG_0_31\"," +
        "\"timestamp\":1727000105033,\"gasUsed\":0,\"memorySize\":109903872,\"failed\":true,\"eventId\":\"1uuIlWYmOn32eKMjO81IwC\"," +
        "\"Action\": \"Transfer\", \"NumMintRequests\": 1, \"NumTransferRequests\": 19, \"Cast\": false, \"NumInfoRequests\": 4, " +
        "\"NumBalanceRequests\": 2, \"NumBalancesRequests\": 0, \"Error\": \"[string \\\"aos\\\"]:132: Quantity is required!\", " +
        "\"TotalSupply\": \"10000000000000000\", \"From\": \"XDAVE_ddddddddddddddddddddddddddddddddddddd\", " +
        "\"Recipient\": \"XALICE_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"Cron\": false}"
    }])
  })

  it("gives each event of an evaluation the id of its line", () => {
    const e = decoded(example(P1, "30"))
    const events = outbound(e)
    assert.deepStrictEqual(events.map((o) => o.id), ["RZe7tJGu9Xhrl3xkyUmKFB", "2wjMJRshdr37Ilbe1jEYu9", "X4D58bD2rqSYaVoGeI5bjY"])
    assert.deepStrictEqual(events.map((o) => JSON.parse(o.data).eventId), events.map((o) => o.id))
    assert.deepStrictEqual(events.map((o) => JSON.parse(o.data).Action), ["Odd", "Odd2", "Odd3"])
  })

  it("writes the event's own fields after the context, an empty event as the context alone", () => {
    const e = made({ messageId: "M" })
    const [empty, some] = enrich(e, extract("{\"_e\":1}\n{\"_e\":1,\"b\":2, \"a\" : [1.50]}").events, false)
    assert.strictEqual(
      empty!.data,
      "{\"processId\":\"P\",\"nonce\":7,\"messageId\":\"M\",\"timestamp\":1727000000000,\"failed\":false,\"eventId\":\"" + empty!.id + "\"}"
    )
    assert.strictEqual(
      some!.data,
      "{\"processId\":\"P\",\"nonce\":7,\"messageId\":\"M\",\"timestamp\":1727000000000,\"failed\":false,\"eventId\":\"" + some!.id +
        "\",\"b\":2, \"a\" : [1.50]}"
    )
    assert.deepStrictEqual([empty!.id, some!.id], [eventId(e, 0), eventId(e, 1)])
    assert.deepStrictEqual(enrich(e, [], false), [])
  })

  it("marks failed as told, without changing the id", () => {
    const e = made()
    const events = extract("{\"_e\":1,\"a\":1}").events
    const [ok] = enrich(e, events, false)
    const [failed] = enrich(e, events, true)
    assert.strictEqual(ok!.id, failed!.id)
    assert.strictEqual(JSON.parse(ok!.data).failed, false)
    assert.strictEqual(JSON.parse(failed!.data).failed, true)
  })

  it("renames every context name an event uses, so it cannot spoof another process", () => {
    const e = made({ processId: "REAL", messageId: "M", cron: "c", output: { Output: "", GasUsed: 1, memorySize: 2 } })
    const spoof: Record<string, unknown> = {
      processId: "OTHER",
      nonce: 1,
      messageId: "X",
      cron: "x",
      timestamp: "soon",
      gasUsed: 0,
      memorySize: 0,
      failed: true,
      eventId: "forged"
    }
    assert.deepStrictEqual(Object.keys(spoof), [...contextKeys])
    const strict = JSON.stringify({ _e: 1, ...spoof })
    // The same event with a value aos writes non-strictly, through the extractor's other path.
    const lenient = strict.slice(0, -1) + ",\"z\":nan}"
    const [a, b] = enrich(e, extract(strict + "\n" + lenient, defaultLimits, reservedKeys).events, false)
    const context = { processId: "REAL", nonce: 7, messageId: "M", cron: "c", timestamp: 1727000000000, gasUsed: 1, memorySize: 2, failed: false }
    const renamed = Object.fromEntries(Object.entries(spoof).map(([k, v]) => [`event.${k}`, v]))
    assert.deepStrictEqual(JSON.parse(a!.data), { ...context, eventId: a!.id, ...renamed })
    assert.deepStrictEqual(JSON.parse(b!.data), { ...context, eventId: b!.id, ...renamed, z: null })
    assert.strictEqual(
      a!.data,
      "{\"processId\":\"REAL\",\"nonce\":7,\"messageId\":\"M\",\"cron\":\"c\",\"timestamp\":1727000000000,\"gasUsed\":1,\"memorySize\":2," +
        "\"failed\":false,\"eventId\":\"" + a!.id + "\",\"event.processId\":\"OTHER\",\"event.nonce\":1,\"event.messageId\":\"X\"," +
        "\"event.cron\":\"x\",\"event.timestamp\":\"soon\",\"event.gasUsed\":0,\"event.memorySize\":0,\"event.failed\":true,\"event.eventId\":\"forged\"}"
    )
  })

  it("takes the event time from the event's timestamp or Timestamp, else the evaluation's", () => {
    const e = made()
    const lines = [
      "{\"_e\":1,\"Timestamp\":1727000000500}",
      "{\"_e\":1,\"timestamp\":\"2024-09-22T10:13:28.009Z\"}",
      "{\"_e\":1,\"timestamp\":1727000001,\"Timestamp\":1727000000999}",
      "{\"_e\":1,\"a\":1}",
      "{\"_e\":1,\"timestamp\":\"soon\"}",
      "{\"_e\":1,\"Timestamp\":0,\"x\":nan}"
    ]
    const events = enrich(e, extract(lines.join("\n"), defaultLimits, reservedKeys).events, false)
    assert.deepStrictEqual(events.map((o) => o.time), [
      1727000000500,
      Date.UTC(2024, 8, 22, 10, 13, 28, 9),
      // Seconds, read as such; timestamp is preferred to Timestamp.
      1727000001000,
      1727000000000,
      1727000000000,
      1727000000000
    ])
    // The context's timestamp stays the evaluation's; an unusable time stays a field.
    const fields = events.map((o) => JSON.parse(o.data) as Record<string, unknown>)
    for (const f of fields) assert.strictEqual(f.timestamp, 1727000000000)
    assert.notProperty(fields[0]!, "Timestamp")
    assert.strictEqual(fields[2]!.Timestamp, 1727000000999)
    assert.strictEqual(fields[4]!["event.timestamp"], "soon")
    assert.strictEqual(fields[5]!.Timestamp, 0)
  })

  it("gives the evaluation's time when it differs from the event's", () => {
    const e = made({ timestamp: 1727000009999 })
    const [own, none] = enrich(e, extract("{\"_e\":1,\"Timestamp\":1727000000001}\n{\"_e\":1}").events, false)
    assert.strictEqual(own!.time, 1727000000001)
    assert.strictEqual(none!.time, 1727000009999)
  })
})

describe("enrich: sample rate", () => {
  it("carries an event's own sampleRate over 1, on either path, and keeps the field in the data", () => {
    const e = made()
    const lines = ["{\"_e\":1,\"sampleRate\":8,\"a\":1}", "{\"_e\":1,\"sampleRate\":\"16\",\"x\":nan}"]
    const [strict, lenient] = enrich(e, extract(lines.join("\n"), defaultLimits, reservedKeys).events, false)
    assert.strictEqual(strict!.sampleRate, 8)
    assert.strictEqual(lenient!.sampleRate, 16)
    assert.strictEqual(JSON.parse(strict!.data).sampleRate, 8)
    assert.strictEqual(JSON.parse(lenient!.data).sampleRate, "16")
  })

  it("leaves the property out for a rate of 1, an unusable one, or none", () => {
    const e = made()
    const lines = ["{\"_e\":1,\"sampleRate\":1}", "{\"_e\":1,\"sampleRate\":0}", "{\"_e\":1,\"sampleRate\":2.5}", "{\"_e\":1,\"a\":1}"]
    const events = enrich(e, extract(lines.join("\n"), defaultLimits, reservedKeys).events, false)
    assert.strictEqual(events.length, 4)
    for (const o of events) assert.deepStrictEqual(Object.keys(o), ["id", "time", "data"], o.data)
  })
})

describe("contextKeys and reservedKeys", () => {
  it("name the context fields in output order, and reserve exactly those under event.", () => {
    assert.deepStrictEqual([...contextKeys], [
      "processId",
      "nonce",
      "messageId",
      "cron",
      "timestamp",
      "gasUsed",
      "memorySize",
      "failed",
      "eventId"
    ])
    assert.deepStrictEqual([...reservedKeys.names], [...contextKeys])
    assert.strictEqual(reservedKeys.prefix, "event.")
  })
})
