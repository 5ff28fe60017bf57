/**
 * A CU's PostgreSQL database, laid out as the ao CU lays it out
 * (servers/cu/src/effects/pg.js: the same DDL, camelCase columns quoted) in a
 * database of the test's own on the machine's PostgreSQL, and its writes: one
 * row an evaluation, `INSERT ... ON CONFLICT DO NOTHING` (the CU's
 * `INSERT OR IGNORE`), each save a transaction.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import type { SqlError } from "@effect/sql/SqlError"
import { Duration, Effect, ManagedRuntime, Redacted } from "effect"
import { execFile, execFileSync } from "node:child_process"
import { evaluationRow } from "./cu.js"

/** The CU's evaluations table, as it creates it in PostgreSQL. */
export const PG_EVALUATIONS_DDL = `CREATE TABLE IF NOT EXISTS evaluations(
    id TEXT PRIMARY KEY,
    "processId" TEXT,
    "messageId" TEXT,
    "deepHash" TEXT,
    nonce BIGINT,
    epoch BIGINT,
    timestamp BIGINT,
    ordinate TEXT,
    "blockHeight" BIGINT,
    cron TEXT,
    output TEXT,
    "evaluatedAt" BIGINT
  );`

/** The machine's PostgreSQL, as the tests reach it. */
export const PG = "postgres://postgres@127.0.0.1:5432"

/** One statement through `psql`, on the database `db`; answers its rows as text. */
export const psql = (statement: string, db = "postgres"): string =>
  execFileSync("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-Atc", statement], {
    encoding: "utf8"
  })

/** `psql` in a child process of its own, not blocking this one: answers its output once it exits. */
export const psqlAsync = (statement: string, db = "postgres"): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile("psql", ["-h", "127.0.0.1", "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-Atc", statement], { encoding: "utf8" }, (error, stdout) =>
      error === null ? resolve(stdout) : reject(error))
  })

let made = 0

/** A database of the test's own: its name and URL, and `drop` (which ends its sessions). */
export const makeDatabase = (prefix = "event_vacuum_test"): { readonly name: string; readonly url: string; readonly drop: () => void } => {
  const name = `${prefix}_${process.pid}_${++made}_${Math.random().toString(36).slice(2, 8)}`
  psql(`CREATE DATABASE ${name}`)
  return { name, url: `${PG}/${name}`, drop: () => void psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) }
}

/**
 * @since test
 */
export interface PgCuDb {
  /** The CU's DB_URL. */
  readonly dbUrl: string
  readonly name: string
  /** The records saved as the CU saves them, in one transaction. */
  readonly save: (records: ReadonlyArray<Record<string, any>>) => Promise<void>
  /** The records saved in one transaction held open `ms` before it commits. */
  readonly saveHolding: (records: ReadonlyArray<Record<string, any>>, ms: number) => Promise<void>
  /** Any statement, on the CU's database. */
  readonly run: <A>(f: (sql: PgClient.PgClient) => Effect.Effect<A, SqlError>) => Promise<A>
  /** Ends the writer and drops the database. */
  readonly close: () => Promise<void>
}

/** A new CU database on the machine's PostgreSQL, with the CU's table. */
export const makePgCuDb = async (): Promise<PgCuDb> => {
  const db = makeDatabase("event_vacuum_cu")
  const runtime = ManagedRuntime.make(PgClient.layer({ url: Redacted.make(db.url) }))
  const run = <A>(f: (sql: PgClient.PgClient) => Effect.Effect<A, SqlError>) =>
    runtime.runPromise(Effect.flatMap(PgClient.PgClient, f))
  await run((sql) => sql.unsafe(PG_EVALUATIONS_DDL))
  const insert = (sql: PgClient.PgClient, records: ReadonlyArray<Record<string, any>>) =>
    Effect.forEach(records, (r) => sql`INSERT INTO evaluations ${sql.insert(evaluationRow(r))} ON CONFLICT DO NOTHING`, {
      discard: true
    })
  return {
    dbUrl: db.url,
    name: db.name,
    save: (records) => run((sql) => sql.withTransaction(insert(sql, records))),
    saveHolding: (records, ms) =>
      run((sql) => sql.withTransaction(Effect.zipRight(insert(sql, records), Effect.sleep(Duration.millis(ms))))),
    run,
    close: async () => {
      await runtime.dispose()
      db.drop()
    }
  }
}
