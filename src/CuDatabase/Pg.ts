/**
 * The CU's PostgreSQL database, read-only: the `evaluations` table a CU
 * keeps when its `DB_URL` is a `postgres://` URL (its camelCase columns
 * quoted). The session is read-only (`default_transaction_read_only`), so it
 * cannot write; each read is one short statement on one connection, which
 * takes no lock a CU's insert waits on, and waits on a lock of its own (an
 * `ALTER TABLE`, a `VACUUM FULL`) no longer than the timeout.
 *
 * Reads are ranges of the primary key, as the CU's own are, where the id's
 * collation orders text by code point (`C`, `POSIX`, `C.UTF-8`: PostgreSQL's
 * usual container default); under any other the reads compare by code point
 * anyway, correct but scanning, and it says how to give them an index.
 *
 * @since 0.3.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, Layer, Redacted } from "effect"
import type { Cursor, RawRow } from "../CuDatabase.js"
import { CuDatabase, CuDatabaseError } from "../CuDatabase.js"
import * as Sql from "./Sql.js"

/**
 * @since 0.3.0
 */
export interface Options {
  /** The CU's `DB_URL`: `postgres://user:password@host:port/database`. */
  readonly url: string
  /** The setting it came from, for messages: `EVENT_VACUUM_CU_DB` unless given. */
  readonly setting?: string | undefined
  /** How long a read (or connecting) may wait: 10 seconds unless given. */
  readonly timeout?: Duration.DurationInput | undefined
}

/**
 * The URL as it may be shown: without its password or parameters. Earlier
 * versions kept the follower's cursors under it.
 *
 * @since 0.3.0
 */
export const sourceOf = (url: string): string => {
  try {
    const u = new URL(url)
    const user = u.username === "" ? "" : `${u.username}@`
    return `postgres://${user}${u.host}${u.pathname === "/" ? "" : u.pathname}`
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@]*@/, "//$1:***@").replace(/\?.*$/, "")
  }
}

/**
 * The key of a database's cursors: `postgres://host:port/database`, the
 * same however the URL is spelled (whoever connects, with or without a
 * password or the default port, the host in any case, `postgresql://`).
 * A URL that does not parse is its own key, without a password.
 *
 * @since 0.3.0
 */
