/**
 * The CU's evaluations table, read as the follower reads it, on each
 * database a CU keeps it in: a SQLite file (the CU's DDL, WAL mode) and a
 * PostgreSQL database of the test's own (the CU's DDL), each written by a
 * real writer on its own connection.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option } from "effect"
import type { Cursor, Row } from "../src/CuDatabase.js"
import { advance, CuDatabase } from "../src/CuDatabase.js"
import { decodeSync } from "../src/Evaluation.js"
import { cuLayer, engines, evaluationAt, readAll } from "./support/engines.js"
import { exampleRecords } from "./support/harness.js"

const P = "PROC_A"
const evaluation = evaluationAt


for (const { engine, make } of engines) {
  /** A CU database of the test's own, closed (and dropped) at the end of the test. */
  const cuDb = Effect.acquireRelease(Effect.promise(make), (db) => Effect.promise(db.close))

  describe(`CuDatabase on ${engine}`, () => {
    it.scopedLive("reads the example as the CU saved it: records the vacuum decodes, in each process's order, a page at a time", () =>
      Effect.gen(function*() {
        const db = yield* cuDb
        const records = exampleRecords().filter((r) => r.readOnly !== true)
        // Saved in the order the CU evaluated them; read back through the DB_URL as the CU has it.
        yield* Effect.promise(() => db.save(records))
        const rows = yield* Effect.gen(function*() {
          const cu = yield* CuDatabase
          assert.strictEqual(cu.source, db.source)
          const processes = yield* cu.processes(undefined, 100)
          assert.deepStrictEqual(processes, [...new Set(records.map((r) => r.processId as string))].sort())
          assert.deepStrictEqual(yield* cu.processes(processes[0], 100), processes.slice(1))
          assert.strictEqual(yield* cu.count, records.length)
          const all: Array<Row> = []
          for (const p of processes) all.push(...(yield* readAll(p, 7)))
          return all
        }).pipe(Effect.provide(cuLayer(db.dbUrl)))
        assert.strictEqual(rows.length, records.length)
        for (const row of rows) {
          assert.strictEqual(row._tag, "Record")
          if (row._tag !== "Record") continue
          const original = records.find((r) => r.processId === row.record.processId && String(r.ordinate) === row.record.ordinate && (r.cron ?? null) === row.record.cron)!
          assert.isDefined(original, row.id)
          // What the vacuum takes: it decodes, and the output is the CU's without Memory.
          assert.isTrue(Either.isRight(decodeSync(row.record)), row.id)
          assert.strictEqual(row.record.timestamp, original.timestamp)
          const { Memory: _m, ...output } = original.output as Record<string, unknown>
          assert.deepStrictEqual(row.record.output, JSON.parse(JSON.stringify(output)))
        }
        // Each process's rows in its order: timestamp, then ordinate as a number.
        for (let i = 1; i < rows.length; i++) {
          const [a, b] = [rows[i - 1]!.position, rows[i]!.position]
          if (rows[i - 1]!.id.split(",")[0] !== rows[i]!.id.split(",")[0]) continue
          assert.isTrue(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && Number(a.ordinate) <= Number(b.ordinate)), `${rows[i - 1]!.id} then ${rows[i]!.id}`)
        }
      }), { timeout: 30_000 })

    it.scopedLive("orders ordinate 9 before 10 at one timestamp (the id's text order does not), the cron after the message, across pages", () =>
      Effect.gen(function*() {
        const db = yield* cuDb
        yield* Effect.promise(() =>
          db.save(([[10, 5000, null], [9, 5000, null], [9, 5000, "1-minute"], [11, 6000, null], [100, 5000, null]] as const)
            .map(([o, t, c]) => evaluation(o, t, c)))
        )
        for (const limit of [1, 2, 10]) {
          const rows = yield* readAll(P, limit).pipe(Effect.provide(cuLayer(db.dbUrl)))
          assert.deepStrictEqual(rows.map((r) => r.id), [
            `${P},5000,9`,
            `${P},5000,9,1-minute`,
            `${P},5000,10`,
            `${P},5000,100`,
            `${P},6000,11`
          ], `pages of ${limit}`)
        }
      }), { timeout: 30_000 })

    it.scopedLive("a cursor resumes after what was read: new rows only, a late cron at the cursor's own position included", () =>
      Effect.gen(function*() {
        const db = yield* cuDb
        yield* Effect.promise(() => db.save([evaluation(1, 1000), evaluation(2, 2000)]))
        yield* Effect.gen(function*() {
          const cu = yield* CuDatabase
          let cursor: Cursor | undefined
          for (const row of yield* cu.rows(P, undefined, 100)) cursor = advance(cursor, row.position)
          assert.deepStrictEqual(yield* cu.rows(P, cursor, 100), [])
          yield* Effect.promise(() => db.save([evaluation(2, 2000, "5-minutes"), evaluation(3, 3000)]))
          assert.deepStrictEqual((yield* cu.rows(P, cursor, 100)).map((r) => r.id), [`${P},2000,2,5-minutes`, `${P},3000,3`])
        }).pipe(Effect.provide(cuLayer(db.dbUrl)))
      }), { timeout: 30_000 })

    it.scopedLive("a row whose output is not JSON comes back by its id, the rest as records", () =>
      Effect.gen(function*() {
        const db = yield* cuDb
        yield* Effect.promise(() => db.save([evaluation(1, 1000), evaluation(2, 2000)]))
        yield* Effect.promise(() => db.breakOutput(evaluation(1, 1000)))
        const rows = yield* readAll(P, 100).pipe(Effect.provide(cuLayer(db.dbUrl)))
        assert.deepStrictEqual(rows.map((r) => [r._tag, r.id]), [["BadOutput", `${P},1000,1`], ["Record", `${P},2000,2`]])
      }), { timeout: 30_000 })

    it.scopedLive("neither blocks nor waits on a writer holding a write transaction open for seconds", () =>
      Effect.gen(function*() {
        const db = yield* cuDb
        yield* Effect.promise(() => db.save([evaluation(1, 1000)]))
        yield* Effect.gen(function*() {
          const cu = yield* CuDatabase
          // The CU's writer holds its transaction 2 seconds; reads meanwhile answer with what was committed.
          const holding = yield* Effect.fork(Effect.promise(() => db.saveHolding([evaluation(2, 2000), evaluation(3, 3000)], 2000)))
          yield* Effect.sleep("200 millis")
          assert.deepStrictEqual((yield* readAll(P, 100)).map((r) => r.id), [`${P},1000,1`])
          // The read came back while the writer still held its transaction, and the writer commits.
          assert.isTrue(Option.isNone(yield* holding.poll))
          yield* Fiber.join(holding)
          assert.deepStrictEqual((yield* readAll(P, 100)).map((r) => r.id), [`${P},1000,1`, `${P},2000,2`, `${P},3000,3`])
          assert.strictEqual(yield* cu.count, 3)
        }).pipe(Effect.provide(cuLayer(db.dbUrl, "1 second")))
      }), { timeout: 30_000 })

    it.scopedLive("a table changed or dropped while it is followed is said in one line naming the setting", () =>
      Effect.gen(function*() {
        const db = yield* cuDb
        yield* Effect.promise(() => db.save([evaluation(1, 1000)]))
        yield* Effect.gen(function*() {
          const cu = yield* CuDatabase
          assert.strictEqual((yield* readAll(P, 100)).length, 1)
          yield* Effect.promise(() => db.exec("ALTER TABLE evaluations DROP COLUMN output"))
          const changed = yield* Effect.flip(cu.rows(P, undefined, 100))
          assert.strictEqual(
            changed.message,
            `EVENT_VACUUM_CU_DB: the evaluations table of ${db.source} changed while it was followed: it lacks output now`
          )
          yield* Effect.promise(() => db.exec("DROP TABLE evaluations"))
          const gone = yield* Effect.flip(cu.processes(undefined, 10))
          assert.strictEqual(gone.message, `EVENT_VACUUM_CU_DB: the evaluations table of ${db.source} is gone: it was dropped while it was followed`)
        }).pipe(Effect.provide(cuLayer(db.dbUrl)))
      }), { timeout: 30_000 })
  })
}
