/**
 * Following a CU's evaluations table, on each database a CU keeps it in: a
 * real CU SQLite file (the CU's DDL, WAL mode) and a real PostgreSQL
 * database (the CU's DDL), written while the vacuum follows it; a real
 * state file.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Option } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { CuDatabase } from "../src/CuDatabase.js"
import { DedupeStore } from "../src/DedupeStore.js"
import * as Sqlite from "../src/DedupeStore/Sqlite.js"
import * as Follow from "../src/Follow.js"
import { Vacuum } from "../src/Vacuum.js"
import { cuLayer, engines } from "./support/engines.js"
import { exampleRecords, RecordingSink, start, tempDb } from "./support/harness.js"

/** The example's records (the CU stores no dry-runs), as copy `n`: moved to new positions. */
const copy = (n: number): Array<Record<string, any>> =>
  exampleRecords()
    .filter((r) => r.readOnly !== true)
    .map((r) => ({ ...r, ordinate: String(Number(r.ordinate) + n * 1000), timestamp: (r.timestamp as number) + n * 1e7 }))

/**
 * Another spelling of the CU database at `dbUrl` (`source` as the follower
 * names it), and the key an earlier version kept its cursors under when
 * given that spelling; and the key they share now.
 */
const spellings = (engine: string, dbUrl: string, source: string) => {
  if (engine === "SQLite") {
    // The file itself, relative to the working directory (and not through its DB_URL).
    const relative = path.relative(process.cwd(), source)
    return { other: relative, otherFormerKey: relative, key: fs.realpathSync(source) }
  }
  // The scheme's other name, a password, the default port left out.
  const other = dbUrl.replace("postgres://postgres@", "postgresql://postgres:s3cret@").replace(":5432/", "/")
  return { other, otherFormerKey: other.replace("postgresql://postgres:s3cret@", "postgres://postgres@"), key: dbUrl.replace("postgres@", "") }
}

/** Follows with the vacuum `v` on the CU database at `dbUrl`. */
const following = (v: { vacuum: Vacuum["Type"]; store: DedupeStore["Type"] }, dbUrl: string, options: Follow.Options) =>
  Follow.follow(options).pipe(
    Effect.provideService(Vacuum, v.vacuum),
    Effect.provideService(DedupeStore, v.store),
    Effect.provide(cuLayer(dbUrl))
  )

