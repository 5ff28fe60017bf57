/**
 * The CU's SQLite database, read-only: the file the CU names `<DB_URL>.sqlite`
 * (WAL mode). Opened read-only with no journal change, it never writes and
 * takes no write lock; each read is one short statement (WAL readers never
 * block the CU's writer, and no read stays open to hold a checkpoint back).
 *
 * @since 0.3.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import type { Cursor, RawRow } from "../CuDatabase.js"
import { CuDatabase, CuDatabaseError, fromRaw, inOrder, MAX_CHAR, range } from "../CuDatabase.js"

/**
 * @since 0.3.0
 */
export interface Options {
  /** The CU's `DB_URL` as it has it (the CU appends `.sqlite`), or the file's own path. */
  readonly filename: string
  /** The setting it came from, for messages: `EVENT_VACUUM_CU_DB` unless given. */
  readonly setting?: string | undefined
}

/** The columns the vacuum reads; a table without them is not a CU's. */
const COLUMNS = ["id", "processId", "messageId", "ordinate", "cron", "timestamp", "blockHeight", "output"] as const

/**
 * The file a CU's `DB_URL` names: the path itself when it is a file, else
 * the path with `.sqlite` (what the CU opens); undefined when neither is.
 *
 * @since 0.3.0
 */
export const resolveFile = (name: string): string | undefined => {
  for (const candidate of [name, `${name}.sqlite`]) {
    try {
      if (fs.statSync(candidate).isFile()) return candidate
    } catch {
      // not this one
    }
  }
  return undefined
}

/**
 * @since 0.3.0
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const setting = options.setting ?? "EVENT_VACUUM_CU_DB"
    const file = resolveFile(options.filename)
    if (file === undefined) {
      return yield* new CuDatabaseError({
        description: `${setting}: no CU database at ${options.filename} (nor ${options.filename}.sqlite)`
      })
    }
    const fail = (what: string) => (cause: unknown) =>
      new CuDatabaseError({
        description: `${setting}: ${what} ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
    const sql = yield* SqliteClient.make({ filename: file, readonly: true, disableWAL: true }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.catchAllDefect((cause) => Effect.fail(fail("cannot open")(cause)))
    )
    // A CU's database: the evaluations table, with the columns the CU gives it.
    const columns = yield* sql<{ name: string }>`SELECT name FROM pragma_table_info('evaluations')`.pipe(
      Effect.mapError(fail("cannot read"))
    )
    const missing = COLUMNS.filter((c) => !columns.some((x) => x.name === c))
    if (columns.length === 0) {
      return yield* new CuDatabaseError({ description: `${setting}: ${file} is not a CU's database: it has no evaluations table` })
    }
    if (missing.length > 0) {
      return yield* new CuDatabaseError({
        description: `${setting}: the evaluations table of ${file} lacks ${missing.join(", ")}: not a CU's, or a schema this vacuum does not know`
      })
    }

    const read = fail("cannot read")
    const processes = (after: string | undefined, limit: number) =>
      Effect.gen(function*() {
        // Skip from one process's id range to the next: an index seek each, never a scan.
        const found: Array<string> = []
        let from = after === undefined ? "" : `${after},${MAX_CHAR}`
        while (found.length < limit) {
          const next = yield* sql<{ id: string }>`SELECT id FROM evaluations WHERE id > ${from} ORDER BY id LIMIT 1`
          const id = next[0]?.id
          if (id === undefined) break
          const processId = id.slice(0, id.indexOf(",") === -1 ? id.length : id.indexOf(","))
          found.push(processId)
          from = `${processId},${MAX_CHAR}`
        }
        return found
      }).pipe(Effect.mapError(read))

    const rows = (processId: string, after: Cursor | undefined, limit: number) => {
      const { from, to } = range(processId, after)
      // What the cursor has read at its timestamp is left out by the database, so that a page
      // always moves on (inOrder holds the same, exactly, for ordinates beyond an integer).
      const query = after === undefined
        ? sql<RawRow>`SELECT id, processId, messageId, ordinate, cron, timestamp, blockHeight, output
            FROM evaluations WHERE id > ${from} AND id <= ${to}
            ORDER BY timestamp, CAST(ordinate AS INTEGER), cron IS NOT NULL, cron LIMIT ${limit}`
        : sql<RawRow>`SELECT id, processId, messageId, ordinate, cron, timestamp, blockHeight, output
            FROM evaluations WHERE id > ${from} AND id <= ${to}
              AND (timestamp > ${after.timestamp} OR CAST(ordinate AS INTEGER) > ${Number(after.ordinate)}
                OR (CAST(ordinate AS INTEGER) = ${Number(after.ordinate)} AND coalesce(cron, '') NOT IN ${sql.in(after.crons)}))
            ORDER BY timestamp, CAST(ordinate AS INTEGER), cron IS NOT NULL, cron LIMIT ${limit}`
      return query.pipe(
        Effect.map((raw) => inOrder(raw.map(fromRaw), after)),
        Effect.mapError(read)
      )
    }

    const count = sql<{ n: number }>`SELECT count(*) AS n FROM evaluations`.pipe(
      Effect.map((r) => Number(r[0]?.n ?? 0)),
      Effect.mapError(read)
    )

    return CuDatabase.of({ source: file, processes, rows, count })
  })

/**
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<CuDatabase, CuDatabaseError> => Layer.scoped(CuDatabase, make(options))
