/**
 * A fleet on one PostgreSQL: three `event-vacuum run` processes (three CUs)
 * share one state database, each going forward through its own range of the
 * example replicated (overlapping: they start at the same place), into the
 * local Honeycomb on 127.0.0.1, whose replies come a little late; one is
 * SIGKILLed while it sends and started again. Every event is accepted, each
 * once but for the batches in flight at the kill; every run exits 0; a
 * fourth run over everything sends nothing.
 *
 * And instances wake each other: one hands off while its own sink hangs, and
 * another, whose idle poll is half a minute away, hears it and delivers the
 * rest at once.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Pg from "../../src/DedupeStore/Pg.js"
import { makeDatabase } from "../support/cuPg.js"
import { cli, copiesOfExample, expectedEvents, scale, sleep, writeNdjson } from "../support/guarantees.js"
import { RecordingSink, start } from "../support/harness.js"
import { FakeHoneycomb } from "../support/honeycomb.js"

const KEY = "fleet-test-key-0123456789"
const BATCH = 25
const CONCURRENCY = 2

describe("a fleet of three on one PostgreSQL", () => {
  it("each event accepted once (but the batches in flight at a kill), every run exits 0, a fourth sends nothing", { timeout: 180_000 * scale }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-fleet-"))
    const db = makeDatabase("event_vacuum_fleet")
    const hc = await FakeHoneycomb.start(KEY)
    hc.fault = () => ({ kind: "late-reply", millis: 20 })
    try {
      const n = 10 * scale
      const inputs = [copiesOfExample(2 * n), copiesOfExample(3 * n), copiesOfExample(n)]
      inputs.forEach((records, i) => writeNdjson(path.join(dir, `${i}.ndjson`), records))
      const all = copiesOfExample(3 * n)
      writeNdjson(path.join(dir, "all.ndjson"), all)
      const expected = expectedEvents(all)
      const env = {
        EVENT_VACUUM_TRANSPORTS: "honeycomb",
        EVENT_VACUUM_STATE_URL: db.url,
        EVENT_VACUUM_FLUSH_INTERVAL: "20 millis",
        EVENT_VACUUM_LEASE: "2 seconds",
        EVENT_VACUUM_DRAIN_TIMEOUT: "90 seconds",
        HONEYCOMB_API_HOST: hc.url,
        HONEYCOMB_API_KEY: KEY,
        HONEYCOMB_DATASET: "fleet",
        HONEYCOMB_BATCH_MAX_EVENTS: String(BATCH),
        HONEYCOMB_CONCURRENCY: String(CONCURRENCY)
      }
      const runs = inputs.map((_, i) => cli(["run", path.join(dir, `${i}.ndjson`)], env))
      // The second is killed once the fleet is sending, then started again on the same input.
      for (let waited = 0; hc.requests.length < 4 && waited < 30_000; waited += 10) await sleep(10)
      await sleep(100)
      runs[1]!.kill()
      const killed = await runs[1]!.exited
      const again = cli(["run", path.join(dir, "1.ndjson")], env)
      const exits = await Promise.all([runs[0]!.exited, runs[2]!.exited, again.exited])
      for (const exit of exits) assert.strictEqual(exit.code, 0, exit.stderr)
      assert.strictEqual(killed.signal, "SIGKILL")

      const ids = hc.ids
      const distinct = new Set(ids)
      assert.deepStrictEqual(distinct, new Set(expected.keys()))
      const copies = ids.length - distinct.size
      assert.isAtMost(copies, CONCURRENCY * BATCH, `${copies} copies for one kill`)

      const accepted = ids.length
      const fourth = await cli(["run", path.join(dir, "all.ndjson")], env).exited
      assert.strictEqual(fourth.code, 0, fourth.stderr)
      assert.include(fourth.stderr, `honeycomb: 0 delivered, ${expected.size} seen before, 0 waiting`)
      assert.strictEqual(hc.ids.length, accepted)
      const status = await cli(["status"], { EVENT_VACUUM_STATE_URL: db.url }).exited
      assert.include(status.stdout, "honeycomb: 0 waiting", status.stdout)
      console.info(`fleet test: ${expected.size} events, 3 runs (one killed and restarted) then a fourth; ${hc.requests.length} requests, ${copies} copies (bound ${CONCURRENCY * BATCH})`)
    } finally {
      await hc.close()
      db.drop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it.scopedLive("an instance hears what another hands off and delivers it before its idle poll would have found it", () =>
    Effect.gen(function*() {
      const db = yield* Effect.acquireRelease(Effect.sync(() => makeDatabase("event_vacuum_wakeup")), (d) => Effect.sync(d.drop))
      // One lease for both: a minute, so the idle poll is every thirty seconds.
      const options = { flushInterval: "20 millis", storeLinger: 0, batchMaxEvents: 50, lease: "60 seconds", shutdownTimeout: "100 millis" } as const
      const listener = new RecordingSink("test")
      yield* start(Pg.layer({ url: db.url }), [listener], options)
      const hanging = new RecordingSink("test")
      hanging.behaviour = () => Effect.never
      const producer = yield* start(Pg.layer({ url: db.url }), [hanging], options)
      // Both listening (the stores connect their listeners as they start).
      yield* Effect.promise(() => sleep(500))

      const records = copiesOfExample(2)
      const expected = expectedEvents(records)
      for (const r of records) producer.vacuum.unsafeVacuum(r)
      yield* producer.vacuum.flush

      // The producer holds one batch in its hanging send; the listener delivers everything else.
      for (let i = 0; i < 200 && listener.ids.length < expected.size - options.batchMaxEvents; i++) {
        yield* Effect.promise(() => sleep(50))
      }
      assert.strictEqual(listener.ids.length, expected.size - options.batchMaxEvents, "delivered by the listener within 10 s")
      assert.strictEqual(new Set(listener.ids).size, listener.ids.length)
      assert.isTrue(listener.ids.every((id) => expected.has(id)))
    }), { timeout: 60_000 })
})
