/**
 * A CU's SQLite database, laid out as the ao CU lays it out
 * (servers/cu/src/effects/sqlite.js: the same DDL, WAL mode), and its writes:
 * one row an evaluation, `INSERT OR IGNORE`, the id `processId,timestamp,ordinate[,cron]`,
 * the output as JSON text without `Memory`.
 */
import Database from "better-sqlite3"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"

/** The CU's evaluations table, as it creates it. */
export const EVALUATIONS_DDL = `CREATE TABLE IF NOT EXISTS evaluations(
    id TEXT PRIMARY KEY,
    processId TEXT,
    messageId TEXT,
    deepHash TEXT,
    nonce INTEGER,
    epoch INTEGER,
    timestamp INTEGER,
    ordinate TEXT,
    blockHeight INTEGER,
    cron TEXT,
    output JSONB,
    evaluatedAt INTEGER
  ) WITHOUT ROWID;`

/** A new CU database: `<dir>/ao-cache.sqlite`; answers the DB_URL the CU would have (without `.sqlite`). */
export const makeCuDb = (): { readonly dbUrl: string; readonly file: string; readonly db: Database.Database } => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-cu-"))
  const dbUrl = path.join(dir, "ao-cache")
  const file = `${dbUrl}.sqlite`
  const db = new Database(file)
  db.pragma("encoding = \"UTF-8\"")
  db.pragma("journal_mode = WAL")
  db.prepare(EVALUATIONS_DDL).run()
  return { dbUrl, file, db }
}

/** The id the CU gives an evaluation: `processId,timestamp,ordinate[,cron]`. */
export const evaluationId = (r: Record<string, any>): string =>
  [r.processId, r.timestamp, r.ordinate, r.cron].filter((x) => x !== null && x !== undefined).join(",")

/** An evaluation record (the example's shape) as the CU saves it: its row, column by column. */
export const evaluationRow = (r: Record<string, any>, evaluatedAt = Date.now()) => {
  const { Memory: _memory, ...output } = r.output ?? {}
  return {
    id: evaluationId(r),
    processId: r.processId as string,
    messageId: (r.messageId ?? null) as string | null,
    deepHash: null,
    nonce: Number(r.ordinate),
    epoch: 0,
    timestamp: r.timestamp as number,
    ordinate: String(r.ordinate),
    blockHeight: (r.blockHeight ?? null) as number | null,
    cron: (r.cron ?? null) as string | null,
    evaluatedAt,
    output: JSON.stringify(output)
  }
}

/** An evaluation record (the example's shape) as the CU saves it. */
export const saveEvaluation = (db: Database.Database, r: Record<string, any>, evaluatedAt = Date.now()): void => {
  const row = evaluationRow(r, evaluatedAt)
  db.prepare(
    `INSERT OR IGNORE INTO evaluations (id, processId, messageId, deepHash, nonce, epoch, timestamp, ordinate, blockHeight, cron, evaluatedAt, output)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
  ).run(
    row.id,
    row.processId,
    row.messageId,
    row.deepHash,
    row.nonce,
    row.epoch,
    row.timestamp,
    row.ordinate,
    row.blockHeight,
    row.cron,
    row.evaluatedAt,
    row.output
  )
}
