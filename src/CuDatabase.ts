/**
 * The CU's own record of its evaluations: the `evaluations` table of its
 * `DB_URL` (SQLite by default, PostgreSQL for a `postgres://` URL), read and
 * never written. The ao CU saves every evaluation it makes there, output
 * included, so a vacuum that follows the table runs beside an unmodified CU
 * and can also send what the CU evaluated before the vacuum existed.
 *
 * Reads follow the CU's own queries: a process's rows are the primary key's
 * range `processId,` … `processId,\u{10FFFF}` (the id is
 * `processId,timestamp,ordinate[,cron]`), so every read is an index range,
 * never a scan of the table; the processes are found by skipping from one
 * range to the next. Rows come in each process's order: timestamp, then the
 * ordinate as a number (the id's text order puts `10` before `9`), then the
 * cron, the evaluation without one first.
 *
 * @since 0.3.0
 */
import { Context, Data, type Effect } from "effect"
import type { FollowCursor } from "./DedupeStore.js"
import type { Position } from "./Position.js"
import { compareOrdinates } from "./Position.js"

/**
 * The highest character, as the CU bounds a process's id range with.
 *
 * @since 0.3.0
 */
export const MAX_CHAR = "\u{10FFFF}"

/**
 * Whether a `DB_URL` names a PostgreSQL database (as the CU takes it), not
 * a SQLite file.
 *
 * @since 0.3.0
 */
export const isPostgresUrl = (dbUrl: string): boolean => /^postgres(ql)?:\/\//i.test(dbUrl)

/**
 * One row of the CU's evaluations table, as an evaluation record the vacuum
 * takes, or the id of a row whose output is not JSON.
 *
 * @since 0.3.0
 */
export type Row =
  | { readonly _tag: "Record"; readonly id: string; readonly position: Position; readonly record: CuRecord }
  | { readonly _tag: "BadOutput"; readonly id: string; readonly position: Position; readonly reason: string }

/**
 * An evaluation record as the CU saved it: what the vacuum's `vacuum(e)`
 * takes. The CU stores no dry-runs, so none is read-only.
 *
 * @since 0.3.0
 */
export interface CuRecord {
  readonly processId: string
  readonly messageId: string | null
  readonly ordinate: string
  readonly cron: string | null
  readonly timestamp: number
  readonly blockHeight: number | null
  readonly readOnly: false
  readonly output: unknown
}

/**
 * What cannot be read, in one line naming the setting (`EVENT_VACUUM_CU_DB`)
 * and, for a database, never its password.
 *
 * @since 0.3.0
 */
export class CuDatabaseError extends Data.TaggedError("CuDatabaseError")<{
  readonly description: string
  readonly cause?: unknown
}> {
  override get message(): string {
    return this.description
  }
}

/**
 * The CU's evaluations, read.
 *
 * @since 0.3.0
 */
export class CuDatabase extends Context.Tag("ao-event-vacuum/CuDatabase")<CuDatabase, {
  /** Where it reads, for messages: the file as given, or the URL without its password. */
  readonly source: string
  /**
   * The database's identity, the key of its cursors: the same however it is
   * spelled (the SQLite file's real path; PostgreSQL's host:port/database).
   */
  readonly key: string
  /** Keys earlier versions kept this database's cursors under, as it is spelled now: read where `key` has none. */
  readonly formerKeys: ReadonlyArray<string>
  /** Process ids after `after` (all, from the first, when undefined), in id order, at most `limit`. */
  readonly processes: (after: string | undefined, limit: number) => Effect.Effect<ReadonlyArray<string>, CuDatabaseError>
  /**
   * A process's rows after `after` (from its first when undefined), in its
   * order, at most `limit`. A row at `after`'s own timestamp and ordinate is
   * left out when `after` lists its cron.
   */
  readonly rows: (
    processId: string,
    after: Cursor | undefined,
    limit: number
  ) => Effect.Effect<ReadonlyArray<Row>, CuDatabaseError>
  /** How many rows the table holds, for progress (an estimate where counting would scan). */
  readonly count: Effect.Effect<number, CuDatabaseError>
}>() {}

/**
 * Where reading a process stands (kept by the DedupeStore, moved once what
 * was read is stored).
 *
 * @since 0.3.0
 */
export type Cursor = FollowCursor