export const keyOf = (url: string): string => {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return sourceOf(url)
  }
  // As node-postgres reads the URL: a host (or socket directory) in the query, the database
  // defaulting to the user's name.
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s)
    } catch {
      return s
    }
  }
  const host = (u.hostname !== "" ? decode(u.hostname) : u.searchParams.get("host") ?? "localhost").toLowerCase()
  const port = u.port !== "" ? u.port : u.searchParams.get("port") ?? "5432"
  const database = decode(u.pathname.replace(/^\//, "")) || decode(u.username)
  return `postgres://${host}:${Number(port)}/${database}`
}

/**
 * The URL the reads connect with: the CU's, its session read-only
 * (`default_transaction_read_only`) and its waits bounded (`lock_timeout`,
 * `statement_timeout`), any `options` it had kept.
 *
 * @since 0.3.0
 */
export const readOnlyUrl = (url: URL, timeoutMs: number): string => {
  const ours = `-c default_transaction_read_only=on -c lock_timeout=${timeoutMs} -c statement_timeout=${timeoutMs}`
  const given = url.searchParams.get("options")
  const out = new URL(url.href)
  out.searchParams.set("options", given === null ? ours : `${given} ${ours}`)
  return out.href
}

/** A driver's error in a few words (a refused connection's cause has no message of its own). */
const describe = (cause: unknown): string => {
  if (cause instanceof AggregateError && cause.errors.length > 0) return describe(cause.errors[0])
  const { code, message } = (cause ?? {}) as { code?: unknown; message?: unknown }
  const text = typeof message === "string" && message !== "" ? message : "failed"
  return typeof code === "string" && !text.includes(code) && /^E[A-Z]+$/.test(code) ? `${text} (${code})` : text
}

/** A collation that orders text by code point, as the id's range reads need. */
const BYTE_ORDER = /^(C|POSIX|C\.UTF-?8|ucs_basic)$/i

/** PostgreSQL's answers for a lock not granted in time and a statement past its timeout. */
const timedOut = (error: SqlError): boolean => {
  const code = (error.cause as { code?: unknown } | undefined)?.code
  return code === "55P03" || code === "57014"
}

/**
 * @since 0.3.0
 */
export const make = (options: Options) =>
  Effect.gen(function*() {
    const setting = options.setting ?? "EVENT_VACUUM_CU_DB"
    const timeout = Duration.decode(options.timeout ?? "10 seconds")
    const source = sourceOf(options.url)
    let url: URL
    try {
      url = new URL(options.url)
    } catch {
      return yield* new CuDatabaseError({ description: `${setting}: not a PostgreSQL URL: ${source}` })
    }
    const ms = Math.max(1, Math.round(Duration.toMillis(timeout)))
    const sql = yield* PgClient.make({
      url: Redacted.make(readOnlyUrl(url, ms)),
      maxConnections: 1,
      connectTimeout: timeout,
      applicationName: "event-vacuum follow"
    }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.mapError((error) =>
        new CuDatabaseError({ description: `${setting}: cannot connect to ${source}: ${describe(error.cause)}`, cause: error })
      )
    )

    // The id's collation: code point order lets each read be a range of the primary key.
    const collation = yield* sql<{ collname: string | null; datcollate: string; provider: string | null }>`
      SELECT c.collname, d.datcollate, to_jsonb(d) ->> 'datlocprovider' AS provider
      FROM pg_database d
      LEFT JOIN pg_attribute a ON a.attrelid = to_regclass('evaluations') AND a.attname = 'id'
      LEFT JOIN pg_collation c ON c.oid = a.attcollation
      WHERE d.datname = current_database()`.pipe(
      Effect.map((rows) => rows[0]),
      Effect.mapError((error) =>
        new CuDatabaseError({ description: `${setting}: cannot read ${source}: ${describe(error.cause)}`, cause: error })
      )
    )
    const name = collation?.collname === "default" || collation?.collname === null
      ? (collation?.provider === "i" ? "ICU" : collation?.datcollate ?? "")
      : collation?.collname ?? ""
    const byteOrder = collation === undefined || collation.collname === null || BYTE_ORDER.test(name)
    const id = sql.literal(byteOrder ? "id" : `id COLLATE "C"`)
    const ordinal = sql.literal(`(CASE WHEN ordinate ~ '^[0-9]{1,30}$' THEN ordinate::numeric ELSE 0 END)`)

    const columns = sql<{ name: string }>`
      SELECT attname AS name FROM pg_attribute
      WHERE attrelid = to_regclass('evaluations') AND attnum > 0 AND NOT attisdropped`.pipe(
      Effect.map((rows) => rows.map((r) => r.name))
    )
    const nextId = (from: string) =>
      sql<{ id: string }>`SELECT id FROM evaluations WHERE ${id} > ${from} ORDER BY ${id} LIMIT 1`.pipe(
        Effect.map((rows) => rows[0]?.id)
      )
    // What the cursor has read at its timestamp is left out; an ordinate that is not a number
    // counts as 0, as SQLite's CAST reads it.
    const after_ = (after: Cursor | undefined) => {
      if (after === undefined) return sql.literal("TRUE")
      const o = /^[0-9]{1,30}$/.test(after.ordinate) ? after.ordinate : "0"
      const crons = after.crons.length === 0 ? sql.literal("TRUE") : sql`coalesce(cron, '') NOT IN ${sql.in(after.crons)}`
      return sql`(timestamp > ${after.timestamp} OR (timestamp = ${after.timestamp}
        AND (${ordinal} > ${o}::numeric OR (${ordinal} = ${o}::numeric AND ${crons}))))`
    }
    const nthTimestamp: Sql.Dialect["nthTimestamp"] = ({ from, to }, after, n) =>
      sql<{ timestamp: string }>`SELECT timestamp FROM evaluations WHERE ${id} > ${from} AND ${id} <= ${to} AND ${after_(after)}
        ORDER BY ${id} LIMIT 1 OFFSET ${n - 1}`.pipe(Effect.map((rows) => (rows[0] === undefined ? undefined : Number(rows[0].timestamp))))
    const page: Sql.Dialect["page"] = (_processId, { from, to }, after, limit) =>
      sql<RawRow>`SELECT id, "processId", "messageId", ordinate, cron, timestamp, "blockHeight", output
        FROM evaluations WHERE ${id} > ${from} AND ${id} <= ${to} AND ${after_(after)}
        ORDER BY timestamp, ${ordinal}, cron IS NOT NULL, cron COLLATE "C" LIMIT ${limit}`
    // Counting scans: a large table's size is the planner's estimate.
    const count = Effect.gen(function*() {
      const estimate = yield* sql<{ n: number }>`
        SELECT reltuples::float8 AS n FROM pg_class WHERE oid = to_regclass('evaluations')`
      const n = Number(estimate[0]?.n ?? -1)
      if (n >= 1_000_000) return Math.round(n)
      const exact = yield* sql<{ n: string }>`SELECT count(*) AS n FROM evaluations`
      return Number(exact[0]?.n ?? 0)
    })

    const cu = yield* Sql.make({ columns, nextId, nthTimestamp, page, count, timedOut }, {
      source,
      key: keyOf(options.url),
      formerKeys: sourceOf(options.url) === keyOf(options.url) ? [] : [sourceOf(options.url)],
      setting,
      timeout
    })
    if (!byteOrder) {
      yield* Effect.logWarning(
        `${setting}: the evaluations ids of ${source} sort by the collation ${name}, not by code point: ` +
          `each read scans the table; CREATE INDEX ON evaluations (id COLLATE "C") lets reads seek`
      )
    }
    return cu
  })

/**
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<CuDatabase, CuDatabaseError> => Layer.scoped(CuDatabase, make(options))
