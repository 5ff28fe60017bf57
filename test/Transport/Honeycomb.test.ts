import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Exit, Layer, Logger, Redacted, TestClock } from "effect"
import * as fs from "node:fs"
import * as zlib from "node:zlib"
import * as os from "node:os"
import * as path from "node:path"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"
import * as Honeycomb from "../../src/Transport/Honeycomb.js"
import type { Fault } from "../support/honeycomb.js"
import { FakeHoneycomb } from "../support/honeycomb.js"
import { recordingTracer } from "../support/tracer.js"
import type { Running } from "../support/harness.js"
import { event, exampleRecords, memory, record, start } from "../support/harness.js"
import { plain, rateOne, sampled } from "../support/sinks.js"

const KEY = "hc-test-key-0123456789abcdef"

const receiver = Effect.acquireRelease(Effect.promise(() => FakeHoneycomb.start(KEY)), (hc) => Effect.promise(() => hc.close()))

/** The sink, on an HTTP client that lives as long as the test's scope. */
const sinkFor = (hc: FakeHoneycomb, options: Partial<Honeycomb.Options> = {}) =>
  Effect.flatMap(Layer.build(NodeHttpClient.layerUndici), (client) =>
    Honeycomb.make({ apiKey: Redacted.make(KEY), dataset: "ao events", apiHost: hc.url, timeout: "10 seconds", ...options }).pipe(
      Effect.provide(client)
    ))

const tempDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-hc-")), "state.db")

/** Real HTTP runs on real time, retries on the TestClock: step both until `done` holds. */
const until = (done: () => boolean | Effect.Effect<boolean>, what: string, steps = 3000) =>
  Effect.gen(function*() {
    for (let i = 0; i < steps; i++) {
      const now = done()
      if (typeof now === "boolean" ? now : yield* now) return
      yield* TestClock.adjust("100 millis")
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 2)))
    }
    assert.fail(`timed out waiting for: ${what}`)
  })

/** Until the sink has settled `n` events (delivered or dead-lettered) and none is waiting. */
const settled = (v: Running, n: number) =>
  until(
    () =>
      Effect.map(v.vacuum.snapshot, (s) => s.sinks[0]!.delivered + s.sinks[0]!.deadLettered >= n && s.sinks[0]!.waiting === 0),
    `${n} events settled`
  )

const vacuumAll = (v: Running, records: ReadonlyArray<unknown>) =>
  Effect.zipRight(Effect.forEach(records, v.vacuum.vacuum, { discard: true }), v.vacuum.flush)

const exampleIds = Effect.gen(function*() {
  // The ids the example's events get, from a run into a sink that accepts everything.
  const hc = yield* receiver
  const v = yield* start(memory(), [yield* sinkFor(hc)], { flushInterval: 0 })
  yield* vacuumAll(v, exampleRecords())
  yield* until(() => hc.accepted.length >= 121, "121 accepted")
  return new Set(hc.ids)
})

