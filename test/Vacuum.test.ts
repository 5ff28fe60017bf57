import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer, Logger, Metric, TestClock } from "effect"
import * as Metrics from "../src/Metrics.js"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DedupeStore, DedupeStoreError } from "../src/DedupeStore.js"
import * as Sqlite from "../src/DedupeStore/Sqlite.js"
import { Transport } from "../src/Transport.js"
import * as Vacuum from "../src/Vacuum.js"
import { EventStatus, TransportError } from "../src/Transport.js"
import { down, exampleRecords, record, RecordingSink, start } from "./support/harness.js"
import { heapAfterGc } from "./support/heap.js"

const memory = () => Sqlite.layer({ filename: ":memory:" })

const tempDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-")), "state.db")

const event = (fields: Record<string, unknown>) => JSON.stringify({ _e: 1, ...fields })

/** Lets the writer store what is queued, moves time past the batch timer, and waits for delivery. */
const settle = (v: { vacuum: { flush: Effect.Effect<void>; drain: (t: number) => Effect.Effect<boolean> } }) =>
  Effect.gen(function*() {
    yield* v.vacuum.flush
    yield* TestClock.adjust("1 second")
    return yield* v.vacuum.drain(60_000)
  })

describe("Vacuum: the example file", () => {
  it.scoped("delivers every event once, with its context, and nothing again on a second pass", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const v = yield* start(memory(), [sink])
      const records = exampleRecords()
      const first = yield* Effect.forEach(records, v.vacuum.vacuum)
      assert.strictEqual(first.filter((s) => s.outcome === "read_only").length, 12)
      assert.strictEqual(first.reduce((n, s) => n + s.events, 0), 121)
      assert.isTrue(yield* settle(v))
      assert.strictEqual(sink.events.length, 121)
      assert.strictEqual(new Set(sink.ids).size, 121)

      for (const f of sink.fields()) {
        assert.match(String(f.processId), /^XPROC[01]_p+$/)
        assert.isNumber(f.nonce)
        assert.isNumber(f.timestamp)
        assert.isBoolean(f.failed)
        assert.notProperty(f, "_e")
      }
      // Cron evaluations are delivered with their cron: the file's 9, one event each.
      assert.strictEqual(sink.fields().filter((f) => f.cron === "0-10-minutes").length, 5)
      assert.strictEqual(sink.fields().filter((f) => f.cron === "1-10-minutes").length, 4)
      assert.strictEqual(sink.fields().filter((f) => f.cron !== undefined).length, 9)

      yield* Effect.forEach(records, v.vacuum.vacuum)
      yield* settle(v)
      assert.strictEqual(sink.events.length, 121)
      const snap = yield* v.vacuum.snapshot
      assert.strictEqual(snap.evaluations.received, 268)
      assert.strictEqual(snap.evaluations.readOnly, 24)
      assert.strictEqual(snap.events.found, 242)
      assert.deepInclude(snap.sinks[0]!, { name: "test", handedOff: 121, duplicates: 121, delivered: 121, waiting: 0 })
    }))
})

