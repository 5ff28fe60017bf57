/**
 * What only the PostgreSQL store has: a hand-off guard per process, so a
 * fleet's hand-offs of other processes go on side by side.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Fiber, Layer, Option } from "effect"
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
})
