/**
 * Contention: two vacuums on one state file, evaluating overlapping
 * evaluations at the same time, send each event once.
 *
 * - Two `event-vacuum run` processes (two CUs, or a CU's worker processes),
 *   into the local Honeycomb on 127.0.0.1.
 * - Two vacuum layers in this process, each with its own SQLite connection
 *   (as two CU worker threads would have), fed the same evaluations in
 *   interleaved turns.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Pg from "../../src/DedupeStore/Pg.js"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"
import * as Honeycomb from "../../src/Transport/Honeycomb.js"
import * as Vacuum from "../../src/Vacuum.js"
import { makeDatabase } from "../support/cuPg.js"
import { cli, copiesOfExample, expectedEvents, scale, sleep, writeNdjson } from "../support/guarantees.js"
import { FakeHoneycomb } from "../support/honeycomb.js"

const KEY = "contention-test-key-0123456789"

describe("contention: two vacuums on one state file", () => {
  it("two processes, overlapping inputs, run at once: each event sent once", { timeout: 120_000 * scale }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-contention-"))
    const hc = await FakeHoneycomb.start(KEY)
    try {
      const n = 20 * scale
      // Each evaluates in order, as a CU does, from the same start: A copies 0 … 2n, B goes on to 3n.
      // (An instance starting at an older position than the watermark, which no one handed off,
      // would not send those: the watermark takes them for re-evaluations. See the README.)
      const a = copiesOfExample(2 * n, 0)
      const b = copiesOfExample(3 * n, 0)
      writeNdjson(path.join(dir, "a.ndjson"), a)
      writeNdjson(path.join(dir, "b.ndjson"), b)
      const expected = expectedEvents([...a, ...b])
      const env = {
        EVENT_VACUUM_TRANSPORTS: "honeycomb",
        EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
        EVENT_VACUUM_FLUSH_INTERVAL: "20 millis",
        HONEYCOMB_API_HOST: hc.url,
        HONEYCOMB_API_KEY: KEY,
        HONEYCOMB_DATASET: "contention",
        HONEYCOMB_BATCH_MAX_EVENTS: "25"
      }
      const runs = [cli(["run", path.join(dir, "a.ndjson")], env), cli(["run", path.join(dir, "b.ndjson")], env)]
      const exits = await Promise.all(runs.map((r) => r.exited))
      // The run that ends first waits for what the other stored and has yet to send: both succeed.
      for (const exit of exits) assert.strictEqual(exit.code, 0, exit.stderr)
      const status = await cli(["status", "--state-path", env.EVENT_VACUUM_STATE_PATH], {}).exited
      assert.include(status.stdout, "honeycomb: 0 waiting", status.stdout)
      const ids = hc.ids
      assert.strictEqual(ids.length, new Set(ids).size, "no event accepted twice")
      assert.deepStrictEqual(new Set(ids), new Set(expected.keys()))
      for (const exit of exits) assert.notInclude(exit.stderr, "database is locked", exit.stderr)
      console.info(`contention test (processes): ${expected.size} events, each accepted once; exit codes ${exits.map((e) => e.code).join(", ")}`)
    } finally {
      await hc.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  // The same race on each store a fleet can share: a SQLite file, and a PostgreSQL database.
  const stores = [
    ["one SQLite file", (dir: string, _url: string) => Sqlite.layer({ filename: path.join(dir, "state.db") })],
    ["one PostgreSQL database", (_dir: string, url: string) => Pg.layer({ url })]
  ] as const
  for (const [where, storeOf] of stores) {
  it.scopedLive(`two layers with their own connections to ${where}, the same evaluations in interleaved turns: each event sent once`, () =>
    Effect.gen(function*() {
      const hc = yield* Effect.promise(() => FakeHoneycomb.start(KEY))
      yield* Effect.addFinalizer(() => Effect.promise(() => hc.close()))
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-contention-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const db = yield* Effect.acquireRelease(Effect.sync(() => makeDatabase("event_vacuum_race")), (d) => Effect.sync(d.drop))
      const vacuumOn = () =>
        Effect.map(
          Layer.build(
            Vacuum.layer({ flushInterval: "20 millis", storeLinger: 0 }).pipe(
              Layer.provide(Layer.merge(
                storeOf(dir, db.url),
                Honeycomb.layer({ apiKey: Redacted.make(KEY), dataset: "contention", apiHost: hc.url, maxBatchEvents: 25 })
              )),
              Layer.provide(NodeHttpClient.layerUndici)
            )
          ),
          (context) => Context.get(context, Vacuum.Vacuum)
        )
      const one = yield* vacuumOn()
      const two = yield* vacuumOn()
      const records = copiesOfExample(10 * scale)
      const expected = expectedEvents(records)
      // Both see every evaluation, in turns of a few: each turn is its own transaction.
      for (let i = 0; i < records.length; i += 7) {
        for (const r of records.slice(i, i + 7)) one.unsafeVacuum(r)
        for (const r of records.slice(Math.max(0, i - 3), i + 7)) two.unsafeVacuum(r)
        yield* Effect.promise(() => sleep(0))
      }
      assert.isTrue(yield* one.drain("60 seconds"))
      assert.isTrue(yield* two.drain("60 seconds"))
      const ids = hc.ids
      assert.strictEqual(ids.length, new Set(ids).size, "no event accepted twice")
      assert.deepStrictEqual(new Set(ids), new Set(expected.keys()))
      const [s1, s2] = [yield* one.snapshot, yield* two.snapshot]
      // Each evaluation was handed off by exactly one of them; the other found it already handed off.
      assert.strictEqual(s1.sinks[0]!.handedOff + s2.sinks[0]!.handedOff, expected.size)
      assert.isAbove(s1.sinks[0]!.duplicates + s2.sinks[0]!.duplicates, 0)
    }), { timeout: 120_000 * scale })
  }
})
