/**
 * The CU's SQLite database, read-only: the file the CU names `<DB_URL>.sqlite`
 * (WAL mode). Opened read-only with no journal change, it never writes and
 * takes no write lock; each read is one short statement (WAL readers never
 * block the CU's writer, and no read stays open to hold a checkpoint back).
 *
 * One trace it cannot avoid: a CU that is stopped has removed its `-wal` and
 * `-shm`, and SQLite opens a WAL database read-only only with both, so it
 * makes them (an empty `-wal`), and a read-only connection cannot remove
 * them; the CU uses them when it starts. Opening the file `immutable` would
 * make none, but reads a file the CU may be writing as if it could not
 * change (and better-sqlite3 takes URI names only process-wide).
 *
 * @since 0.3.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import type { Cursor, RawRow } from "../CuDatabase.js"
import { CuDatabase, CuDatabaseError } from "../CuDatabase.js"
import * as Sql from "./Sql.js"

/**
 * @since 0.3.0
 */
export interface Options {
  /** The CU's `DB_URL` as it has it (the CU appends `.sqlite`), or the file's own path. */
  readonly filename: string
  /** The setting it came from, for messages: `EVENT_VACUUM_CU_DB` unless given. */
  readonly setting?: string | undefined
  /** How long a read waits on the CU's lock (a database not in WAL mode, mid-commit): 10 seconds unless given. */
  readonly timeout?: Duration.DurationInput | undefined
}

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
 * The key of a file's cursors: its real path, the same however the file is
 * named (relative, absolute, through a link). `file` is one `resolveFile`
 * found, so it exists.
 *
 * @since 0.3.0
 */
export const keyOf = (file: string): string => fs.realpathSync(file)

/**
 * Where earlier versions kept a file's cursors: under the file as it was
 * named (the name now given, and that name made absolute).
 *
 * @since 0.3.0
 */
export const formerKeysOf = (file: string): ReadonlyArray<string> => {
  const key = keyOf(file)
  return [...new Set([file, path.resolve(file)])].filter((k) => k !== key)
}

/** SQLite's answer when a lock stayed held past the busy timeout. */
const isBusy = (error: SqlError): boolean => {
  const code = (error.cause as { code?: unknown } | undefined)?.code
  return typeof code === "string" && code.startsWith("SQLITE_BUSY")
}

/**
 * @since 0.3.0
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const setting = options.setting ?? "EVENT_VACUUM_CU_DB"
    const timeout = options.timeout ?? "10 seconds"
    const file = resolveFile(options.filename)
    if (file === undefined) {
      return yield* new CuDatabaseError({
        description: `${setting}: no CU database at ${options.filename} (nor ${options.filename}.sqlite)`
      })
    }
    const sql = yield* SqliteClient.make({ filename: file, readonly: true, disableWAL: true }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.catchAllDefect((cause) =>
        new CuDatabaseError({
          description: `${setting}: cannot open ${file}: ${cause instanceof Error ? cause.message : String(cause)}`,
          cause
        })
      )
    )
    // The connection's own wait on a lock (no write: a pragma of the connection, not the file).
    yield* sql.unsafe(`PRAGMA busy_timeout = ${Math.round(Duration.toMillis(Duration.decode(timeout)))}`).pipe(
      Effect.mapError((cause) => new CuDatabaseError({ description: `${setting}: cannot open ${file}: ${cause.message}`, cause }))
    )

    const columns = sql<{ name: string }>`SELECT name FROM pragma_table_info('evaluations')`.pipe(
      Effect.map((rows) => rows.map((r) => r.name))
    )
    const nextId = (from: string) =>
      sql<{ id: string }>`SELECT id FROM evaluations WHERE id > ${from} ORDER BY id LIMIT 1`.pipe(
        Effect.map((rows) => rows[0]?.id)
      )
    // What the cursor has read at its timestamp is left out by the database, so that a page
    // always moves on (inOrder holds the same, exactly, for ordinates beyond an integer).
    const after_ = (after: Cursor | undefined) =>
      after === undefined
        ? sql.literal("1")
        : sql`(timestamp > ${after.timestamp} OR CAST(ordinate AS INTEGER) > ${Number(after.ordinate)}
            OR (CAST(ordinate AS INTEGER) = ${Number(after.ordinate)} AND coalesce(cron, '') NOT IN ${sql.in(after.crons)}))`
    const nthTimestamp: Sql.Dialect["nthTimestamp"] = ({ from, to }, after, n) =>
      sql<{ timestamp: number }>`SELECT timestamp FROM evaluations WHERE id > ${from} AND id <= ${to} AND ${after_(after)}
        ORDER BY id LIMIT 1 OFFSET ${n - 1}`.pipe(Effect.map((rows) => (rows[0] === undefined ? undefined : Number(rows[0].timestamp))))
    const page: Sql.Dialect["page"] = (_processId, { from, to }, after, limit) =>
      sql<RawRow>`SELECT id, processId, messageId, ordinate, cron, timestamp, blockHeight, output
        FROM evaluations WHERE id > ${from} AND id <= ${to} AND ${after_(after)}
        ORDER BY timestamp, CAST(ordinate AS INTEGER), cron IS NOT NULL, cron LIMIT ${limit}`
    const count = sql<{ n: number }>`SELECT count(*) AS n FROM evaluations`.pipe(Effect.map((r) => Number(r[0]?.n ?? 0)))

    return yield* Sql.make({ columns, nextId, nthTimestamp, page, count, timedOut: isBusy }, {
      source: file,
      key: keyOf(file),
      formerKeys: formerKeysOf(file),
      setting,
      timeout
    })
  })

/**
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<CuDatabase, CuDatabaseError> => Layer.scoped(CuDatabase, make(options))
