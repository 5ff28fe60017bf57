/**
 * The DedupeStore's own suite, once for each backend: an in-memory SQLite,
 * and a PostgreSQL database of the test's own on the machine's PostgreSQL.
 * What only SQLite has (a file across reopening, its locks, its migrations
 * from an older file) is in DedupeStore/Sqlite.test.ts.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, TestClock } from "effect"
import { DedupeStore } from "../src/DedupeStore.js"
import * as Pg from "../src/DedupeStore/Pg.js"
import { makeDatabase, psql } from "./support/cuPg.js"
import { claimAll, handoff, memory, pos } from "./support/store.js"

/** A PostgreSQL store in a database of the test's own, dropped with the layer. */
const pgStore = Layer.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(Effect.sync(() => makeDatabase("event_vacuum_store")), (db) => Effect.sync(db.drop)),
    (db) => Pg.layer({ url: db.url })
  )
)

/** One suite, each backend: an in-memory SQLite, and the machine's PostgreSQL. */
const backends = [{ name: "SQLite", backend: memory }, { name: "PostgreSQL", backend: pgStore }] as const

for (const { backend, name } of backends) {
describe(`DedupeStore (${name})`, () => {
  it.scoped("hands off once per sink and position; cron and ordinate 0 are positions like any other", () =>
    Effect.gen(function*() {
      const store = yield* DedupeStore
      const first = yield* store.handOff(["a"], [
        handoff(pos(1, "0"), 2),
        handoff(pos(2, "1")),
        handoff(pos(3, "1", "0-10-minutes")),
        handoff(pos(3, "1", "1-10-minutes"))
      ])
      assert.deepStrictEqual(first.get("a"), { events: 5, duplicates: 0 })
      // The CU re-evaluates after a restart: nothing is handed off twice.
      const again = yield* store.handOff(["a"], [
        handoff(pos(1, "0"), 2),
        handoff(pos(3, "1", "1-10-minutes")),
        handoff(pos(3, "1", "0-10-minutes"))
      ])
      assert.deepStrictEqual(again.get("a"), { events: 0, duplicates: 4 })
      // A new sink has its own watermark, and within one call a repeat is a duplicate.
      const both = yield* store.handOff(["a", "b"], [handoff(pos(2, "1")), handoff(pos(2, "1")), handoff(pos(4, "2"))])
      assert.deepStrictEqual(both.get("a"), { events: 1, duplicates: 2 })
      assert.deepStrictEqual(both.get("b"), { events: 2, duplicates: 1 })

      const marks = yield* store.watermarks()
      assert.deepStrictEqual(
        marks.map((w) => [w.sink, w.processId, w.timestamp, w.ordinate, w.crons]),
        [["a", "P1", 4, "2", [""]], ["b", "P1", 4, "2", [""]]]
      )
      const a = yield* claimAll("a")
      assert.deepStrictEqual(
        a.map((e) => e.id),
        ["P1/0//0", "P1/0//1", "P1/1//0", "P1/1/0-10-minutes/0", "P1/1/1-10-minutes/0", "P1/2//0"]
      )
      assert.deepStrictEqual((yield* claimAll("b")).map((e) => e.id), ["P1/1//0", "P1/2//0"])
    }).pipe(Effect.provide(backend)))

  it.scoped("keeps processes apart", () =>
    Effect.gen(function*() {
      const store = yield* DedupeStore
      yield* store.handOff(["a"], [handoff(pos(10, "5"), 1, "P1")])
      const r = yield* store.handOff(["a"], [handoff(pos(1, "1"), 1, "P2"), handoff(pos(1, "1"), 1, "P1")])
      assert.deepStrictEqual(r.get("a"), { events: 1, duplicates: 1 })
    }).pipe(Effect.provide(backend)))

  it.scoped("claims by count and bytes, at least one event, and never the same event twice while leased", () =>
    Effect.gen(function*() {
      const store = yield* DedupeStore
      yield* store.handOff(["a"], [handoff(pos(1, "1"), 10)])
      const bytes = (yield* store.stats)[0]!.waitingBytes
      const each = bytes / 10
      const byCount = yield* store.claim("a", { owner: "w1", maxEvents: 3, maxBytes: 1e9, leaseMillis: 1000 })
      assert.strictEqual(byCount.length, 3)
      const byBytes = yield* store.claim("a", { owner: "w2", maxEvents: 100, maxBytes: each * 2 + 1, leaseMillis: 1000 })
      assert.deepStrictEqual(byBytes.map((e) => e.seq), [byCount[2]!.seq + 1, byCount[2]!.seq + 2])
      const tiny = yield* store.claim("a", { owner: "w2", maxEvents: 100, maxBytes: 1, leaseMillis: 1000 })
      assert.strictEqual(tiny.length, 1)
      const rest = yield* claimAll("a", "w3")
      assert.strictEqual(rest.length, 4)
      assert.deepStrictEqual(yield* claimAll("a", "w4"), [])
      const stats = yield* store.stats
      // Handed off at the test clock's start: the oldest waiting is from 0.
      assert.deepStrictEqual(stats, [{ sink: "a", waiting: 10, waitingBytes: bytes, inFlight: 10, deadLetters: 0, oldestAt: 0 }])
    }).pipe(Effect.provide(backend)))

  it.scoped("an expired claim (its owner crashed) can be taken by another; renew tells who holds what", () =>
    Effect.gen(function*() {
      const store = yield* DedupeStore
      yield* store.handOff(["a"], [handoff(pos(1, "1"), 2)])
      const mine = yield* store.claim("a", { owner: "w1", maxEvents: 10, maxBytes: 1e9, leaseMillis: 1000 })
      yield* TestClock.adjust(999)
      assert.deepStrictEqual(yield* claimAll("a", "w2"), [])
      yield* TestClock.adjust(1)
      const stolen = yield* store.claim("a", { owner: "w2", maxEvents: 1, maxBytes: 1e9, leaseMillis: 1000 })
      assert.deepStrictEqual(stolen.map((e) => e.seq), [mine[0]!.seq])
      const held = yield* store.renew("a", "w1", mine.map((e) => e.seq), 1000)
      assert.deepStrictEqual(held, [mine[1]!.seq])
      // w1's late acknowledgement of the stolen event does not remove it from under w2.
      yield* store.acknowledge("a", "w1", mine.map((e) => e.seq))
      assert.strictEqual((yield* store.stats)[0]!.waiting, 1)
      yield* store.acknowledge("a", "w2", stolen.map((e) => e.seq))
      assert.deepStrictEqual(yield* store.stats, [])
    }).pipe(Effect.provide(backend)))

  it.scoped("release gives events back, counting failed attempts", () =>
    Effect.gen(function*() {
      const store = yield* DedupeStore
      yield* store.handOff(["a"], [handoff(pos(1, "1"), 2)])
      const batch = yield* claimAll("a")
      yield* store.release("a", "w1", batch.map((e) => e.seq), "503 Service Unavailable")
      const again = yield* claimAll("a", "w2")
      assert.deepStrictEqual(again.map((e) => e.attempts), [1, 1])
      yield* store.release("a", "w2", again.map((e) => e.seq))
      assert.deepStrictEqual((yield* claimAll("a", "w3")).map((e) => e.attempts), [1, 1])
    }).pipe(Effect.provide(backend)))

  it.scoped("releaseOwners gives back the claims of owners that are gone, their loops' too, and no one else's", () =>
    Effect.gen(function*() {
      const store = yield* DedupeStore
      yield* store.handOff(["a", "b"], [handoff(pos(1, "1"), 2)])
      const gone = yield* claimAll("a", "t.0/a/0")
      const other = yield* claimAll("b", "t.00/b/0")
      assert.strictEqual(gone.length, 2)
      assert.strictEqual(other.length, 2)
      // Leases still running: nobody else can claim them.
      assert.deepStrictEqual(yield* claimAll("a", "t.1/a/0"), [])
      // `t.0` is gone; `t.00` (the same prefix without the slash) is not.
      assert.strictEqual(yield* store.releaseOwners(["t.0/a", "t.0/b"]), 2)
      assert.deepStrictEqual((yield* claimAll("a", "t.1/a/0")).map((e) => e.seq), gone.map((e) => e.seq))
      assert.deepStrictEqual(yield* claimAll("b", "t.1/b/0"), [])
      assert.strictEqual(yield* store.releaseOwners([]), 0)
    }).pipe(Effect.provide(backend)))

  it.scoped("dead letters keep the event and the reason, list by sink, and replay into the outbox", () =>
    Effect.gen(function*() {
      const store = yield* DedupeStore
      yield* store.handOff(["a", "b"], [handoff(pos(1, "1"), 3)])
      const batch = yield* claimAll("a")
      yield* TestClock.adjust(5000)
      yield* store.deadLetter("a", "w1", [{ seq: batch[1]!.seq, reason: "Event has too many columns." }])
      yield* store.acknowledge("a", "w1", [batch[0]!.seq, batch[2]!.seq])
      const dead = yield* store.deadLetters()
      assert.strictEqual(dead.length, 1)
      assert.deepInclude(dead[0]!, {
        sink: "a",
        id: batch[1]!.id,
        data: batch[1]!.data,
        reason: "Event has too many columns.",
        attempts: 1,
        deadAt: 5000
      })
      assert.deepStrictEqual(yield* store.deadLetters({ sink: "b" }), [])
      assert.deepStrictEqual((yield* store.stats).map((s) => [s.sink, s.waiting, s.deadLetters]), [["a", 0, 1], ["b", 3, 0]])
      assert.strictEqual(yield* store.replayDeadLetters({ sink: "a" }), 1)
      assert.deepStrictEqual(yield* store.deadLetters(), [])
      const replayed = yield* claimAll("a")
      assert.deepStrictEqual(replayed.map((e) => [e.id, e.data, e.attempts]), [[batch[1]!.id, batch[1]!.data, 0]])
    }).pipe(Effect.provide(backend)))

})
}

describe("DedupeStore (PostgreSQL): a fleet starting at once", () => {
  it.live("four instances opening a new database together each open it, and it is migrated once", () =>
    Effect.gen(function*() {
      for (let round = 0; round < 3; round++) {
        const db = makeDatabase("event_vacuum_start")
        try {
          const opened = yield* Effect.all(Array.from({ length: 4 }, () => Effect.scoped(Effect.either(Pg.make({ url: db.url })))), { concurrency: 4 })
          assert.deepStrictEqual(opened.map((o) => o._tag), ["Right", "Right", "Right", "Right"], opened.map((o) => (o._tag === "Left" ? o.left.message : "")).join("; "))
          assert.strictEqual(psql("SELECT count(*) FROM event_vacuum.event_vacuum_migrations", db.name).trim(), "7")
        } finally {
          db.drop()
        }
      }
    }), { timeout: 60_000 })
})