describe("Vacuum: positions", () => {
  it.scoped("delivers the first message (ordinate 0) and cron evaluations sharing an ordinate", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const v = yield* start(memory(), [sink])
      const evaluations = [
        record({ ordinate: 0, timestamp: 1000, lines: [event({ boot: true })] }),
        record({ ordinate: 1, timestamp: 2000, lines: [event({ n: 1 })] }),
        record({ ordinate: 1, cron: "1-10-minutes", timestamp: 3000, lines: [event({ tick: "b" })] }),
        record({ ordinate: 1, cron: "0-10-minutes", timestamp: 3000, lines: [event({ tick: "a" })] }),
        record({ ordinate: 1, cron: "0-10-minutes", timestamp: 4000, lines: [event({ tick: "c" })] })
      ]
      yield* Effect.forEach(evaluations, v.vacuum.vacuum)
      yield* settle(v)
      assert.deepStrictEqual(sink.fields().map((f) => [f.nonce, f.cron ?? null]), [
        [0, null],
        [1, null],
        [1, "1-10-minutes"],
        [1, "0-10-minutes"],
        [1, "0-10-minutes"]
      ])
      // A restarted CU re-evaluates all of them: nothing is sent again.
      yield* Effect.forEach(evaluations, v.vacuum.vacuum)
      yield* settle(v)
      assert.strictEqual(sink.events.length, 5)
    }))

  it.scoped("adds the context and no event can spoof it", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const v = yield* start(memory(), [sink])
      yield* v.vacuum.vacuum(record({
        processId: "REAL",
        ordinate: 7,
        timestamp: 1727000000000,
        lines: [event({ processId: "OTHER", nonce: 1, failed: false, Timestamp: 1727000000500, a: 1 })],
        error: true
      }))
      yield* settle(v)
      const [e] = sink.events
      assert.strictEqual(e!.time, 1727000000500)
      assert.deepStrictEqual(JSON.parse(e!.data), {
        processId: "REAL",
        nonce: 7,
        messageId: "M7",
        timestamp: 1727000000000,
        gasUsed: 5,
        failed: true,
        eventId: e!.id,
        "event.processId": "OTHER",
        "event.nonce": 1,
        "event.failed": false,
        a: 1
      })
    }))
})

describe("Vacuum: what the CU gets back", () => {
  it.scoped("skips read-only evaluations unless told not to, and reports bad records without failing", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const v = yield* start(memory(), [sink])
      const ro = yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({})], readOnly: true }))
      assert.strictEqual(ro.outcome, "read_only")
      const bad = yield* v.vacuum.vacuum({ processId: "P", ordinate: "x" })
      assert.strictEqual(bad.outcome, "invalid_record")
      assert.include(bad.reason, "timestamp")
      const junk = yield* v.vacuum.vacuum("not a record")
      assert.strictEqual(junk.outcome, "invalid_record")
      const lines = yield* v.vacuum.vacuum(record({ ordinate: 2, timestamp: 2, lines: ["{\"_e\":1,", "hello", event({ ok: 1 })] }))
      assert.deepStrictEqual(lines, { outcome: "queued", events: 1, rejectedLines: 1 })
      const snap = yield* v.vacuum.snapshot
      assert.deepInclude(snap.evaluations, { received: 4, readOnly: 1, invalid: 2 })
      assert.strictEqual(snap.lines.invalid_json, 1)
      assert.strictEqual(snap.lines.not_event, 1)

      const all = new RecordingSink("test")
      const w = yield* start(memory(), [all], { skipReadOnly: false })
      const kept = yield* w.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({})], readOnly: true }))
      assert.strictEqual(kept.outcome, "queued")
    }))

  it.scoped("the plain call does what the effect does, and logs its warnings on the layer's logger", () =>
    Effect.gen(function*() {
      const logged: Array<string> = []
      const capture = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => {
        logged.push(String(Array.isArray(message) ? message.join(" ") : message))
      }))
      const sink = new RecordingSink("test")
      const v = yield* start(Layer.merge(memory(), capture), [sink], { maxQueuedBytes: 400 })
      const queued = v.vacuum.unsafeVacuum(record({ ordinate: 1, timestamp: 1, lines: ["hello", event({ ok: 1 })] }))
      assert.deepStrictEqual(queued, { outcome: "queued", events: 1, rejectedLines: 0 })
      const bad = v.vacuum.unsafeVacuum({ processId: "P" })
      assert.strictEqual(bad.outcome, "invalid_record")
      assert.include(bad.reason, "ordinate")
      const big = v.vacuum.unsafeVacuum(record({ ordinate: 2, timestamp: 2, lines: [event({ pad: "x".repeat(500) })] }))
      assert.strictEqual(big.outcome, "buffer_full")
      assert.strictEqual(v.vacuum.unsafeVacuum(record({ ordinate: 3, timestamp: 3, lines: [event({}) ], readOnly: true })).outcome, "read_only")
      assert.strictEqual(yield* settle(v), true)
      assert.deepStrictEqual(sink.fields().map((f) => f.ok), [1])
      const snap = yield* v.vacuum.snapshot
      assert.deepInclude(snap.evaluations, { received: 4, readOnly: 1, invalid: 1 })
      assert.strictEqual(snap.discarded.buffer_full, 1)
      assert.isTrue(logged.some((m) => m.includes("does not decode") && m.includes("ordinate")), logged.join("\n"))
      assert.isTrue(logged.some((m) => m.includes("not keeping up") && m.includes("nonce 2")), logged.join("\n"))
    }))

  it.scoped("drops (and counts) events when the queue to the store is over its byte bound", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const v = yield* start(memory(), [sink], { maxQueuedBytes: 400 })
      const big = yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ pad: "x".repeat(500) })] }))
      assert.strictEqual(big.outcome, "buffer_full")
      const small = yield* v.vacuum.vacuum(record({ ordinate: 2, timestamp: 2, lines: [event({})] }))
      assert.strictEqual(small.outcome, "queued")
      yield* settle(v)
      assert.strictEqual(sink.events.length, 1)
      assert.strictEqual((yield* v.vacuum.snapshot).discarded.buffer_full, 1)
      // The watermark did not move for the dropped one: evaluated again, it is handed off.
      const v2 = yield* start(memory(), [sink])
      assert.strictEqual((yield* v2.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({})] }))).outcome, "queued")
    }))

  it.scoped("returns even when the store fails, counting and logging the loss", () =>
    Effect.gen(function*() {
      const failing = Layer.effect(
        DedupeStore,
        Effect.map(DedupeStore, (store) =>
          DedupeStore.of({
            ...store,
            handOff: () => Effect.fail(new DedupeStoreError({ operation: "hand-off", description: "disk I/O error" }))
          }))
      ).pipe(Layer.provide(memory()))
      const sink = new RecordingSink("test")
      const v = yield* start(failing, [sink])
      const s = yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({})] }))
      assert.strictEqual(s.outcome, "queued")
      yield* v.vacuum.flush.pipe(Effect.fork)
      yield* TestClock.adjust("1 second")
      yield* v.vacuum.flush
      assert.strictEqual((yield* v.vacuum.snapshot).discarded.store_failed, 1)
      assert.strictEqual(sink.events.length, 0)
    }))
})

