/**
 * The CU's SQLite database, read as the follower reads it: a real file laid
 * out as the CU lays it out (its DDL, WAL mode), written by a real writer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Cursor, Row } from "../../src/CuDatabase.js"
import { advance, CuDatabase } from "../../src/CuDatabase.js"
import * as CuSqlite from "../../src/CuDatabase/Sqlite.js"
import Database from "better-sqlite3"
import { decodeSync } from "../../src/Evaluation.js"
import { makeCuDb, saveEvaluation } from "../support/cu.js"
import { exampleRecords } from "../support/harness.js"

const P = "PROC_A"
const evaluation = (ordinate: number, timestamp: number, cron: string | null = null) => ({
  processId: P,
  messageId: `M${ordinate}`,
  ordinate: String(ordinate),
  cron,
  timestamp,
  blockHeight: 1,
  output: { Output: { data: "" }, Error: null, GasUsed: 1, Memory: "not stored" }
})

/** Every row of a process, a page of `limit` at a time, moving the cursor as the follower does. */
const readAll = (processId: string, limit: number) =>
  Effect.gen(function*() {
    const cu = yield* CuDatabase
    const out: Array<Row> = []
    let cursor: Cursor | undefined
    for (;;) {
      const page = yield* cu.rows(processId, cursor, limit)
      if (page.length === 0) return out
      for (const row of page) cursor = advance(cursor, row.position)
      out.push(...page)
    }
  })

