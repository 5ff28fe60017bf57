/**
 * The two databases a CU keeps its evaluations in, behind one face, so that
 * a test of following runs against each: SQLite (a file, WAL mode) and
 * PostgreSQL (a database of the test's own).
 */
import { type Duration, Effect, type Layer } from "effect"
import type { CuDatabaseError, Cursor, Row } from "../../src/CuDatabase.js"
import { advance, CuDatabase, isPostgresUrl } from "../../src/CuDatabase.js"
import * as CuPg from "../../src/CuDatabase/Pg.js"
import * as CuSqlite from "../../src/CuDatabase/Sqlite.js"
import { evaluationId, makeCuDb, saveEvaluation } from "./cu.js"
import { makePgCuDb } from "./cuPg.js"

export interface CuDbUnderTest {
  /** The CU's DB_URL. */
  readonly dbUrl: string
  /** Where the follower says it reads: the file, or the URL without its password. */
  readonly source: string
  /** A statement on the CU's database, as its operator would run it. */
  readonly exec: (statement: string) => Promise<void>
  /** The records saved as the CU saves them, in one transaction. */
  readonly save: (records: ReadonlyArray<Record<string, any>>) => Promise<void>
  /** The records saved in one write transaction held open `ms` before it commits. */
  readonly saveHolding: (records: ReadonlyArray<Record<string, any>>, ms: number) => Promise<void>
  /** The saved row of this record given an output that is not JSON. */
  readonly breakOutput: (record: Record<string, any>) => Promise<void>
  readonly close: () => Promise<void>
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export const engines: ReadonlyArray<{ readonly engine: string; readonly make: () => Promise<CuDbUnderTest> }> = [
  {
    engine: "SQLite",
    make: async () => {
      const { db, dbUrl, file } = makeCuDb()
      return {
        dbUrl,
        source: file,
        exec: async (statement) => void db.exec(statement),
        save: async (records) => db.transaction(() => records.forEach((r) => saveEvaluation(db, r)))(),
        saveHolding: async (records, ms) => {
          db.prepare("BEGIN IMMEDIATE").run()
          for (const r of records) saveEvaluation(db, r)
          await sleep(ms)
          db.prepare("COMMIT").run()
        },
        breakOutput: async (r) => void db.prepare("UPDATE evaluations SET output = 'nope' WHERE id = ?").run(evaluationId(r)),
        close: async () => void db.close()
      }
    }
  },
  {
    engine: "PostgreSQL",
    make: async () => {
      const db = await makePgCuDb()
      return {
        dbUrl: db.dbUrl,
        source: db.dbUrl,
        exec: (statement) => db.run((sql) => Effect.asVoid(sql.unsafe(statement))),
        save: db.save,
        saveHolding: db.saveHolding,
        breakOutput: (r) => db.run((sql) => Effect.asVoid(sql`UPDATE evaluations SET output = 'nope' WHERE id = ${evaluationId(r)}`)),
        close: db.close
      }
    }
  }
]

/** The follower's reader of a DB_URL, as the CLI picks it. */
export const cuLayer = (dbUrl: string, timeout?: Duration.DurationInput): Layer.Layer<CuDatabase, CuDatabaseError> =>
  isPostgresUrl(dbUrl) ? CuPg.layer({ url: dbUrl, timeout }) : CuSqlite.layer({ filename: dbUrl, timeout })

/** A small evaluation of process `processId` (PROC_A unless given) at a position, as the CU saves one. */
export const evaluationAt = (ordinate: number, timestamp: number, cron: string | null = null, processId = "PROC_A") => ({
  processId,
  messageId: `M${ordinate}`,
  ordinate: String(ordinate),
  cron,
  timestamp,
  blockHeight: 1,
  output: { Output: { data: "" }, Error: null, GasUsed: 1, Memory: "not stored" }
})

/** Every row of a process, a page of `limit` at a time, moving the cursor as the follower does. */
export const readAll = (processId: string, limit: number) =>
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