describe("Vacuum: the writer survives", () => {
  it.scoped("a store that crashes once: that group is counted lost, the next is stored and delivered", () =>
    Effect.gen(function*() {
      let calls = 0
      const flaky = Layer.effect(
        DedupeStore,
        Effect.map(DedupeStore, (store) =>
          DedupeStore.of({
            ...store,
            handOff: (sinks, handoffs) => ++calls === 1 ? Effect.die(new Error("driver bug")) : store.handOff(sinks, handoffs)
          }))
      ).pipe(Layer.provide(memory()))
      const sink = new RecordingSink("test")
      const v = yield* start(flaky, [sink])
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ n: 1 })] }))
      yield* v.vacuum.flush
      yield* v.vacuum.vacuum(record({ ordinate: 2, timestamp: 2, lines: [event({ n: 2 })] }))
      yield* settle(v)
      assert.deepStrictEqual(sink.fields().map((f) => f.n), [2])
      const snap = yield* v.vacuum.snapshot
      assert.deepStrictEqual(snap.discarded, { buffer_full: 0, store_failed: 1 })
      assert.deepStrictEqual(snap.queued, { events: 0, bytes: 0 })
    }))
})

describe("Vacuum: group commits", () => {
  const counting = (groups: Array<number>) =>
    Layer.effect(
      DedupeStore,
      Effect.map(DedupeStore, (store) =>
        DedupeStore.of({
          ...store,
          handOff: (sinks, handoffs) => Effect.suspend(() => {
            groups.push(handoffs.length)
            return store.handOff(sinks, handoffs)
          })
        }))
    ).pipe(Layer.provide(memory()))

  it.scoped("evaluations arriving one by one linger into one transaction, stored after storeLinger or at a flush", () =>
    Effect.gen(function*() {
      const groups: Array<number> = []
      const sink = new RecordingSink("test")
      const v = yield* start(counting(groups), [sink], { storeLinger: "5 millis" })
      for (let i = 1; i <= 3; i++) {
        v.vacuum.unsafeVacuum(record({ ordinate: i, timestamp: i, lines: [event({ i })] }))
        // The CU's own I/O between evaluations: the writer runs, takes what is there, and waits.
        yield* Effect.yieldNow()
      }
      assert.deepStrictEqual(groups, [])
      yield* TestClock.adjust("5 millis")
      yield* Effect.yieldNow()
      assert.deepStrictEqual(groups, [3])

      v.vacuum.unsafeVacuum(record({ ordinate: 4, timestamp: 4, lines: [event({ i: 4 })] }))
      yield* Effect.yieldNow()
      v.vacuum.unsafeVacuum(record({ ordinate: 5, timestamp: 5, lines: [event({ i: 5 })] }))
      yield* v.vacuum.flush
      assert.deepStrictEqual(groups, [3, 2])
      yield* settle(v)
      assert.deepStrictEqual(sink.fields().map((f) => f.i), [1, 2, 3, 4, 5])
    }))

  it.scoped("with storeLinger 0 each evaluation the writer finds alone is its own transaction", () =>
    Effect.gen(function*() {
      const groups: Array<number> = []
      const v = yield* start(counting(groups), [new RecordingSink("test")], { storeLinger: 0 })
      for (let i = 1; i <= 3; i++) {
        v.vacuum.unsafeVacuum(record({ ordinate: i, timestamp: i, lines: [event({ i })] }))
        yield* Effect.yieldNow()
      }
      yield* v.vacuum.flush
      assert.deepStrictEqual(groups, [1, 1, 1])
    }))
})

