import { assert, describe, it } from "@effect/vitest"
import { Clock, Context, Effect, Layer, TestClock } from "effect"
import { DedupeStore, DedupeStoreError } from "../../../src/DedupeStore.js"
import * as Sqlite from "../../../src/DedupeStore/Sqlite.js"
import { Transport } from "../../../src/Transport.js"
import * as Vacuum from "../../../src/Vacuum.js"
import { EventStatus, TransportError } from "../../../src/Transport.js"
import { captureLogs, down, event, exampleRecords, memory, record, RecordingSink, settle, start, tempDb } from "../../support/harness.js"
import { heapAfterGc } from "../../support/heap.js"

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

describe("Vacuum: a send longer than the lease (real clock)", () => {
  it.scopedLive("keeps its claim renewed: another instance on the same file never takes the batch being sent", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      const slow = new RecordingSink("s")
      slow.behaviour = (batch) => Effect.as(Effect.sleep("1500 millis"), batch.map(() => EventStatus.Accepted()))
      const other = new RecordingSink("s")
      const options = { lease: "300 millis", flushInterval: 0 } as const
      const a = yield* start(Sqlite.layer({ filename }), [slow], options)
      const b = yield* start(Sqlite.layer({ filename }), [other], options)
      assert.strictEqual((yield* a.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ n: 1 })] }))).outcome, "queued")
      yield* a.vacuum.flush
      // The send takes five leases; the other instance looks for expired claims every second meanwhile.
      while (slow.batches.length === 0) yield* Effect.sleep("50 millis")
      yield* Effect.sleep("1200 millis")
      assert.strictEqual(slow.calls, 1)
      assert.strictEqual(other.calls, 0, "the other instance took over a batch that was being sent")
      assert.deepStrictEqual((yield* b.vacuum.snapshot).sinks.map((k) => k.waiting), [0])
    }))
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

  /** A store in memory that keeps every condition noted. */
  const noting = (notes: Array<unknown>) =>
    Layer.effect(
      DedupeStore,
      Effect.map(DedupeStore, (store) =>
        DedupeStore.of({
          ...store,
          noteSink: (sink, condition) => Effect.zipRight(Effect.sync(() => notes.push([sink, condition])), store.noteSink(sink, condition))
        }))
    ).pipe(Layer.provide(memory()))

  it.scoped("notes the sink's condition in the store once per change (a new cause, an answer), never per attempt", () =>
    Effect.gen(function*() {
      const notes: Array<unknown> = []
      const sink = new RecordingSink("test")
      sink.behaviour = (batch, call) =>
        call <= 3
          ? down("test")(batch, call)
          : call <= 5
          ? Effect.fail(new TransportError({ sink: "test", reason: "Timeout", description: "no answer" }))
          : Effect.succeed(batch.map(() => EventStatus.Accepted()))
      yield* TestClock.adjust("1 hour")
      const failedAt = yield* Clock.currentTimeMillis
      const v = yield* start(noting(notes), [sink], { flushInterval: 0, retryBaseDelay: "1 second", retryMaxDelay: "1 second" })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ a: 1 })] }))
      yield* v.vacuum.flush
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(sink.calls, 1)
      assert.deepStrictEqual((yield* v.store.stats)[0]!.failing, { cause: "Unavailable: 503 Service Unavailable", since: failedAt })
      yield* TestClock.adjust("1 minute")
      assert.isTrue(yield* v.vacuum.drain(1000))
      assert.strictEqual(sink.calls, 6)
      assert.deepStrictEqual(notes, [
        ["test", { failing: { cause: "Unavailable: 503 Service Unavailable", since: failedAt } }],
        // Still failing since the first failure, for another cause.
        ["test", { failing: { cause: "Timeout: no answer", since: failedAt } }],
        ["test", undefined]
      ])
      assert.deepStrictEqual(yield* v.store.stats, [])
    }))

  it.scoped("a sink that answers but asks for events again is failing until they are accepted, noted and said once", () =>
    Effect.gen(function*() {
      const notes: Array<unknown> = []
      const { layer: capture, logged } = captureLogs()
      const sink = new RecordingSink("test")
      sink.behaviour = (batch, call) =>
        Effect.succeed(batch.map((e) =>
          call <= 4 && JSON.parse(e.data).a === 2 ? EventStatus.Retry({ reason: "503 try again" }) : EventStatus.Accepted()
        ))
      const v = yield* start(Layer.merge(noting(notes), capture), [sink], { flushInterval: 0, retryBaseDelay: "1 second", retryMaxDelay: "1 second" })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ a: 1 }), event({ a: 2 })] }))
      yield* v.vacuum.flush
      yield* TestClock.adjust("1 minute")
      assert.isTrue(yield* v.vacuum.drain(1000))
      assert.strictEqual(sink.calls, 5)
      assert.deepStrictEqual(sink.fields().map((f) => f.a), [1, 2])
      assert.deepStrictEqual(notes, [
        ["test", { failing: { cause: "the sink asked for some events again: 503 try again", since: 0 } }],
        ["test", undefined]
      ])
      // Four answers asked for the event again: the cause is said once, and the recovery once.
      assert.deepStrictEqual(logged.filter((line) => line.startsWith("sink test:")), [
        "sink test: cannot send (the sink asked for some events again: 503 try again); retrying; its events wait in the store",
        "sink test: sending again"
      ])
    }))

  it.scoped("delivers as ever when the store cannot note the sink's condition", () =>
    Effect.gen(function*() {
      let tried = 0
      const broken = Layer.effect(
        DedupeStore,
        Effect.map(DedupeStore, (store) =>
          DedupeStore.of({
            ...store,
            noteSink: () =>
              Effect.suspend(() => {
                tried++
                return Effect.fail(new DedupeStoreError({ operation: "note a sink", description: "disk I/O error" }))
              })
          }))
      ).pipe(Layer.provide(memory()))
      const sink = new RecordingSink("test")
      sink.behaviour = (batch, call) => call <= 3 ? down("test")(batch, call) : Effect.succeed(batch.map(() => EventStatus.Accepted()))
      const v = yield* start(broken, [sink], { flushInterval: 0, retryBaseDelay: "1 second", retryMaxDelay: "1 second" })
      yield* v.vacuum.vacuum(record({ ordinate: 1, timestamp: 1, lines: [event({ a: 1 }), event({ a: 2 })] }))
      yield* v.vacuum.flush
      yield* TestClock.adjust("1 minute")
      assert.isTrue(yield* v.vacuum.drain(1000))
      assert.strictEqual(sink.events.length, 2)
      // Tried at each change only (failing, then answering), not again at every attempt.
      assert.strictEqual(tried, 2)
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
      assert.deepStrictEqual((yield* v.store.deadLetters()).map((d) => d.reason), ["refused by the sink when sent alone: 413"])
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
      // The state file says so too, for `status`.
      assert.strictEqual((yield* v.store.stats)[0]!.stopped?.cause, "sink test: Rejected: 401 unknown API key")
      yield* v.close

      const fixed = new RecordingSink("test")
      const w = yield* start(Sqlite.layer({ filename }), [fixed], { flushInterval: 0 })
      yield* settle(w)
      assert.deepStrictEqual(fixed.fields().map((f) => f.n), [1, 2])
      // It answered: no longer stopped.
      assert.deepStrictEqual(yield* w.store.stats, [])
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
