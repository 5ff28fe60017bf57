/**
 * Hostile input, end to end: arbitrary records and log text through the
 * vacuum's CU-facing call, the store and a sink. The call never throws,
 * nothing is polluted, every line of every log is accounted for, memory
 * stays within its bound, and what is delivered is valid JSON whose context
 * is the evaluation's own, whatever the process printed. (test/Extractor.property.test.ts
 * holds the parser's own properties; these are the pipeline's.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fc from "fast-check"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"
import { lineOutcomes } from "../../src/Extractor.js"
import type { VacuumSummary } from "../../src/Vacuum.js"
import { cli, scale } from "../support/guarantees.js"
import { RecordingSink, start } from "../support/harness.js"

const OUTCOMES: ReadonlyArray<VacuumSummary["outcome"]> = ["queued", "no_events", "read_only", "no_text", "invalid_record"]
const CONTEXT = ["processId", "nonce", "messageId", "cron", "timestamp", "gasUsed", "memorySize", "failed", "eventId"] as const
const MAX_QUEUED_BYTES = 256 * 1024

const protoNames = Object.getOwnPropertyNames(Object.prototype).sort()
const arrayProtoNames = Object.getOwnPropertyNames(Array.prototype).sort()
const assertClean = () => {
  assert.deepStrictEqual(Object.getOwnPropertyNames(Object.prototype).sort(), protoNames)
  assert.deepStrictEqual(Object.getOwnPropertyNames(Array.prototype).sort(), arrayProtoNames)
  assert.isUndefined(({} as Record<string, unknown>).polluted)
}

/** Lines as the spec counts them: split on `\n`, no line after a final `\n`, a BOM ignored. */
const lineCount = (text: string): number => {
  const t = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
  if (t === "") return 0
  const parts = t.split("\n")
  return parts[parts.length - 1] === "" ? parts.length - 1 : parts.length
}

const anyChar = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
const key = fc.oneof(
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "", "_e", ...CONTEXT),
  fc.constantFrom("event.processId", "event.nonce", "Timestamp", "timestamp", "a.b", "sampleRate"),
  fc.string({ unit: anyChar, maxLength: 6 })
)
const value: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
  fc.constantFrom("inf", "-inf", "nan", "-nan", "1e999", "\"\u0001\"", "{\"polluted\":1}", "\"\\ud800\"", "\"\ud800\""),
  fc.string({ unit: anyChar, maxLength: 8 }).map((s) => JSON.stringify(s))
)
/** `_e` written every way a process might: only the number 1 makes an event. */
const flag = fc.constantFrom("1", "1.0", "1e0", "\"1\"", "true", "2", "0", "null", "[1]", "-1")
const eventLine = fc
  .tuple(flag, fc.array(fc.tuple(key, value), { maxLength: 8 }), fc.boolean())
  .map(([e, fields, flagFirst]) => {
    const members = fields.map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    const all = flagFirst ? [`"_e":${e}`, ...members] : [...members, `"_e":${e}`]
    return `{${all.join(",")}}`
  })
const noise = fc.oneof(
  fc.string({ unit: anyChar, maxLength: 40 }),
  fc.constantFrom("\x1b[32maos>\x1b[0m ", "Error: boom\n    at <anonymous>:1:1", "\r", "", "{", "}", "{\"_e\":1", "\ufeff{\"_e\":1}")
)
const huge = fc.constantFrom(
  () => "{\"_e\":1,\"a\":\"" + "x".repeat(1_100_000) + "\"}",
  () => "{\"_e\":1,\"a\":" + "[".repeat(100_000) + "]".repeat(100_000) + "}",
  () => "{\"_e\":1," + Array.from({ length: 100_000 }, (_, i) => `"f${i}":${i}`).join(",") + "}",
  () => "[".repeat(200_000),
  () => "{\"_e\":1,\"s\":\"" + "\ud800".repeat(20_000) + "\"}"
).map((make) => make())
const logText = fc
  .tuple(fc.array(fc.oneof({ arbitrary: eventLine, weight: 4 }, { arbitrary: noise, weight: 3 }), { maxLength: 12 }), fc.boolean())
  .map(([lines, crlf]) => lines.join(crlf ? "\r\n" : "\n"))