describe("Vacuum: metrics", () => {
  it.scoped("counts received, sent, deduplicated and dead-lettered events per sink", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("metrics-test")
      sink.behaviour = (batch) =>
        Effect.succeed(batch.map((e) => JSON.parse(e.data).bad ? EventStatus.Refused({ reason: "no" }) : EventStatus.Accepted()))
      const value = (metric: Metric.Metric.Counter<number>) =>
        Effect.map(Metric.value(Metric.tagged(metric, "sink", "metrics-test")), (s) => s.count)
      // Counters without a sink tag are shared with the other tests of this file: read the difference.
      const invalidJson = Metric.tagged(Metrics.rejected, "reason", "invalid_json")
      const before = (yield* Metric.value(Metrics.receivedEvents)).count
      const invalidBefore = (yield* Metric.value(invalidJson)).count
      const v = yield* start(memory(), [sink], { flushInterval: 0 })
      const evaluation = record({ ordinate: 1, timestamp: 1, lines: [event({ n: 1 }), event({ bad: true }), "{\"_e\":1,"] })
      yield* v.vacuum.vacuum(evaluation)
      yield* v.vacuum.vacuum(evaluation)
      yield* settle(v)
      const received = (yield* Metric.value(Metrics.receivedEvents)).count - before
      assert.strictEqual(received, 4)
      assert.strictEqual(yield* value(Metrics.sentEvents), 1)
      assert.strictEqual(yield* value(Metrics.deadLetteredEvents), 1)
      assert.strictEqual(yield* value(Metrics.deduplicatedEvents), 2)
      assert.strictEqual(yield* value(Metrics.bufferedEvents), 2)
      assert.strictEqual((yield* Metric.value(invalidJson)).count - invalidBefore, 2)
    }))
})

describe("Vacuum: memory while a sink is down (real clock)", () => {
  // On the real clock: a thousand retries through TestClock take minutes.
  it.scopedLive("keeps memory flat across thousands of retries while a sink is down", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      sink.behaviour = down("test")
      const layer = Vacuum.layer({ flushInterval: 0, retryBaseDelay: "1 millis", retryMaxDelay: "1 millis" }).pipe(
        Layer.provide(Layer.merge(memory(), Layer.succeed(Transport, Transport.of({ sinks: [sink] }))))
      )
      const vacuum = Context.get(yield* Layer.build(layer), Vacuum.Vacuum)
      yield* vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ a: 1 })] }))
      yield* vacuum.flush
      const retriesAfter = (calls: number) =>
        Effect.gen(function*() {
          while (sink.calls < calls) yield* Effect.sleep("20 millis")
        })
      yield* retriesAfter(200)
      const before = heapAfterGc()
      const callsBefore = sink.calls
      yield* retriesAfter(callsBefore + 2000)
      const grown = heapAfterGc() - before
      // Each failure used to stay alive until the batch ended: some 6 KB a retry, 12 MB here.
      assert.isBelow(grown, 2_000_000, `the heap grew ${grown} bytes over ${sink.calls - callsBefore} retries`)
    }), { timeout: 60_000 })
})

