/**
 * The PostgreSQL state going away mid-run: the vacuum's connections killed
 * again and again for a while (as a failover does to them); PostgreSQL
 * itself restarted (`pg_ctlcluster ... restart`, on a cluster of the test's
 * own so that the other tests' database stays up); a holder of locks keeping
 * the hand-off waiting past the statement timeout; and a holder of locks on
 * the outbox that every connection of a pool of two ends up waiting on. The
 * CU's call keeps answering at once, nothing stored is lost, every event is
 * delivered once the database answers again, the vacuum does not stop or
 * start over, and the log says what happened in one clear line.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import * as Pg from "../../src/DedupeStore/Pg.js"
import { makeDatabase, psqlAsync } from "../support/cuPg.js"
import { startCluster } from "../support/pgCluster.js"
import { copiesOfExample, expectedEvents, sleep } from "../support/guarantees.js"
import { captureLogs, RecordingSink, start } from "../support/harness.js"

describe("the PostgreSQL state going away mid-run", () => {
  it.scopedLive("connections killed for two seconds, then a lock held for six seconds, past the statement timeout and the quick retries: nothing lost, each event once", () =>
    Effect.gen(function*() {
      const db = yield* Effect.acquireRelease(Effect.sync(() => makeDatabase("event_vacuum_outage")), (d) => Effect.sync(d.drop))
      const logs = captureLogs()
      const sink = new RecordingSink("test")
      const v = yield* start(Pg.layer({ url: db.url, statementTimeout: "1 second" }), [sink], { flushInterval: "10 millis", storeLinger: 0 }).pipe(
        Effect.provide(logs.layer)
      )
      const records = copiesOfExample(6)
      const expected = expectedEvents(records)
      const third = Math.floor(records.length / 3)
      const kill = () =>
        psqlAsync(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '${db.name}' AND application_name = 'event-vacuum'`)

      // A third before, a third while its connections are killed every 100 ms for two seconds.
      for (const r of records.slice(0, third)) v.vacuum.unsafeVacuum(r)
      const killer = yield* Effect.fork(Effect.promise(async () => {
        for (let t = 0; t < 20; t++) {
          await kill()
          await sleep(100)
        }
      }))
      const outcomes = new Set<string>()
      for (const r of records.slice(third, 2 * third)) {
        outcomes.add((v.vacuum.unsafeVacuum(r) as { outcome: string }).outcome)
        yield* Effect.promise(() => sleep(2))
      }
      yield* Fiber.join(killer)
      // The CU's call never waited on the store and dropped nothing: each was queued (or had no events).
      assert.isTrue([...outcomes].every((o) => o === "queued" || o === "no_events" || o === "read_only"), [...outcomes].join(", "))

      // The last third while another session holds the hand-off's lock for six seconds.
      const holder = yield* Effect.fork(Effect.promise(() =>
        psqlAsync(`BEGIN; LOCK TABLE event_vacuum.event_vacuum_watermark IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(6); COMMIT;`, db.name)
      ))
      yield* Effect.promise(() => sleep(300))
      for (const r of records.slice(2 * third)) v.vacuum.unsafeVacuum(r)
      yield* Fiber.join(holder)

      assert.isTrue(yield* v.vacuum.drain(90_000))
      const snapshot = yield* v.vacuum.snapshot
      assert.deepStrictEqual(snapshot.discarded, { buffer_full: 0, store_failed: 0 }, logs.logged.join("\n").slice(0, 3000))
      assert.strictEqual(sink.ids.length, new Set(sink.ids).size, "no event twice")
      assert.deepStrictEqual(new Set(sink.ids), new Set(expected.keys()))
      const said = logs.logged.filter((l) => l.includes("the state store is failing"))
      assert.isAbove(said.length, 0)
      assert.match(said[0]!, /^event-vacuum: the state store is failing \(.+\); retrying for up to 30s, \d+ event\(s\) waiting in memory$/)
    }), { timeout: 120_000 })

  it.scopedLive("PostgreSQL restarted mid-run, then stopped for two seconds: nothing lost, each event once, each outage said once and its end", () =>
    Effect.gen(function*() {
      const cluster = yield* Effect.acquireRelease(Effect.promise(startCluster), (c) => Effect.promise(c.drop))
      const logs = captureLogs()
      const sink = new RecordingSink("test")
      const v = yield* start(Pg.layer({ url: cluster.url(), statementTimeout: "1 second" }), [sink], { flushInterval: "10 millis", storeLinger: 0 }).pipe(
        Effect.provide(logs.layer)
      )
      const records = copiesOfExample(6)
      const expected = expectedEvents(records)
      const third = Math.floor(records.length / 3)
      for (const r of records.slice(0, third)) v.vacuum.unsafeVacuum(r)
      yield* v.vacuum.flush

      // Records paced so that they span each restart: a `pg_ctlcluster restart` (down for a moment),
      // then a stop, two seconds down, and a start.
      const outcomes = new Set<string>()
      let next = third
      for (const downFor of [undefined, 2000]) {
        const restart = yield* Effect.fork(Effect.promise(() => cluster.restart(downFor)))
        while (Option.isNone(yield* Fiber.poll(restart)) && next < records.length) {
          outcomes.add((v.vacuum.unsafeVacuum(records[next++]) as { outcome: string }).outcome)
          yield* Effect.promise(() => sleep(15))
        }
        yield* Fiber.join(restart)
      }
      assert.isTrue([...outcomes].every((o) => o === "queued" || o === "no_events" || o === "read_only"), [...outcomes].join(", "))
      for (const r of records.slice(next)) v.vacuum.unsafeVacuum(r)

      assert.isTrue(yield* v.vacuum.drain(90_000))
      const snapshot = yield* v.vacuum.snapshot
      assert.deepStrictEqual(snapshot.discarded, { buffer_full: 0, store_failed: 0 }, logs.logged.join("\n").slice(0, 3000))
      assert.strictEqual(sink.ids.length, new Set(sink.ids).size, "no event twice")
      assert.deepStrictEqual(new Set(sink.ids), new Set(expected.keys()))
      assert.isTrue(snapshot.sinks.every((s) => s.stopped === undefined))
      // Said, and not over and over: each outage the writer waited through once (the moment of the
      // restart, its quick retries may ride out), and its end; the delivery loop a line per failed look.
      const all = logs.logged.join("\n").slice(0, 3000)
      const told = logs.logged.filter((l) => l.includes("the state store is failing") || l.includes("the state store answers again"))
      assert.include([2, 4], told.length, all)
      for (let i = 0; i < told.length; i += 2) {
        assert.match(told[i]!, /^event-vacuum: the state store is failing \(.+\); retrying for up to 30s, \d+ event\(s\) waiting in memory$/)
        assert.match(told[i + 1]!, /^event-vacuum: the state store answers again after \d+\.\ds; the \d+ event\(s\) waiting are stored$/)
      }
      const looks = logs.logged.filter((l) => l.includes("cannot read the outbox"))
      assert.isAtMost(looks.length, 10, all)
      for (const line of looks) assert.match(line, /^sink test: cannot read the outbox DedupeStoreError: state store: claim failed: .+/)
    }), { timeout: 120_000 })

  it.scopedLive("a pool of two, both connections waiting on a holder of the outbox's lock for five seconds: nothing lost, each event once", () =>
    Effect.gen(function*() {
      const db = yield* Effect.acquireRelease(Effect.sync(() => makeDatabase("event_vacuum_pool")), (d) => Effect.sync(d.drop))
      const logs = captureLogs()
      const sink = new RecordingSink("test")
      const v = yield* start(Pg.layer({ url: db.url, poolSize: 2, statementTimeout: "1 second" }), [sink], {
        flushInterval: "10 millis",
        storeLinger: 0,
        lease: "2 seconds"
      }).pipe(Effect.provide(logs.layer))
      const records = copiesOfExample(4)
      const expected = expectedEvents(records)
      const half = Math.floor(records.length / 2)
      for (const r of records.slice(0, half)) v.vacuum.unsafeVacuum(r)
      yield* v.vacuum.flush

      const holder = yield* Effect.fork(Effect.promise(() =>
        psqlAsync(`BEGIN; LOCK TABLE event_vacuum.event_vacuum_outbox IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(5); COMMIT;`, db.name)
      ))
      yield* Effect.promise(() => sleep(300))
      const outcomes = new Set<string>()
      for (const r of records.slice(half)) {
        outcomes.add((v.vacuum.unsafeVacuum(r) as { outcome: string }).outcome)
        yield* Effect.promise(() => sleep(2))
      }
      // The hand-off and the delivery loop's looks (every second, with this lease) wait on the holder, each
      // until the statement timeout, then again: at some moment both connections of the pool wait.
      let waiting = 0
      for (let i = 0; i < 30 && waiting < 2; i++) {
        const now = yield* Effect.promise(() =>
          psqlAsync(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${db.name}' AND application_name = 'event-vacuum' AND wait_event_type = 'Lock'`, db.name)
        )
        waiting = Math.max(waiting, Number(now.trim()))
        yield* Effect.promise(() => sleep(100))
      }
      assert.isTrue(Option.isNone(yield* Fiber.poll(holder)), "the holder still holds")
      yield* Fiber.join(holder)
      assert.isTrue([...outcomes].every((o) => o === "queued" || o === "no_events" || o === "read_only"), [...outcomes].join(", "))
      // Both of the pool's connections were waiting on the holder.
      assert.strictEqual(waiting, 2)

      assert.isTrue(yield* v.vacuum.drain(90_000))
      const snapshot = yield* v.vacuum.snapshot
      assert.deepStrictEqual(snapshot.discarded, { buffer_full: 0, store_failed: 0 }, logs.logged.join("\n").slice(0, 3000))
      assert.strictEqual(sink.ids.length, new Set(sink.ids).size, "no event twice")
      assert.deepStrictEqual(new Set(sink.ids), new Set(expected.keys()))
      const said = logs.logged.filter((l) => l.includes("the state store is failing"))
      assert.strictEqual(said.length, 1, logs.logged.join("\n").slice(0, 3000))
    }), { timeout: 120_000 })
})