describe("Honeycomb: the batch API", () => {
  it.scoped("delivers the example file once: gzip, the key, the dataset encoded, RFC3339 times", () =>
    Effect.gen(function*() {
      const hc = yield* receiver
      const v = yield* start(memory(), [yield* sinkFor(hc)], { flushInterval: 0 })
      yield* vacuumAll(v, exampleRecords())
      yield* until(() => hc.accepted.length >= 121, "121 accepted")
      assert.strictEqual(hc.accepted.length, 121)
      assert.strictEqual(new Set(hc.ids).size, 121)
      for (const r of hc.requests) {
        assert.strictEqual(r.encoding, "gzip")
        assert.strictEqual(r.dataset, "ao events")
        assert.strictEqual(r.headers["content-type"], "application/json")
      }
      for (const a of hc.accepted) {
        assert.match(a.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        assert.match(String(a.data.processId), /^XPROC/)
        assert.strictEqual(a.samplerate, 1)
        // A rate of 1 is Honeycomb's default: not written.
        assert.deepStrictEqual(a.keys, ["data", "time"])
      }
      assert.isTrue(yield* v.vacuum.drain(1000))
      assert.deepInclude((yield* v.vacuum.snapshot).sinks[0]!, { name: "honeycomb", delivered: 121, waiting: 0 })
    }))

  it.scoped("sends an event's sampleRate as samplerate and its own time as time", () =>
    Effect.gen(function*() {
      const hc = yield* receiver
      const v = yield* start(memory(), [yield* sinkFor(hc)], { flushInterval: 0 })
      yield* vacuumAll(v, [
        record({
          ordinate: 1,
          timestamp: 1727000000000,
          lines: [
            event({ sampleRate: 20, Timestamp: 1727000000123 }),
            event({ sampleRate: "x" }),
            event({ sampleRate: "4", n: 1 }),
            event({ sampleRate: 1 }),
            event({ sampleRate: 0.5 }),
            event({ n: 2 }),
            // Not strict JSON: the lenient path reads it the same.
            event({ sampleRate: 16 }).slice(0, -1) + ",\"z\":nan}"
          ]
        })
      ])
      yield* until(() => hc.accepted.length >= 7, "7 accepted")
      assert.deepStrictEqual(hc.accepted.map((a) => [a.samplerate, a.time]), [
        [20, "2024-09-22T10:13:20.123Z"],
        [1, "2024-09-22T10:13:20.000Z"],
        [4, "2024-09-22T10:13:20.000Z"],
        [1, "2024-09-22T10:13:20.000Z"],
        [1, "2024-09-22T10:13:20.000Z"],
        [1, "2024-09-22T10:13:20.000Z"],
        [16, "2024-09-22T10:13:20.000Z"]
      ])
      // samplerate only where it is over 1; the event's own field stays in its data.
      assert.deepStrictEqual(hc.accepted.map((a) => a.keys.includes("samplerate")), [true, false, true, false, false, false, true])
      assert.deepStrictEqual(hc.accepted.map((a) => a.data.sampleRate), [20, "x", "4", 1, 0.5, undefined, 16])
    }))

  it.scoped("writes an event's sampleRate over 1 beside time and data in the request body, and nothing for 1", () =>
    Effect.gen(function*() {
      const hc = yield* receiver
      const sink = yield* sinkFor(hc, { compression: "none" })
      const statuses = yield* sink.send([sampled, rateOne, plain])
      assert.deepStrictEqual(statuses.map((s) => s._tag), ["Accepted", "Accepted", "Accepted"])
      assert.deepStrictEqual(hc.accepted.map((a) => [a.keys, a.samplerate, a.data.eventId]), [
        [["data", "time", "samplerate"], 8, "e3"],
        [["data", "time"], 1, "e1"],
        [["data", "time"], 1, "e1"]
      ])
    }))

  it.scoped("compresses: gzip puts at least 4x fewer bytes on the wire than none", () =>
    Effect.gen(function*() {
      const bytes = (compression: Honeycomb.Compression) =>
        Effect.gen(function*() {
          const hc = yield* receiver
          const v = yield* start(memory(), [yield* sinkFor(hc, { compression })], { flushInterval: 0 })
          yield* vacuumAll(v, exampleRecords())
          yield* until(() => hc.accepted.length >= 121, "121 accepted")
          return hc.requests.reduce((n, r) => n + r.wireBytes, 0) / hc.accepted.length
        })
      const gzip = yield* bytes("gzip")
      const none = yield* bytes("none")
      assert.isBelow(gzip * 4, none, `gzip ${gzip.toFixed(0)} B/event, none ${none.toFixed(0)} B/event`)
    }))
})

describe("Honeycomb: every event accepted exactly once under each fault", () => {
  const faults: ReadonlyArray<[string, Fault]> = [
    ["503", { kind: "status", status: 503 }],
    ["500", { kind: "status", status: 500 }],
    ["429", { kind: "status", status: 429, body: "{\"error\":\"rate limited\"}" }],
    ["dropped connection", { kind: "drop" }],
    ["garbage body", { kind: "garbage" }],
    ["a single error object", { kind: "single-error", error: "something went wrong" }],
    ["fewer statuses than events", { kind: "short-array" }],
    ["a reply slower than the timeout", { kind: "slow", millis: 120_000 }],
    ["413", { kind: "status", status: 413 }],
    ["per-event 503 for half the events", { kind: "per-event", retry: (d) => String(d.eventId).charCodeAt(0) % 2 === 0 }]
  ]
  for (const [name, fault] of faults) {
    it.scoped(name, () =>
      Effect.gen(function*() {
        const expected = yield* exampleIds
        const hc = yield* receiver
        // The first three requests meet the fault, then Honeycomb is healthy.
        hc.fault = (n) => (n <= 3 ? fault : undefined)
        const v = yield* start(memory(), [yield* sinkFor(hc, { maxBatchEvents: 50 })], {
          flushInterval: 0,
          retryBaseDelay: "1 second"
        })
        yield* vacuumAll(v, exampleRecords())
        yield* settled(v, 121)
        assert.strictEqual(hc.accepted.length, 121)
        assert.deepStrictEqual(new Set(hc.ids), expected)
        const snap = yield* v.vacuum.snapshot
        assert.deepInclude(snap.sinks[0]!, { delivered: 121, deadLettered: 0, waiting: 0 })
        // Each of the three faulted requests is one failed attempt.
        assert.strictEqual(snap.sinks[0]!.retries, 3)
      }))
  }
})

describe("Honeycomb: spans", () => {
  it.scoped("each send has a span, and the request span shows the key redacted", () =>
    Effect.gen(function*() {
      const { spans, tracer } = recordingTracer()
      const hc = yield* receiver
      const sink = yield* sinkFor(hc)
      const v = yield* start(memory(), [sink], { flushInterval: 0 }).pipe(Effect.withTracer(tracer))
      yield* vacuumAll(v, exampleRecords()).pipe(Effect.withTracer(tracer))
      yield* settled(v, 121)
      // One send, and one HTTP request span, for each request Honeycomb received.
      const send = spans.filter((s) => s.name === "event-vacuum.send")
      assert.strictEqual(send.length, hc.requests.length)
      assert.strictEqual(send[0]!.attributes.get("sink"), "honeycomb")
      const http = spans.filter((s) => s.attributes.has("http.request.header.x-honeycomb-team"))
      assert.strictEqual(http.length, hc.requests.length)
      assert.strictEqual(String(http[0]!.attributes.get("http.request.header.x-honeycomb-team")), "<redacted>")
      for (const s of spans) {
        for (const value of s.attributes.values()) assert.notInclude(String(value), KEY, `span ${s.name}`)
      }
    }))
})

describe("Honeycomb: refusals and settings", () => {
  it.scoped("dead-letters events Honeycomb refuses, with its error text, and delivers the rest", () =>
    Effect.gen(function*() {
      const hc = yield* receiver
      hc.fault = () => ({ kind: "per-event", refuse: (d) => (d.Action === "Transfer" ? "Event has too many columns." : undefined) })
      const v = yield* start(memory(), [yield* sinkFor(hc)], { flushInterval: 0 })
      yield* vacuumAll(v, exampleRecords())
      yield* settled(v, 121)
      const dead = yield* v.store.deadLetters()
      // The example's 121 events: 63 transfers, 58 others.
      assert.strictEqual(dead.length, 63)
      assert.strictEqual(hc.accepted.length, 58)
      for (const d of dead) {
        assert.strictEqual(d.reason, "400: Event has too many columns.")
        assert.strictEqual(JSON.parse(d.data).Action, "Transfer")
      }
    }))

  it.scoped("refuses an event over 1 MB without sending it", () =>
    Effect.gen(function*() {
      const hc = yield* receiver
      const v = yield* start(memory(), [yield* sinkFor(hc)], {
        flushInterval: 0,
        limits: { maxLineBytes: 3_000_000, maxStringBytes: 3_000_000 }
      })
      yield* vacuumAll(v, [record({ ordinate: 1, timestamp: 1, lines: [event({ big: "x".repeat(1_100_000) }), event({ n: 2 })] })])
      yield* until(() => hc.accepted.length >= 1, "1 accepted")
      assert.isTrue(yield* v.vacuum.drain(1000))
      assert.deepStrictEqual(hc.accepted.map((a) => a.data.n), [2])
      const dead = yield* v.store.deadLetters()
      assert.strictEqual(dead.length, 1)
      assert.match(dead[0]!.reason, /over Honeycomb's 1 MB event limit/)
    }))

  it.scoped("a wrong key stops the sink with one clear error, loses nothing, and never shows the key", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const hc = yield* receiver
      const logs: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message, cause }) => {
        logs.push(`${JSON.stringify(message)} ${String(cause)}`)
      }))
      const wrong = "wrong-key-abcdef"
      const v = yield* start(Sqlite.layer({ filename }), [yield* sinkFor(hc, { apiKey: Redacted.make(wrong) })], {
        flushInterval: 0
      }).pipe(Effect.provide(capture))
      yield* vacuumAll(v, exampleRecords())
      yield* until(() => hc.requests.length === 0 && logs.some((l) => l.includes("stopped")), "the sink to stop", 200)
      const snap = yield* v.vacuum.snapshot
      assert.include(snap.sinks[0]!.stopped, "401")
      assert.include(snap.sinks[0]!.stopped, "API key was refused")
      assert.deepInclude(snap.sinks[0]!, { waiting: 121, delivered: 0 })
      for (const text of [...logs, snap.sinks[0]!.stopped!]) assert.notInclude(text, wrong)
      yield* v.close
      assert.notInclude(fs.readFileSync(filename).toString("latin1"), wrong)

      // The key is fixed, the vacuum restarted: everything goes, once.
      const w = yield* start(Sqlite.layer({ filename }), [yield* sinkFor(hc)], { flushInterval: 0 })
      yield* until(() => hc.accepted.length >= 121, "121 accepted")
      assert.isTrue(yield* w.vacuum.drain(1000))
      assert.strictEqual(new Set(hc.ids).size, 121)
      assert.strictEqual(hc.accepted.length, 121)
    }))

  it.effect("refuses a dataset with a slash, a bad host, and zstd where the runtime lacks it", () =>
    Effect.gen(function*() {
      const make = (options: Partial<Honeycomb.Options>) =>
        Effect.exit(
          Honeycomb.make({ apiKey: Redacted.make(KEY), dataset: "ok", ...options }).pipe(Effect.provide(NodeHttpClient.layerUndici))
        )
      const slash = yield* make({ dataset: "a/b" })
      assert.isTrue(Exit.isFailure(slash))
      assert.include(String(slash), "has a slash")
      assert.include(String(yield* make({ apiHost: "not a url" })), "is not a URL")
      const hasZstd = typeof (zlib as { zstdCompress?: unknown }).zstdCompress === "function"
      assert.strictEqual(Exit.isSuccess(yield* make({ compression: "zstd" })), hasZstd)
      assert.deepStrictEqual(Honeycomb.batchUrl(Honeycomb.EU, "my data set"), Either.right("https://api.eu1.honeycomb.io/1/batch/my%20data%20set"))
    }))
})
