/**
 * The CU's evaluations table over any `SqlClient`: what reading it means
 * (the table checked, processes found by skipping from one id range to the
 * next, a process's rows in its order, the errors said in one line), with
 * each engine's own statements given by its module (`Sqlite`, `Pg`).
 *
 * @since 0.3.0
 */
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect } from "effect"
import type { Cursor, RawRow } from "../CuDatabase.js"
import { CuDatabase, CuDatabaseError, fromRaw, inOrder, MAX_CHAR, range } from "../CuDatabase.js"

/** The columns the vacuum reads; a table without them is not a CU's. */
export const COLUMNS = ["id", "processId", "messageId", "ordinate", "cron", "timestamp", "blockHeight", "output"] as const

/**
 * One engine's statements.
 *
 * @since 0.3.0
 */
export interface Dialect {
  /** The evaluations table's column names; none when there is no such table. */
  readonly columns: Effect.Effect<ReadonlyArray<string>, SqlError>
  /** The first id after `from` in the id's order, if any. */
  readonly nextId: (from: string) => Effect.Effect<string | undefined, SqlError>
  /**
   * The timestamp of the `n`th row after the cursor in the id's order (the
   * index's: no sort), if there are that many: the first `n` rows in the
   * process's order are all at or before it.
   */
  readonly nthTimestamp: (
    range: { readonly from: string; readonly to: string },
    after: Cursor | undefined,
    n: number
  ) => Effect.Effect<number | undefined, SqlError>
  /** A process's rows in its id range, after the cursor, in its order, at most `limit`. */
  readonly page: (
    processId: string,
    range: { readonly from: string; readonly to: string },
    after: Cursor | undefined,
    limit: number
  ) => Effect.Effect<ReadonlyArray<RawRow>, SqlError>
  /** How many rows, or an estimate where counting would scan a large table. */
  readonly count: Effect.Effect<number, SqlError>
  /** Whether the error is a read that waited past the timeout (a lock held, a slow statement). */
  readonly timedOut: (error: SqlError) => boolean
}

/**
 * @since 0.3.0
 */
export interface Options {
  /** Where it reads, for messages: the file, or the URL without its password. */
  readonly source: string
  /** The database's identity, the key of its cursors (see `CuDatabase`'s `key`). */
  readonly key: string
  /** Where earlier versions kept its cursors. */
  readonly formerKeys: ReadonlyArray<string>
  /** The setting it came from, for messages. */
  readonly setting: string
  /** How long one read may wait, for messages. */
  readonly timeout: Duration.DurationInput
}

const causeText = (error: SqlError): string => {
  const cause = error.cause
  return cause instanceof Error && cause.message !== "" ? cause.message : error.message
}

/** What a column list lacks to be a CU's evaluations table: the table, some columns, or nothing. */
const lacking = (columns: ReadonlyArray<string>): "table" | ReadonlyArray<string> =>
  columns.length === 0 ? "table" : COLUMNS.filter((c) => !columns.includes(c))

/**
 * The CU's database read through `dialect`: checked to be a CU's first, each
 * later failure said in one line naming the setting (a table that changed
 * while it was followed, a read that waited past the timeout).
 *
 * @since 0.3.0
 */
export const make = (dialect: Dialect, options: Options): Effect.Effect<CuDatabase["Type"], CuDatabaseError> =>
  Effect.gen(function*() {
    const { setting, source } = options
    const cannot = (what: string) => (error: SqlError) =>
      new CuDatabaseError({ description: `${setting}: cannot ${what} ${source}: ${causeText(error)}`, cause: error })
    const lacks = lacking(yield* Effect.mapError(dialect.columns, cannot("read")))
    if (lacks === "table") {
      return yield* new CuDatabaseError({ description: `${setting}: ${source} is not a CU's database: it has no evaluations table` })
    }
    if (lacks.length > 0) {
      return yield* new CuDatabaseError({
        description: `${setting}: the evaluations table of ${source} lacks ${lacks.join(", ")}: not a CU's, or a schema this vacuum does not know`
      })
    }

    // A read that fails: said as what changed (the table, mid-run), or as the wait, or as it is.
    const failed = (error: SqlError): Effect.Effect<never, CuDatabaseError> =>
      Effect.gen(function*() {
        if (dialect.timedOut(error)) {
          return yield* new CuDatabaseError({
            description: `${setting}: ${source} kept a read waiting past ${Duration.format(Duration.decode(options.timeout))} ` +
              `(a lock held on the evaluations table?): ${causeText(error)}`,
            cause: error
          })
        }
        const now = yield* Effect.either(dialect.columns)
        const lacks = now._tag === "Right" ? lacking(now.right) : []
        return yield* new CuDatabaseError({
          description: lacks === "table"
            ? `${setting}: the evaluations table of ${source} is gone: it was dropped while it was followed`
            : lacks.length > 0
            ? `${setting}: the evaluations table of ${source} changed while it was followed: it lacks ${lacks.join(", ")} now`
            : cannot("read")(error).description,
          cause: error
        })
      })

    const processes = (after: string | undefined, limit: number) =>
      Effect.gen(function*() {
        // Skip from one process's id range to the next: an index seek each, never a scan.
        const found: Array<string> = []
        let from = after === undefined ? "" : `${after},${MAX_CHAR}`
        while (found.length < limit) {
          const id = yield* dialect.nextId(from)
          if (id === undefined) break
          const comma = id.indexOf(",")
          const processId = comma === -1 ? id : id.slice(0, comma)
          found.push(processId)
          from = `${processId},${MAX_CHAR}`
        }
        return found
      }).pipe(Effect.catchAll(failed))

    // A page is a bounded read: the ids up to the timestamp its last row can have (found in the
    // index's order), sorted into the process's order, rather than a sort of every row left.
    const rows = (processId: string, after: Cursor | undefined, limit: number) =>
      Effect.gen(function*() {
        const all = range(processId, after)
        const last = yield* dialect.nthTimestamp(all, after, limit)
        return yield* dialect.page(processId, last === undefined ? all : { from: all.from, to: `${processId},${last},${MAX_CHAR}` }, after, limit)
      }).pipe(
        Effect.map((raw) => inOrder(raw.map(fromRaw), after)),
        Effect.catchAll(failed)
      )

    return CuDatabase.of({ source, key: options.key, formerKeys: options.formerKeys, processes, rows, count: Effect.catchAll(dialect.count, failed) })
  })
