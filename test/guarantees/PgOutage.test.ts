/**
 * The PostgreSQL state going away mid-run: the vacuum's connections killed
 * again and again for a while (as a restart or a failover does to them), and
 * a holder of locks keeping the hand-off waiting past the statement timeout.
 * The CU's call keeps answering at once, nothing stored is lost, every event
 * is delivered once the database answers again, and the log says what
 * happened in one clear line.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as Pg from "../../src/DedupeStore/Pg.js"
import { makeDatabase, psqlAsync } from "../support/cuPg.js"
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
})