describe("CuDatabase/Sqlite", () => {
  it.effect("reads the example as the CU saved it: records the vacuum decodes, in each process's order, a page at a time", () =>
    Effect.gen(function*() {
      const { db, dbUrl } = makeCuDb()
      const records = exampleRecords().filter((r) => r.readOnly !== true)
      // Saved in the order the CU evaluated them; read back through the DB_URL as the CU has it.
      for (const r of records) saveEvaluation(db, r)
      const rows = yield* Effect.gen(function*() {
        const cu = yield* CuDatabase
        const processes = yield* cu.processes(undefined, 100)
        assert.deepStrictEqual(processes, [...new Set(records.map((r) => r.processId as string))].sort())
        assert.deepStrictEqual(yield* cu.processes(processes[0], 100), processes.slice(1))
        assert.strictEqual(yield* cu.count, records.length)
        const all: Array<Row> = []
        for (const p of processes) all.push(...(yield* readAll(p, 7)))
        return all
      }).pipe(Effect.provide(CuSqlite.layer({ filename: dbUrl })))
      assert.strictEqual(rows.length, records.length)
      for (const row of rows) {
        assert.strictEqual(row._tag, "Record")
        if (row._tag !== "Record") continue
        const original = records.find((r) => r.processId === row.record.processId && String(r.ordinate) === row.record.ordinate && (r.cron ?? null) === row.record.cron)!
        assert.isDefined(original, row.id)
        // What the vacuum takes: it decodes, and the output is the CU's without Memory.
        assert.isTrue(Either.isRight(decodeSync(row.record)), row.id)
        const { Memory: _m, ...output } = original.output as Record<string, unknown>
        assert.deepStrictEqual(row.record.output, JSON.parse(JSON.stringify(output)))
      }
      // Each process's rows in its order: timestamp, then ordinate as a number.
      for (let i = 1; i < rows.length; i++) {
        const [a, b] = [rows[i - 1]!.position, rows[i]!.position]
        if (rows[i - 1]!.id.split(",")[0] !== rows[i]!.id.split(",")[0]) continue
        assert.isTrue(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && Number(a.ordinate) <= Number(b.ordinate)), `${rows[i - 1]!.id} then ${rows[i]!.id}`)
      }
    }))

  it.effect("orders ordinate 9 before 10 at one timestamp (the id's text order does not), the cron after the message, across pages", () =>
    Effect.gen(function*() {
      const { db, dbUrl } = makeCuDb()
      for (const [ordinate, timestamp, cron] of [[10, 5000, null], [9, 5000, null], [9, 5000, "1-minute"], [11, 6000, null], [100, 5000, null]] as const) {
        saveEvaluation(db, evaluation(ordinate, timestamp, cron))
      }
      for (const limit of [1, 2, 10]) {
        const rows = yield* readAll(P, limit).pipe(Effect.provide(CuSqlite.layer({ filename: dbUrl })))
        assert.deepStrictEqual(rows.map((r) => r.id), [
          `${P},5000,9`,
          `${P},5000,9,1-minute`,
          `${P},5000,10`,
          `${P},5000,100`,
          `${P},6000,11`
        ], `pages of ${limit}`)
      }
    }))

  it.effect("a cursor resumes after what was read: new rows only, a late cron at the cursor's own position included", () =>
    Effect.gen(function*() {
      const { db, dbUrl } = makeCuDb()
      saveEvaluation(db, evaluation(1, 1000))
      saveEvaluation(db, evaluation(2, 2000))
      yield* Effect.gen(function*() {
        const cu = yield* CuDatabase
        let cursor: Cursor | undefined
        for (const row of yield* cu.rows(P, undefined, 100)) cursor = advance(cursor, row.position)
        assert.deepStrictEqual(yield* cu.rows(P, cursor, 100), [])
        saveEvaluation(db, evaluation(2, 2000, "5-minutes"))
        saveEvaluation(db, evaluation(3, 3000))
        const next = yield* cu.rows(P, cursor, 100)
        assert.deepStrictEqual(next.map((r) => r.id), [`${P},2000,2,5-minutes`, `${P},3000,3`])
      }).pipe(Effect.provide(CuSqlite.layer({ filename: dbUrl })))
    }))

  it.effect("a row whose output is not JSON comes back by its id, the rest as records", () =>
    Effect.gen(function*() {
      const { db, dbUrl } = makeCuDb()
      saveEvaluation(db, evaluation(1, 1000))
      db.prepare("UPDATE evaluations SET output = ? WHERE id = ?").run("{not json", `${P},1000,1`)
      saveEvaluation(db, evaluation(2, 2000))
      const rows = yield* readAll(P, 100).pipe(Effect.provide(CuSqlite.layer({ filename: dbUrl })))
      assert.deepStrictEqual(rows.map((r) => [r._tag, r.id]), [["BadOutput", `${P},1000,1`], ["Record", `${P},2000,2`]])
    }))

  it.effect("never writes, and neither blocks nor waits on a writer holding a write transaction open", () =>
    Effect.gen(function*() {
      const { db, file } = makeCuDb()
      saveEvaluation(db, evaluation(1, 1000))
      const before = fs.readFileSync(file)
      yield* Effect.gen(function*() {
        const cu = yield* CuDatabase
        // The CU's writer mid-transaction: our reads see what was committed, at once.
        db.prepare("BEGIN IMMEDIATE").run()
        saveEvaluation(db, evaluation(2, 2000))
        assert.deepStrictEqual((yield* readAll(P, 100)).map((r) => r.id), [`${P},1000,1`])
        // And the writer is not held back by our open connection: it commits.
        db.prepare("COMMIT").run()
        assert.deepStrictEqual((yield* readAll(P, 100)).map((r) => r.id), [`${P},1000,1`, `${P},2000,2`])
        saveEvaluation(db, evaluation(3, 3000))
        assert.strictEqual(yield* cu.count, 3)
      }).pipe(Effect.provide(CuSqlite.layer({ filename: file })))
      // The main file holds no write of ours (the CU's own went to its WAL).
      assert.isTrue(fs.readFileSync(file).equals(before))
      assert.isFalse(fs.existsSync(`${file}-journal`))
    }))

  it.effect("a lock held past the timeout (a database outside WAL mode, its writer holding it), and a table dropped mid-run, each said in one line", () =>
    Effect.gen(function*() {
      const { db, file } = makeCuDb()
      saveEvaluation(db, evaluation(1, 1000))
      db.pragma("journal_mode = DELETE")
      yield* Effect.gen(function*() {
        const cu = yield* CuDatabase
        assert.deepStrictEqual((yield* readAll(P, 100)).map((r) => r.id), [`${P},1000,1`])
        db.prepare("BEGIN EXCLUSIVE").run()
        const locked = yield* Effect.flip(cu.rows(P, undefined, 100))
        db.prepare("COMMIT").run()
        assert.strictEqual(
          locked.message,
          `EVENT_VACUUM_CU_DB: ${file} kept a read waiting past 200ms (a lock held on the evaluations table?): database is locked`
        )
        assert.deepStrictEqual((yield* readAll(P, 100)).map((r) => r.id), [`${P},1000,1`])
        db.prepare("DROP TABLE evaluations").run()
        const gone = yield* Effect.flip(cu.processes(undefined, 10))
        assert.strictEqual(gone.message, `EVENT_VACUUM_CU_DB: the evaluations table of ${file} is gone: it was dropped while it was followed`)
      }).pipe(Effect.provide(CuSqlite.layer({ filename: file, timeout: "200 millis" })))
    }))

  it.effect("refuses what is not a CU's database, naming the setting", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-notcu-"))
      const missing = yield* Effect.flip(CuSqlite.make({ filename: path.join(dir, "nope") }).pipe(Effect.scoped))
      assert.strictEqual(missing.message, `EVENT_VACUUM_CU_DB: no CU database at ${path.join(dir, "nope")} (nor ${path.join(dir, "nope")}.sqlite)`)
      const other = path.join(dir, "other.sqlite")
      const odb = new Database(other)
      odb.prepare("CREATE TABLE things (id TEXT)").run()
      odb.close()
      const notCu = yield* Effect.flip(CuSqlite.make({ filename: other }).pipe(Effect.scoped))
      assert.include(notCu.message, "is not a CU's database: it has no evaluations table")
      const text = path.join(dir, "text.sqlite")
      fs.writeFileSync(text, "hello, not a database at all, but long enough to be read as one".repeat(20))
      const garbage = yield* Effect.flip(CuSqlite.make({ filename: text }).pipe(Effect.scoped))
      assert.match(garbage.message, /^EVENT_VACUUM_CU_DB: cannot (open|read) /)
    }))
})
