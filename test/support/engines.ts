/**
 * The two databases a CU keeps its evaluations in, behind one face, so that
 * a test of following runs against each: SQLite (a file, WAL mode) and
 * PostgreSQL (a database of the test's own).
 */
import { Effect, type Layer } from "effect"
import type { CuDatabase, CuDatabaseError } from "../../src/CuDatabase.js"
import { isPostgresUrl } from "../../src/CuDatabase.js"
import * as CuPg from "../../src/CuDatabase/Pg.js"
import * as CuSqlite from "../../src/CuDatabase/Sqlite.js"
import { evaluationId, makeCuDb, saveEvaluation } from "./cu.js"
import { makePgCuDb } from "./cuPg.js"

export interface CuDbUnderTest {
  /** The CU's DB_URL. */
  readonly dbUrl: string
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
      const { db, dbUrl } = makeCuDb()
      return {
        dbUrl,
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
        save: db.save,
        saveHolding: db.saveHolding,
        breakOutput: (r) => db.run((sql) => Effect.asVoid(sql`UPDATE evaluations SET output = 'nope' WHERE id = ${evaluationId(r)}`)),
        close: db.close
      }
    }
  }
]

/** The follower's reader of a DB_URL, as the CLI picks it. */
export const cuLayer = (dbUrl: string): Layer.Layer<CuDatabase, CuDatabaseError> =>
  isPostgresUrl(dbUrl) ? CuPg.layer({ url: dbUrl }) : CuSqlite.layer({ filename: dbUrl })