describe("Vacuum: batching and retries (TestClock)", () => {
  it.scoped("sends full batches at once and a partial batch after the flush interval", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const v = yield* start(memory(), [sink], { batchMaxEvents: 10, flushInterval: "5 seconds" })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: Array.from({ length: 25 }, (_, i) => event({ i })) }))
      yield* v.vacuum.flush
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(sink.batches.map((b) => b.length), [10, 10])
      yield* TestClock.adjust("4 seconds")
      assert.deepStrictEqual(sink.batches.map((b) => b.length), [10, 10])
      yield* TestClock.adjust("1 second")
      yield* v.vacuum.drain(1000)
      assert.deepStrictEqual(sink.batches.map((b) => b.length), [10, 10, 5])
      assert.deepStrictEqual(sink.fields().map((f) => f.i), Array.from({ length: 25 }, (_, i) => i))
    }))

  it.scoped("retries a failing sink with exponential backoff until it is back, losing nothing", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      sink.behaviour = (batch, call) => call <= 4 ? down("test")(batch, call) : Effect.succeed(batch.map(() => EventStatus.Accepted()))
      const v = yield* start(memory(), [sink], { flushInterval: 0, retryBaseDelay: "1 second", retryMaxDelay: "1 minute" })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ a: 1 }), event({ a: 2 })] }))
      yield* v.vacuum.flush
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(sink.calls, 1)
      // Delays double (with jitter of 0.8x-1.2x): about 1, 2, 4 and 8 seconds.
      yield* TestClock.adjust("700 millis")
      assert.strictEqual(sink.calls, 1)
      yield* TestClock.adjust("600 millis")
      assert.strictEqual(sink.calls, 2)
      yield* TestClock.adjust("3 seconds")
      assert.strictEqual(sink.calls, 3)
      assert.strictEqual(sink.events.length, 0)
      yield* TestClock.adjust("30 seconds")
      assert.isTrue(yield* v.vacuum.drain(1000))
      assert.strictEqual(sink.calls, 5)
      assert.strictEqual(sink.events.length, 2)
      assert.strictEqual((yield* v.vacuum.snapshot).sinks[0]!.retries, 4)
    }))

  it.scoped("caps the retry delay", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      sink.behaviour = down("test")
      const v = yield* start(memory(), [sink], { flushInterval: 0, retryBaseDelay: "1 second", retryMaxDelay: "5 seconds" })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({})] }))
      yield* v.vacuum.flush
      yield* TestClock.adjust("60 seconds")
      const early = sink.calls
      yield* TestClock.adjust("60 seconds")
      // At most 5 seconds apart: at least 12 more attempts in a minute.
      assert.isAtLeast(sink.calls - early, 12)
      assert.strictEqual((yield* v.vacuum.snapshot).sinks[0]!.waiting, 1)
    }))

  it.scoped("times out a send that hangs and tries again", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      sink.behaviour = (batch, call) => call === 1 ? Effect.never : Effect.succeed(batch.map(() => EventStatus.Accepted()))
      const v = yield* start(memory(), [sink], { flushInterval: 0, sendTimeout: "10 seconds", retryBaseDelay: "1 second" })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({})] }))
      yield* v.vacuum.flush
      yield* TestClock.adjust("9 seconds")
      assert.strictEqual(sink.calls, 1)
      yield* TestClock.adjust("3 seconds")
      yield* v.vacuum.drain(1000)
      assert.strictEqual(sink.calls, 2)
      assert.strictEqual(sink.events.length, 1)
    }))
})

