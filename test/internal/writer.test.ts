import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { DedupeStore } from "../../src/DedupeStore.js"
import { event, memory, record, RecordingSink, settle, start } from "../support/harness.js"

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