for (const { engine, make } of engines) {
  /** A CU database of the test's own, closed (and dropped) at the end of the test. */
  const cuDb = Effect.acquireRelease(Effect.promise(make), (db) => Effect.promise(db.close))

describe(`Follow on ${engine}`, () => {
  it.scopedLive("sends every event of the table once; a second pass, and a restart on the same state, read nothing again", () =>
    Effect.gen(function*() {
      const { dbUrl, save } = yield* cuDb
      yield* Effect.promise(() => save(copy(0)))
      const state = tempDb()
      const sink = new RecordingSink("test")
      const v = yield* start(Sqlite.layer({ filename: state }), [sink], { flushInterval: "10 millis" })
      const counts = yield* following(v, dbUrl, { once: true, pageSize: 10 })
      assert.deepStrictEqual(counts, { rows: copy(0).length, badRows: 0, invalid: 0, processes: 2 })
      assert.isTrue(yield* v.vacuum.drain(30_000))
      assert.strictEqual(sink.events.length, 121)
      assert.strictEqual(new Set(sink.ids).size, 121)
      // Again: the cursors say everything was read; nothing reaches the vacuum.
      assert.strictEqual((yield* following(v, dbUrl, { once: true })).rows, 0)
      yield* v.close

      const v2 = yield* start(Sqlite.layer({ filename: state }), [sink], { flushInterval: "10 millis" })
      assert.strictEqual((yield* following(v2, dbUrl, { once: true })).rows, 0)
      assert.strictEqual((yield* v2.vacuum.snapshot).sinks[0]!.duplicates, 0)
      assert.strictEqual(sink.events.length, 121)
    }))

  it.scopedLive("one CU database however it is spelled shares one cursor; cursors kept under a spelling by an earlier version are taken up", () =>
    Effect.gen(function*() {
      const db = yield* cuDb
      yield* Effect.promise(() => db.save(copy(0)))
      const { key, other, otherFormerKey } = spellings(engine, db.dbUrl, db.source)
      const cu = yield* Effect.provide(CuDatabase, cuLayer(other))
      assert.deepStrictEqual([cu.key, cu.source === other || cu.source === otherFormerKey], [key, true])
      const sink = new RecordingSink("test")
      const v = yield* start(Sqlite.layer({ filename: tempDb() }), [sink], { flushInterval: "10 millis" })
      assert.strictEqual((yield* following(v, db.dbUrl, { once: true, pageSize: 10 })).rows, copy(0).length)
      // The other spelling reads nothing again: the cursors are the database's, not the spelling's.
      assert.strictEqual((yield* following(v, other, { once: true })).rows, 0)
      const cursors = yield* v.store.cursors(key)
      assert.strictEqual(cursors.size, 2)
      if (engine === "SQLite") {
        // Through a link to its folder too.
        const link = `${path.dirname(db.source)}-link`
        fs.symlinkSync(path.dirname(db.source), link)
        yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(link)))
        assert.strictEqual((yield* following(v, path.join(link, path.basename(db.dbUrl)), { once: true })).rows, 0)
      }
      assert.isTrue(yield* v.vacuum.drain(30_000))
      assert.strictEqual(sink.events.length, 121)

      // A state an earlier version kept, its cursors under the spelling it was given: taken up, stored under the key.
      const v2 = yield* start(Sqlite.layer({ filename: tempDb() }), [sink], { flushInterval: "10 millis" })
      for (const [processId, cursor] of cursors) yield* v2.store.moveCursor(otherFormerKey, processId, cursor)
      assert.strictEqual((yield* v2.store.cursors(key)).size, 0)
      assert.strictEqual((yield* following(v2, other, { once: true })).rows, 0)
      assert.deepStrictEqual(yield* v2.store.cursors(key), cursors)
      assert.strictEqual(sink.events.length, 121)
    }), { timeout: 30_000 })

  it.scopedLive("follows rows the CU writes while it runs, in bursts, and each event arrives once", () =>
    Effect.gen(function*() {
      const { dbUrl, save } = yield* cuDb
      const sink = new RecordingSink("test")
      const v = yield* start(Sqlite.layer({ filename: tempDb() }), [sink], { flushInterval: "10 millis" })
      const fiber = yield* Effect.fork(following(v, dbUrl, { poll: "20 millis", pageSize: 25 }))
      const rows = [...copy(0), ...copy(1), ...copy(2)]
      // The CU's writer: bursts of a few evaluations, in its order.
      for (let i = 0; i < rows.length; i += 17) {
        yield* Effect.promise(() => save(rows.slice(i, i + 17)))
        yield* Effect.sleep("5 millis")
      }
      while (sink.events.length < 363) yield* Effect.sleep("20 millis")
      yield* Effect.sleep("200 millis")
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(sink.events.length, 363)
      assert.strictEqual(new Set(sink.ids).size, 363)
      assert.strictEqual((yield* v.vacuum.snapshot).sinks[0]!.duplicates, 0)
    }), { timeout: 60_000 })

  it.scopedLive("--since: a process with no cursor is read from that time on; a row whose output is not JSON is reported by id", () =>
    Effect.gen(function*() {
      const { breakOutput, dbUrl, save } = yield* cuDb
      const rows = copy(0)
      yield* Effect.promise(() => save(rows))
      const late = rows[Math.floor(rows.length / 2)]!
      const broken = rows[rows.length - 1]!
      yield* Effect.promise(() => breakOutput(broken))
      const sink = new RecordingSink("test")
      const v = yield* start(Sqlite.layer({ filename: tempDb() }), [sink], { flushInterval: "10 millis" })
      const bad: Array<string> = []
      const counts = yield* following(v, dbUrl, {
        once: true,
        since: late.timestamp as number,
        onBadRow: (id) => Effect.sync(() => bad.push(id))
      })
      const expected = rows.filter((r) => (r.timestamp as number) >= (late.timestamp as number))
      assert.strictEqual(counts.rows + counts.badRows, expected.length)
      assert.strictEqual(counts.badRows, 1)
      assert.deepStrictEqual(bad, [[broken.processId, broken.timestamp, broken.ordinate, broken.cron].filter((x) => x != null).join(",")])
    }))

  it.scopedLive("a restart mid-way while the CU writes: the second follower resumes from the cursors, nothing lost, nothing twice", () =>
    Effect.gen(function*() {
      const { dbUrl, save } = yield* cuDb
      const state = tempDb()
      const sink = new RecordingSink("test")
      const rows = [...copy(0), ...copy(1), ...copy(2)]
      const writer = yield* Effect.fork(Effect.gen(function*() {
        for (let i = 0; i < rows.length; i += 11) {
          yield* Effect.promise(() => save(rows.slice(i, i + 11)))
          yield* Effect.sleep("10 millis")
        }
      }))
      const v = yield* start(Sqlite.layer({ filename: state }), [sink], { flushInterval: "10 millis" })
      const first = yield* Effect.fork(following(v, dbUrl, { poll: "20 millis", pageSize: 7 }))
      while (sink.events.length < 100) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(first)
      yield* v.close
      const v2 = yield* start(Sqlite.layer({ filename: state }), [sink], { flushInterval: "10 millis" })
      const second = yield* Effect.fork(following(v2, dbUrl, { poll: "20 millis", pageSize: 7 }))
      yield* Fiber.join(writer)
      while (sink.events.length < 363) yield* Effect.sleep("20 millis")
      yield* Effect.sleep("200 millis")
      yield* Fiber.interrupt(second)
      assert.strictEqual(sink.events.length, 363)
      assert.strictEqual(new Set(sink.ids).size, 363)
    }), { timeout: 60_000 })

  it.scopedLive("the CU's writer holding a write transaction open for seconds: following neither blocks it nor fails, and sends what it wrote", () =>
    Effect.gen(function*() {
      const { dbUrl, save, saveHolding } = yield* cuDb
      const rows = copy(0)
      const half = Math.floor(rows.length / 2)
      yield* Effect.promise(() => save(rows.slice(0, half)))
      const sink = new RecordingSink("test")
      const v = yield* start(Sqlite.layer({ filename: tempDb() }), [sink], { flushInterval: "10 millis" })
      let read = 0
      const fiber = yield* Effect.fork(following(v, dbUrl, {
        poll: "20 millis",
        pageSize: 10,
        onProgress: (c) => Effect.sync(() => (read = c.rows))
      }))
      while (read < half) yield* Effect.sleep("10 millis")
      assert.isTrue(yield* v.vacuum.drain(30_000))
      const before = sink.events.length
      assert.isAbove(before, 0)
      // The rest in one transaction the writer holds 2 seconds, while the follower polls on.
      const holding = yield* Effect.fork(Effect.promise(() => saveHolding(rows.slice(half), 2_000)))
      yield* Effect.sleep("1 second")
      assert.strictEqual(sink.events.length, before)
      assert.isTrue(Option.isNone(yield* fiber.poll))
      yield* Fiber.join(holding)
      while (sink.events.length < 121) yield* Effect.sleep("20 millis")
      assert.isTrue(Option.isNone(yield* fiber.poll))
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(new Set(sink.ids).size, 121)
      assert.strictEqual(sink.events.length, 121)
    }), { timeout: 60_000 })
})
}
