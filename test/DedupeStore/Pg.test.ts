/**
 * What only the PostgreSQL store has: a hand-off guard per process, so a
 * fleet's hand-offs of other processes go on side by side; and wake-ups,
 * so an instance hears what the others hand off.
 */
import { assert, describe, it } from "@effect/vitest"
import { Chunk, Context, Effect, Fiber, Layer, Option, Queue, Stream } from "effect"
import type { Wakeup } from "../../src/DedupeStore.js"
import { DedupeStore } from "../../src/DedupeStore.js"
import * as Pg from "../../src/DedupeStore/Pg.js"
import { makeDatabase, psqlAsync } from "../support/cuPg.js"
import { sleep } from "../support/guarantees.js"
import { handoff, pos } from "../support/store.js"

const database = Effect.acquireRelease(Effect.sync(() => makeDatabase("event_vacuum_store_pg")), (db) => Effect.sync(db.drop))

describe("DedupeStore (PostgreSQL only)", () => {
  it.scopedLive("a hand-off waits only for hand-offs of its own processes", () =>
    Effect.gen(function*() {
      const db = yield* database
      const store = Context.get(yield* Layer.build(Pg.layer({ url: db.url })), DedupeStore)
      yield* store.handOff(["a"], [handoff(pos(1, "1"), 1, "A"), handoff(pos(1, "1"), 1, "B")])

      // Another instance in the middle of a hand-off of A: it holds A's guard for three seconds.
      const holder = yield* Effect.fork(Effect.promise(() =>
        psqlAsync(`BEGIN; SELECT pg_advisory_xact_lock(hashtextextended('A', 0)); SELECT pg_sleep(3); COMMIT;`, db.name)
      ))
      for (let i = 0; i < 100; i++) {
        const held = yield* Effect.promise(() => psqlAsync(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted`, db.name))
        if (held.trim() === "1") break
        yield* Effect.promise(() => sleep(20))
      }

      // B goes through while A is held ...
      const b = yield* store.handOff(["a"], [handoff(pos(2, "2"), 3, "B")])
      assert.deepStrictEqual(b.get("a"), { events: 3, duplicates: 0 })
      assert.isTrue(Option.isNone(yield* Fiber.poll(holder)), "B's hand-off did not wait for A's holder")

      // ... and A waits for its holder, then goes through once.
      const a = yield* Effect.fork(store.handOff(["a"], [handoff(pos(2, "2"), 2, "A")]))
      yield* Effect.promise(() => sleep(300))
      assert.isTrue(Option.isNone(yield* Fiber.poll(a)), "A's hand-off waits while another holds A")
      yield* Fiber.join(holder)
      assert.deepStrictEqual((yield* Fiber.join(a)).get("a"), { events: 2, duplicates: 0 })
      const again = yield* store.handOff(["a"], [handoff(pos(2, "2"), 2, "A")])
      assert.deepStrictEqual(again.get("a"), { events: 0, duplicates: 2 })
    }), { timeout: 30_000 })

  it.scopedLive("each instance hears what the others hand off, replay and hand back, not what it does itself, and hears again after its listener is cut off", () =>
    Effect.gen(function*() {
      const db = yield* database
      const one = Context.get(yield* Layer.build(Pg.layer({ url: db.url })), DedupeStore)
      const two = Context.get(yield* Layer.build(Pg.layer({ url: db.url })), DedupeStore)
      const listen = (store: DedupeStore["Type"]) =>
        Effect.gen(function*() {
          const heard = yield* Queue.unbounded<Wakeup>()
          yield* Effect.forkScoped(Stream.runForEach(store.wakeups!, (w) => Queue.offer(heard, w)))
          return heard
        })
      const heardByOne = yield* listen(one)
      const heardByTwo = yield* listen(two)
      const listening = (n: number) =>
        Effect.promise(async () => {
          for (let i = 0; i < 200; i++) {
            const count = await psqlAsync(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${db.name}' AND query LIKE 'LISTEN%'`)
            if (Number(count.trim()) >= n) return
            await sleep(25)
          }
          throw new Error(`not ${n} listeners after 5 s`)
        })
      yield* listening(2)

      const sent = handoff(pos(1, "1"), 3, "A")
      yield* one.handOff(["a", "b"], [sent])
      const bytes = sent.events.reduce((n, e) => n + Buffer.byteLength(e.data), 0)
      const first = [yield* Queue.take(heardByTwo), yield* Queue.take(heardByTwo)].sort((x, y) => (x.sink < y.sink ? -1 : 1))
      assert.deepStrictEqual(first, [{ sink: "a", events: 3, bytes }, { sink: "b", events: 3, bytes }])
      // A hand-off that wrote nothing (already handed off) says nothing.
      yield* two.handOff(["a"], [sent])

      // The other way round, once two's listener has been cut off and has connected again.
      yield* Effect.promise(() =>
        psqlAsync(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db.name}' AND query LIKE 'LISTEN%'`)
      )
      yield* Effect.promise(() => sleep(100))
      yield* listening(2)
      yield* two.handOff(["a"], [handoff(pos(2, "2"), 2, "A")])
      const claimed = yield* one.claim("a", { owner: "x", maxEvents: 1, maxBytes: 1e9, leaseMillis: 60_000 })
      yield* one.deadLetter("a", "x", [{ seq: claimed[0]!.seq, reason: "test" }])
      yield* two.replayDeadLetters({ sink: "a" })
      assert.deepStrictEqual((yield* Queue.take(heardByOne)).events, 2)
      assert.deepStrictEqual((yield* Queue.take(heardByOne)).events, 1)
      // A batch handed back unsent (a run closing mid-send) is for the others to take now.
      const held = yield* one.claim("b", { owner: "y", maxEvents: 2, maxBytes: 1e9, leaseMillis: 60_000 })
      yield* one.release("b", "y", held.map((e) => e.seq))
      assert.deepStrictEqual(yield* Queue.take(heardByTwo), { sink: "b", events: 2, bytes: 0 })

      // Nothing either heard of its own.
      yield* Effect.promise(() => sleep(200))
      assert.deepStrictEqual(Chunk.toArray(yield* Queue.takeAll(heardByOne)), [])
      assert.deepStrictEqual(Chunk.toArray(yield* Queue.takeAll(heardByTwo)), [])
    }), { timeout: 60_000 })
})