let position = 0
const recordArb = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      processId: fc.constantFrom("PROC_A", "PROC_B"),
      text: logText,
      shape: fc.constantFrom("data", "string", "error", "error-object", "error-number", "data-not-text", "null"),
      cron: fc.constantFrom(null, "0-10-minutes"),
      readOnly: fc.boolean(),
      gas: fc.oneof(fc.nat(), fc.constant(null))
    }).map(({ processId, text, shape, cron, readOnly, gas }) => {
      position++
      const output = shape === "data"
        ? { Output: { data: text, prompt: "aos> " }, Error: null }
        : shape === "string"
        ? { Output: text, Error: null }
        : shape === "error"
        ? { Output: null, Error: text }
        : shape === "error-object"
        ? { Output: { data: text }, Error: { message: "boom", stack: text } }
        : shape === "error-number"
        ? { Output: { data: text }, Error: 42 }
        : shape === "data-not-text"
        ? { Output: { data: { nested: text } }, Error: null }
        : { Output: null, Error: null }
      return {
        processId,
        messageId: `M${position}`,
        ordinate: String(position),
        cron,
        timestamp: 1_700_000_000_000 + position,
        blockHeight: 1,
        readOnly,
        output: { ...output, GasUsed: gas, memorySize: 1024 }
      }
    })
  },
  { weight: 1, arbitrary: fc.anything() },
  { weight: 1, arbitrary: fc.record({ processId: fc.anything(), ordinate: fc.anything(), timestamp: fc.anything(), output: fc.anything() }) }
)