describe("Vacuum: refusals", () => {
  it.scoped("dead-letters an event the sink refuses for good and delivers the rest; replay sends it", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      let refuse = true
      sink.behaviour = (batch) =>
        Effect.succeed(batch.map((e) =>
          refuse && JSON.parse(e.data).bad === true
            ? EventStatus.Refused({ reason: "Event has too many columns." })
            : EventStatus.Accepted()
        ))
      const v = yield* start(memory(), [sink], { flushInterval: 0 })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ n: 1 }), event({ bad: true }), event({ n: 3 })] }))
      yield* settle(v)
      assert.deepStrictEqual(sink.fields().map((f) => f.n), [1, 3])
      const dead = yield* v.store.deadLetters()
      assert.strictEqual(dead.length, 1)
      assert.strictEqual(dead[0]!.reason, "Event has too many columns.")
      assert.strictEqual(JSON.parse(dead[0]!.data).bad, true)
      assert.deepInclude((yield* v.vacuum.snapshot).sinks[0]!, { delivered: 2, deadLettered: 1, deadLetters: 1 })

      refuse = false
      assert.strictEqual(yield* v.store.replayDeadLetters(), 1)
      yield* TestClock.adjust("1 minute") // the idle poll finds the replayed event
      yield* v.vacuum.drain(1000)
      assert.strictEqual(sink.events.length, 3)
    }))

  it.scoped("retries events answered 'retry' and dead-letters them after the attempt limit", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      sink.behaviour = (batch, call) =>
        Effect.succeed(batch.map((e) =>
          JSON.parse(e.data).stuck === true || call === 1 ? EventStatus.Retry({ reason: "500 internal" }) : EventStatus.Accepted()
        ))
      const v = yield* start(memory(), [sink], { flushInterval: 0, maxEventAttempts: 3, retryBaseDelay: "1 second" })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ n: 1 }), event({ stuck: true })] }))
      yield* v.vacuum.flush
      yield* TestClock.adjust("1 minute")
      yield* v.vacuum.drain(1000)
      assert.deepStrictEqual(sink.fields().map((f) => f.n), [1])
      assert.strictEqual(sink.calls, 3)
      const dead = yield* v.store.deadLetters()
      assert.deepStrictEqual(dead.map((d) => d.reason), ["gave up after 3 attempts: 500 internal"])
    }))

  it.scoped("splits a batch the sink finds too large, down to single events", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      sink.behaviour = (batch) =>
        batch.length > 2 || batch.some((e) => JSON.parse(e.data).huge === true)
          ? Effect.fail(new TransportError({ sink: "test", reason: "TooLarge", description: "413" }))
          : Effect.succeed(batch.map(() => EventStatus.Accepted()))
      const v = yield* start(memory(), [sink], { flushInterval: 0 })
      const lines = [1, 2, 3, 4, 5].map((n) => event(n === 4 ? { n, huge: true } : { n }))
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines }))
      yield* settle(v)
      assert.deepStrictEqual(sink.fields().map((f) => f.n), [1, 2, 3, 5])
      assert.deepStrictEqual((yield* v.store.deadLetters()).map((d) => d.reason), ["too large for the sink: 413"])
    }))

  it.scoped("stops a sink whose setting is wrong, keeping its events for the next start", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const sink = new RecordingSink("test")
      sink.behaviour = () => Effect.fail(new TransportError({ sink: "test", reason: "Rejected", description: "401 unknown API key" }))
      const v = yield* start(Sqlite.layer({ filename }), [sink], { flushInterval: 0 })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ n: 1 }), event({ n: 2 })] }))
      yield* settle(v)
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(sink.calls, 1)
      const snap = yield* v.vacuum.snapshot
      assert.include(snap.sinks[0]!.stopped, "401 unknown API key")
      assert.deepInclude(snap.sinks[0]!, { waiting: 2, inFlight: 0 })
      yield* v.close

      const fixed = new RecordingSink("test")
      const w = yield* start(Sqlite.layer({ filename }), [fixed], { flushInterval: 0 })
      yield* settle(w)
      assert.deepStrictEqual(fixed.fields().map((f) => f.n), [1, 2])
    }))
})

