/**
 * What only SQLite has (test/CuDatabase.test.ts reads both engines alike):
 * a file opened read-only beside the CU's writer, a database outside WAL
 * mode whose writer holds its lock, files that are not a CU's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { CuDatabase } from "../../src/CuDatabase.js"
import * as CuSqlite from "../../src/CuDatabase/Sqlite.js"
import Database from "better-sqlite3"
import { makeCuDb, saveEvaluation } from "../support/cu.js"
import { evaluationAt, readAll } from "../support/engines.js"

const P = "PROC_A"
const evaluation = evaluationAt


describe("CuDatabase/Sqlite", () => {
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

  it.effect("a CU stopped, its -wal and -shm gone: the file is read as it is; SQLite makes an empty -wal and a -shm to read it, which the CU then uses", () =>
    Effect.gen(function*() {
      const { db, file } = makeCuDb()
      saveEvaluation(db, evaluation(1, 1000))
      // The CU stops: its last connection checkpoints the WAL and removes both files.
      db.close()
      assert.deepStrictEqual([fs.existsSync(`${file}-wal`), fs.existsSync(`${file}-shm`)], [false, false])
      const before = fs.readFileSync(file)
      assert.deepStrictEqual((yield* readAll(P, 100).pipe(Effect.provide(CuSqlite.layer({ filename: file })))).map((r) => r.id), [`${P},1000,1`])
      // Nothing written: the file as it was; a read-only connection cannot open a WAL database
      // without these two (SQLite refuses where they cannot be made), and cannot remove them.
      assert.isTrue(fs.readFileSync(file).equals(before))
      assert.strictEqual(fs.statSync(`${file}-wal`).size, 0)
      assert.isTrue(fs.existsSync(`${file}-shm`))
      // The CU starts again on them, writes, and its last close removes them.
      const again = new Database(file)
      again.pragma("journal_mode = WAL")
      saveEvaluation(again, evaluation(2, 2000))
      again.close()
      assert.deepStrictEqual([fs.existsSync(`${file}-wal`), fs.existsSync(`${file}-shm`)], [false, false])
      assert.strictEqual((yield* readAll(P, 100).pipe(Effect.provide(CuSqlite.layer({ filename: file })))).length, 2)
    }))

  it.effect("a lock held past the timeout (a database outside WAL mode, its writer holding it) is said in one line, and the next read goes on", () =>
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
