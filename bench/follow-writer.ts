/**
 * The CU's writer for the follow bench's live case, in a process of its own
 * (as the CU is): `tsx bench/follow-writer.ts <SQLite|PostgreSQL> <db> <rows/s> <copies>`
 * inserts the example's records, `copies` times moved to new positions, into
 * the CU's evaluations table (the CU's DDL, laid out by the bench) at a
 * steady rate: every 10 ms the rows due by then, in one transaction (the
 * CU's `INSERT OR IGNORE`, its row layout). After each commit it prints
 * `<rows inserted so far> <Date.now()>` on stdout, then `done`.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import Database from "better-sqlite3"
import { Effect, ManagedRuntime, Redacted } from "effect"
import { fileURLToPath } from "node:url"
import { evaluationRow, saveEvaluation } from "../test/support/cu.js"
import { exampleRecords } from "./corpus.js"

/** The live rows, in the order the CU writes them: the example's stored records, copy after copy. */
export const liveRecords = (copies: number): Array<Record<string, unknown>> => {
  const base = (exampleRecords() as Array<Record<string, unknown>>).filter((r) => r.readOnly !== true)
  const out: Array<Record<string, unknown>> = []
  for (let copy = 0; copy < copies; copy++) {
    for (const r of base) out.push({ ...r, ordinate: String(Number(r.ordinate) + copy * 1000), timestamp: (r.timestamp as number) + copy * 1e7 })
  }
  return out
}

const main = async (engine: string, db: string, rate: number, copies: number): Promise<void> => {
  const rows = liveRecords(copies)
  let insert: (batch: ReadonlyArray<Record<string, unknown>>) => Promise<void>
  let close: () => Promise<void>
  if (engine === "SQLite") {
    const sqlite = new Database(db)
    sqlite.pragma("journal_mode = WAL")
    const save = sqlite.transaction((batch: ReadonlyArray<Record<string, unknown>>) => batch.forEach((r) => saveEvaluation(sqlite, r)))
    insert = async (batch) => save(batch)
    close = async () => void sqlite.close()
  } else {
    const runtime = ManagedRuntime.make(PgClient.layer({ url: Redacted.make(db) }))
    insert = (batch) =>
      runtime.runPromise(Effect.flatMap(PgClient.PgClient, (sql) =>
        Effect.asVoid(sql`INSERT INTO evaluations ${sql.insert(batch.map((r) => evaluationRow(r)))} ON CONFLICT DO NOTHING`)))
    close = () => runtime.dispose()
  }
  const start = Date.now()
  let done = 0
  while (done < rows.length) {
    const due = Math.min(rows.length, Math.floor(((Date.now() - start) / 1000) * rate))
    if (due > done) {
      await insert(rows.slice(done, due))
      done = due
      process.stdout.write(`${done} ${Date.now()}\n`)
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  await close()
  process.stdout.write("done\n")
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [engine, db, rate, copies] = process.argv.slice(2)
  main(engine!, db!, Number(rate), Number(copies)).catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