describe("hostile input through the whole pipeline", () => {
  it.scoped("arbitrary records and logs: no throw, no pollution, every line counted, bounded memory, valid events with their own context", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const v = yield* start(Sqlite.layer({ filename: ":memory:" }), [sink], { maxQueuedBytes: MAX_QUEUED_BYTES, storeLinger: 0 })
      let lines = 0
      let calls = 0
      const check = (record: unknown) => {
        let summary: VacuumSummary
        try {
          summary = v.vacuum.unsafeVacuum(record)
        } catch (error) {
          return assert.fail(`threw: ${String(error)}`)
        }
        calls++
        assert.include(OUTCOMES, summary.outcome)
        assertClean()
        const r = record as { readOnly?: boolean; output?: { Output?: unknown; Error?: unknown } }
        const text = typeof r?.output?.Error === "string"
          ? r.output.Error
          : typeof r?.output?.Output === "string"
          ? r.output.Output
          : typeof (r?.output?.Output as { data?: unknown } | null)?.data === "string"
          ? (r.output!.Output as { data: string }).data
          : undefined
        if (summary.outcome !== "invalid_record" && summary.outcome !== "read_only" && text !== undefined) lines += lineCount(text)
      }
      // A caller that can wait lets the store catch up when the queue is at its bound (as the CLI
      // does): a burst of calls with no pause would otherwise drop, by design, as buffer_full.
      const caughtUp = () => (v.vacuum.unsafeQueueFull() ? Effect.runPromise(v.vacuum.flush) : Promise.resolve())
      yield* Effect.promise(() =>
        fc.assert(fc.asyncProperty(recordArb, async (record) => {
          await caughtUp()
          check(record)
        }), { numRuns: 400 * scale })
      )
      // The huge ones, a few times each, inside ordinary logs.
      yield* Effect.promise(() => fc.assert(
        fc.asyncProperty(huge, noise, async (line, around) => {
          await caughtUp()
          check({
            processId: "PROC_H",
            messageId: null,
            ordinate: String(++position),
            cron: null,
            timestamp: 1_700_000_000_000 + position,
            blockHeight: 1,
            readOnly: false,
            output: { Output: { data: `${around}\n${line}\n{"_e":1,"ok":true}` }, Error: null, GasUsed: 1, memorySize: null }
          })
        }),
        { numRuns: 10 * scale }
      ))

      const snap = yield* v.vacuum.snapshot
      assert.isAtMost(snap.queued.bytes, MAX_QUEUED_BYTES)
      assert.strictEqual(snap.evaluations.received, calls)
      assert.strictEqual(lineOutcomes.reduce((n, o) => n + snap.lines[o], 0), lines, "every line counted once")
      assert.isAbove(snap.lines.event, 0)
      assert.isAbove(snap.lines.not_event + snap.lines.invalid_json, 0)
      assert.isAbove(snap.lines.too_large + snap.lines.too_deep + snap.lines.too_many_fields, 0)

      yield* v.vacuum.flush
      assert.isTrue(yield* v.vacuum.drain(60_000))
      assert.strictEqual(snap.discarded.buffer_full + snap.discarded.store_failed, 0)
      assert.strictEqual(sink.events.length, snap.events.found)
      for (const event of sink.events) {
        const fields = JSON.parse(event.data) as Record<string, unknown>
        assert.strictEqual(Object.getPrototypeOf(fields), Object.prototype)
        assert.isFalse(Object.hasOwn(fields, "_e"))
        assert.strictEqual(fields.eventId, event.id)
        // The context is the evaluation's: a process cannot set another's, nor its own.
        assert.match(String(fields.processId), /^PROC_[ABH]$/)
        assert.strictEqual(fields.timestamp, 1_700_000_000_000 + Number(fields.nonce))
        assert.strictEqual(typeof fields.failed, "boolean")
      }
      assertClean()
    }), { timeout: 120_000 })

  it("records with invalid UTF-8 bytes, read by the CLI: replaced, counted, delivered", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-utf8-"))
    try {
      const record = (ordinate: number, data: string) =>
        Buffer.from(JSON.stringify({
          processId: "PROC_U",
          messageId: null,
          ordinate: String(ordinate),
          cron: null,
          timestamp: 1_700_000_000_000 + ordinate,
          blockHeight: 1,
          readOnly: false,
          output: { Output: { data }, Error: null, GasUsed: 1, memorySize: null }
        }) + "\n")
      // Raw bytes that are not UTF-8 (a lone continuation byte, an overlong form, 0xff) inside the log.
      const bad = record(1, "{\"_e\":1,\"s\":\"BAD\"}\nnoise BAD").toString("utf8").split("BAD")
      const input = Buffer.concat([
        Buffer.from(bad[0]!),
        Buffer.from([0x80, 0xc0, 0xaf, 0xff]),
        Buffer.from(bad[1]!),
        Buffer.from([0xfe, 0xed]),
        Buffer.from(bad[2]!),
        Buffer.from([0xff, 0x0a]),
        record(2, "{\"_e\":1,\"ok\":true}")
      ])
      const file = path.join(dir, "in.ndjson")
      fs.writeFileSync(file, input)
      const run = await cli(["run", file], {
        EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
        EVENT_VACUUM_CONSOLE_FORMAT: "json",
        EVENT_VACUUM_FLUSH_INTERVAL: "10 millis"
      }).exited
      // The line that is not JSON makes the exit 1; the rest is delivered.
      assert.strictEqual(run.code, 1, run.stderr)
      assert.include(run.stderr, "1 line(s) were not evaluation records")
      const events = run.stdout.split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as { data: Record<string, unknown> })
      assert.strictEqual(events.length, 2)
      assert.strictEqual(events[0]!.data.s, "\ufffd\ufffd\ufffd\ufffd")
      assert.strictEqual(events[1]!.data.ok, true)
      // The second line (a lone 0xff) is not JSON: reported by its number, and the run goes on.
      assert.include(run.stderr, "in.ndjson:2: not JSON")
      assert.include(run.stderr, "3 records (1 bad", run.stderr)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
