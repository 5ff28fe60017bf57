import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Metric, TestClock } from "effect"
import * as Metrics from "../src/Metrics.js"
import { DedupeStore, DedupeStoreError } from "../src/DedupeStore.js"
import { EventStatus } from "../src/Transport.js"
import * as Sqlite from "../src/DedupeStore/Sqlite.js"
import { captureLogs, down, event, exampleRecords, memory, record, RecordingSink, settle, start, tempDb } from "./support/harness.js"

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

  it.scoped("refuses an ordinate that is not a nonce: an invalid record naming it, nothing stored, later nonces still delivered", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const v = yield* start(memory(), [sink])
      // As text, "abc" would sit above every nonce: the evaluations after it would count as sent.
      const bad = yield* v.vacuum.vacuum(record({ ordinate: "abc", timestamp: 1000, lines: [event({ n: "abc" })] }))
      assert.strictEqual(bad.outcome, "invalid_record")
      assert.strictEqual(bad.events, 0)
      assert.match(bad.reason!, /ordinate: Expected the message's nonce as decimal digits .*actual "abc"/)
      yield* settle(v)
      assert.deepStrictEqual(yield* v.store.watermarks(), [])
      assert.deepStrictEqual(yield* v.store.stats, [])
      assert.deepInclude((yield* v.vacuum.snapshot).evaluations, { received: 1, invalid: 1 })
      assert.deepInclude((yield* v.vacuum.snapshot).sinks[0]!, { handedOff: 0, delivered: 0 })
      assert.strictEqual(sink.events.length, 0)

      const good = yield* v.vacuum.vacuum(record({ ordinate: 2, timestamp: 1000, lines: [event({ n: 2 })] }))
      assert.strictEqual(good.outcome, "queued")
      yield* settle(v)
      assert.deepStrictEqual(sink.fields().map((f) => [f.nonce, f.n]), [[2, 2]])
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
      const bad = yield* v.vacuum.vacuum({ processId: "P", ordinate: "1" })
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

  it.scoped("a record whose reading throws (a getter, a Proxy) is an invalid record, never a failure of the call", () =>
    Effect.gen(function*() {
      const v = yield* start(memory(), [new RecordingSink("test")])
      const getter = Object.defineProperty({ ...record({ ordinate: 1, timestamp: 1, lines: [event({})] }) }, "processId", {
        enumerable: true,
        get: () => {
          throw new Error("no access")
        }
      })
      const proxy = new Proxy({}, {
        get: () => {
          throw new Error("trap")
        },
        ownKeys: () => {
          throw new Error("trap")
        },
        has: () => {
          throw new Error("trap")
        }
      })
      const results = [
        yield* v.vacuum.vacuum(getter),
        yield* v.vacuum.vacuum(proxy),
        v.vacuum.unsafeVacuum(getter),
        v.vacuum.unsafeVacuum(proxy)
      ]
      for (const r of results) {
        assert.strictEqual(r.outcome, "invalid_record")
        assert.match(r.reason!, /no access|trap/)
      }
      assert.deepInclude((yield* v.vacuum.snapshot).evaluations, { received: 4, invalid: 4 })
      // The vacuum goes on.
      assert.strictEqual((yield* v.vacuum.vacuum(record({ ordinate: 2, timestamp: 2, lines: [event({})] }))).outcome, "queued")
    }))

  it.scoped("the plain call does what the effect does, and logs its warnings on the layer's logger", () =>
    Effect.gen(function*() {
      const { layer: capture, logged } = captureLogs()
      const sink = new RecordingSink("test")
      const v = yield* start(Layer.merge(memory(), capture), [sink], { maxQueuedBytes: 10 })
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
      assert.isTrue(logged.some((m) => m.includes("queue to the store is full") && m.includes("nonce 2")), logged.join("\n"))
    }))

  it.scoped("a full buffer warns at a bounded rate: one line a second of each kind, the next saying how many it stood for", () =>
    Effect.gen(function*() {
      const { layer: capture, logged } = captureLogs()
      const sink = new RecordingSink("test")
      // The writer lingers: what waits stays at the bound while the clock moves.
      const v = yield* start(Layer.merge(memory(), capture), [sink], { maxQueuedBytes: 100, storeLinger: "1 hour" })
      const big = (n: number) => record({ ordinate: n, timestamp: n, lines: [event({ pad: "x".repeat(200) })] })
      assert.strictEqual(v.vacuum.unsafeVacuum(big(1)).outcome, "queued")
      for (let n = 2; n <= 1001; n++) assert.strictEqual(v.vacuum.unsafeVacuum(big(n)).outcome, "buffer_full")
      for (let n = 1; n <= 50; n++) assert.strictEqual(v.vacuum.unsafeVacuum({ processId: "P" }).outcome, "invalid_record")
      yield* Effect.yieldNow()
      yield* TestClock.adjust("10 millis")
      const full = () => logged.filter((m) => m.includes("queue to the store is full"))
      const bad = () => logged.filter((m) => m.includes("does not decode"))
      assert.deepStrictEqual([full().length, bad().length], [1, 1], logged.join("\n"))
      assert.include(full()[0], "nonce 2 ")
      // A second later, the next warning of a kind says how many were held back; the effect call too.
      yield* TestClock.adjust("1 second")
      assert.strictEqual((yield* v.vacuum.vacuum(big(1002))).outcome, "buffer_full")
      assert.strictEqual(full().length, 2)
      assert.include(full()[1], "nonce 1002 ")
      assert.include(full()[1], "(and 999 more like it since the last such warning)")
      assert.strictEqual((yield* v.vacuum.snapshot).discarded.buffer_full, 1001)
    }))

  it.scoped("bounds what waits for the store by bytes: an evaluation of any size is taken while less waits, then calls drop (and count)", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const filename = tempDb()
      const v = yield* start(Sqlite.layer({ filename }), [sink], { maxQueuedBytes: 400, storeLinger: "1 hour" })
      assert.isFalse(v.vacuum.unsafeQueueFull())
      // Larger than the bound alone: taken, since nothing waits (no evaluation is undeliverable for its size).
      const big = yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ pad: "x".repeat(500) })] }))
      assert.strictEqual(big.outcome, "queued")
      assert.isTrue(v.vacuum.unsafeQueueFull())
      const small = yield* v.vacuum.vacuum(record({ ordinate: 2, timestamp: 2, lines: [event({})] }))
      assert.strictEqual(small.outcome, "buffer_full")
      yield* settle(v)
      assert.isFalse(v.vacuum.unsafeQueueFull())
      assert.strictEqual(sink.events.length, 1)
      assert.strictEqual((yield* v.vacuum.snapshot).discarded.buffer_full, 1)
      // The watermark did not move for the dropped one: evaluated again on the same state, it is delivered.
      yield* v.close
      const v2 = yield* start(Sqlite.layer({ filename }), [sink])
      assert.strictEqual((yield* v2.vacuum.vacuum(record({ ordinate: 2, timestamp: 2, lines: [event({})] }))).outcome, "queued")
      assert.strictEqual(yield* settle(v2), true)
      assert.strictEqual(sink.events.length, 2)
      assert.strictEqual((yield* v2.vacuum.snapshot).sinks[0]!.duplicates, 0)
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

describe("Vacuum: closing", () => {
  it.scoped("stores everything queued, whatever the shutdown timeout: only the wait for the sinks is bounded", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      // A slow store: each hand-off takes 200 ms, far longer than a shutdown timeout of 0.
      const slow = Layer.effect(
        DedupeStore,
        Effect.map(DedupeStore, (store) =>
          DedupeStore.of({ ...store, handOff: (sinks, items) => Effect.zipRight(Effect.sleep("200 millis"), store.handOff(sinks, items)) }))
      ).pipe(Layer.provide(Sqlite.layer({ filename })))
      const sink = new RecordingSink("test")
      sink.behaviour = down("test")
      const v = yield* start(slow, [sink], { shutdownTimeout: 0, storeLinger: 0 })
      const records = exampleRecords()
      for (const r of records) v.vacuum.unsafeVacuum(r)
      yield* v.close
      const stats = yield* Effect.flatMap(DedupeStore, (store) => store.stats).pipe(Effect.provide(Sqlite.layer({ filename })))
      assert.strictEqual(stats.find((x) => x.sink === "test")?.waiting, 121)
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