describe("Vacuum: a sink that crashes", () => {
  it.scoped("finds the event it fails on, dead-letters it, and leaves the other sink alone", () =>
    Effect.gen(function*() {
      const crashing = new RecordingSink("crashing")
      crashing.behaviour = (batch) => {
        if (batch.some((e) => JSON.parse(e.data).poison === true)) throw new RangeError("Invalid time value")
        return Effect.succeed(batch.map(() => EventStatus.Accepted()))
      }
      const other = new RecordingSink("other")
      const v = yield* start(memory(), [crashing, other], { flushInterval: 0 })
      const lines = [1, 2, 3, 4].map((n) => event(n === 3 ? { n, poison: true } : { n }))
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines }))
      yield* settle(v)
      yield* v.vacuum.vacuum(record({ ordinate: 2, timestamp: 2, lines: [event({ n: 5 })] }))
      yield* settle(v)
      assert.deepStrictEqual(crashing.fields().map((f) => f.n), [1, 2, 4, 5])
      assert.deepStrictEqual(other.fields().map((f) => f.n), [1, 2, 3, 4, 5])
      const dead = yield* v.store.deadLetters()
      assert.deepStrictEqual(dead.map((d) => [d.sink, d.reason]), [
        ["crashing", "the sink failed on this event: RangeError: Invalid time value"]
      ])
    }))
})

describe("Vacuum: composite and restart", () => {
  it.scoped("resumes a batch a crashed instance held once its claim expires", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      // A previous instance handed off two events, claimed them, and died mid-send.
      yield* Effect.gen(function*() {
        const store = yield* DedupeStore
        yield* store.handOff(["test"], [{
          processId: "P",
          position: { timestamp: 1, ordinate: "1", cron: null },
          events: [{ id: "a", time: 1, data: "{\"n\":1}" }, { id: "b", time: 1, data: "{\"n\":2}" }]
        }])
        yield* store.claim("test", { owner: "dead", maxEvents: 10, maxBytes: 1e9, leaseMillis: 60_000 })
      }).pipe(Effect.provide(Sqlite.layer({ filename })), Effect.scoped)

      const sink = new RecordingSink("test")
      const v = yield* start(Sqlite.layer({ filename }), [sink], { flushInterval: 0, lease: "1 minute" })
      yield* TestClock.adjust("50 seconds")
      assert.strictEqual(sink.events.length, 0)
      yield* TestClock.adjust("40 seconds")
      yield* v.vacuum.drain(1000)
      assert.deepStrictEqual(sink.ids, ["a", "b"])
    }))

  it.scoped("a failing sink leaves the other unaffected, and catches up alone when it is back", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const good = new RecordingSink("good")
      const bad = new RecordingSink("bad")
      bad.behaviour = down("bad")
      const v = yield* start(Sqlite.layer({ filename }), [good, bad], { flushInterval: 0 })
      const records = exampleRecords()
      yield* Effect.forEach(records, v.vacuum.vacuum)
      yield* v.vacuum.flush
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(good.events.length, 121)
      assert.strictEqual(bad.events.length, 0)
      const snap = yield* v.vacuum.snapshot
      assert.deepInclude(snap.sinks.find((s) => s.name === "bad")!, { waiting: 121, delivered: 0 })
      // Closing gives the down sink its bounded time (shutdownTimeout, 5 seconds by default), no more.
      const before = yield* Clock.currentTimeMillis
      yield* v.close
      assert.isAtMost((yield* Clock.currentTimeMillis) - before, 6000)

      // Restart on the same file: the bad sink is back; the CU re-evaluates everything.
      const good2 = new RecordingSink("good")
      const bad2 = new RecordingSink("bad")
      const w = yield* start(Sqlite.layer({ filename }), [good2, bad2], { flushInterval: 0 })
      yield* Effect.forEach(records, w.vacuum.vacuum)
      yield* settle(w)
      assert.strictEqual(good2.events.length, 0)
      assert.strictEqual(bad2.events.length, 121)
      assert.deepStrictEqual(new Set(bad2.ids), new Set(good.ids))
    }))

  it.scoped("flushes what is waiting when the layer closes", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const v = yield* start(memory(), [sink], { flushInterval: "1 hour", batchMaxEvents: 1000 })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ n: 1 })] }))
      yield* v.vacuum.flush
      yield* TestClock.adjust("1 second")
      assert.strictEqual(sink.events.length, 0)
      yield* v.close
      assert.strictEqual(sink.events.length, 1)
    }))
})