/**
 * The cursor once `position` is read.
 *
 * @since 0.3.0
 */
export const advance = (cursor: Cursor | undefined, position: Position): Cursor => {
  const cron = position.cron ?? ""
  if (cursor !== undefined && cursor.timestamp === position.timestamp && compareOrdinates(cursor.ordinate, position.ordinate) === 0) {
    return cursor.crons.includes(cron) ? cursor : { ...cursor, crons: [...cursor.crons, cron] }
  }
  return { timestamp: position.timestamp, ordinate: position.ordinate, crons: [cron] }
}

/**
 * The further of two cursors of one process (both stored: each moved only
 * once what it read was handed off), the crons read at one position joined.
 *
 * @since 0.3.0
 */
export const furthest = (a: Cursor, b: Cursor): Cursor => {
  if (a.timestamp !== b.timestamp) return a.timestamp > b.timestamp ? a : b
  const byOrdinate = compareOrdinates(a.ordinate, b.ordinate)
  if (byOrdinate !== 0) return byOrdinate > 0 ? a : b
  const more = b.crons.filter((c) => !a.crons.includes(c))
  return more.length === 0 ? a : { ...a, crons: [...a.crons, ...more] }
}

/**
 * Whether `position` is after the cursor.
 *
 * @since 0.3.0
 */
export const isAfter = (cursor: Cursor | undefined, position: Position): boolean => {
  if (cursor === undefined) return true
  if (position.timestamp !== cursor.timestamp) return position.timestamp > cursor.timestamp
  const byOrdinate = compareOrdinates(position.ordinate, cursor.ordinate)
  return byOrdinate !== 0 ? byOrdinate > 0 : !cursor.crons.includes(position.cron ?? "")
}

/** A row as the drivers give it, the columns named as the CU names them. */
export interface RawRow {
  readonly id: string
  readonly processId: string
  readonly messageId: string | null
  readonly ordinate: string
  readonly cron: string | null
  readonly timestamp: number | string | bigint
  readonly blockHeight: number | string | bigint | null
  readonly output: string | null
}

const num = (v: number | string | bigint | null): number | null => (v === null ? null : Number(v))

/**
 * A raw row as a `Row`: its output parsed (the CU saves it as JSON text).
 *
 * @since 0.3.0
 */
export const fromRaw = (raw: RawRow): Row => {
  const timestamp = Number(raw.timestamp)
  const position: Position = { timestamp, ordinate: String(raw.ordinate), cron: raw.cron }
  let output: unknown
  try {
    output = raw.output === null ? null : JSON.parse(raw.output)
  } catch (error) {
    return { _tag: "BadOutput", id: raw.id, position, reason: `output is not JSON: ${error instanceof Error ? error.message : String(error)}` }
  }
  return {
    _tag: "Record",
    id: raw.id,
    position,
    record: {
      processId: raw.processId,
      messageId: raw.messageId,
      ordinate: String(raw.ordinate),
      cron: raw.cron,
      timestamp,
      blockHeight: num(raw.blockHeight),
      readOnly: false,
      output
    }
  }
}

/**
 * A process's rows in its order, and after the cursor: what a driver does
 * with the rows of its range query (ordered there too, where the database
 * can; this holds the order exact where it cannot, for ordinates beyond an
 * integer).
 *
 * @since 0.3.0
 */
export const inOrder = (rows: ReadonlyArray<Row>, after: Cursor | undefined): ReadonlyArray<Row> =>
  rows
    .filter((r) => isAfter(after, r.position))
    .sort((a, b) =>
      a.position.timestamp - b.position.timestamp ||
      compareOrdinates(a.position.ordinate, b.position.ordinate) ||
      (a.position.cron === null ? (b.position.cron === null ? 0 : -1) : b.position.cron === null ? 1 : a.position.cron < b.position.cron ? -1 : a.position.cron > b.position.cron ? 1 : 0)
    )

/**
 * The bounds of a process's rows from a cursor, as the CU writes them: the
 * id range (`processId,` or `processId,timestamp,` to `processId,\u{10FFFF}`).
 *
 * @since 0.3.0
 */
export const range = (processId: string, after: Cursor | undefined): { readonly from: string; readonly to: string } => ({
  from: after === undefined ? `${processId},` : `${processId},${after.timestamp},`,
  to: `${processId},${MAX_CHAR}`
})
