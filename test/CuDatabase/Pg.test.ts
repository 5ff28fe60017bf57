/**
 * The CU's PostgreSQL database, read as the follower reads it: a database of
 * the test's own on the machine's PostgreSQL, with the CU's table (its DDL),
 * written by a real writer on its own connection.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Either, Exit, Logger, ManagedRuntime, Option, Redacted } from "effect"
import type { Cursor, Row } from "../../src/CuDatabase.js"
import { advance, CuDatabase } from "../../src/CuDatabase.js"
import * as CuPg from "../../src/CuDatabase/Pg.js"
import { decodeSync } from "../../src/Evaluation.js"
import { makeDatabase, makePgCuDb, PG } from "../support/cuPg.js"
import { exampleRecords } from "../support/harness.js"

const P = "PROC_A"
const evaluation = (ordinate: number, timestamp: number, cron: string | null = null, processId = P) => ({
  processId,
  messageId: `M${ordinate}`,
  ordinate: String(ordinate),
  cron,
  timestamp,
  blockHeight: 1,
  output: { Output: { data: "" }, Error: null, GasUsed: 1, Memory: "not stored" }
})

/** A CU database of the test's own, dropped at the end of the test. */
const cuDb = Effect.acquireRelease(Effect.promise(makePgCuDb), (db) => Effect.promise(db.close))

/** Every row of a process, a page of `limit` at a time, moving the cursor as the follower does. */
const readAll = (processId: string, limit: number) =>
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

describe("CuDatabase/Pg", () => {
  it.scopedLive("reads the example as the CU saved it: records the vacuum decodes, in each process's order, a page at a time", () =>
    Effect.gen(function*() {
      const db = yield* cuDb
      const records = exampleRecords().filter((r) => r.readOnly !== true)
      yield* Effect.promise(() => db.save(records))
      const rows = yield* Effect.gen(function*() {
        const cu = yield* CuDatabase
        assert.strictEqual(cu.source, `postgres://postgres@127.0.0.1:5432/${db.name}`)
        const processes = yield* cu.processes(undefined, 100)
        assert.deepStrictEqual(processes, [...new Set(records.map((r) => r.processId as string))].sort())
        assert.deepStrictEqual(yield* cu.processes(processes[0], 100), processes.slice(1))
        assert.strictEqual(yield* cu.count, records.length)
        const all: Array<Row> = []
        for (const p of processes) all.push(...(yield* readAll(p, 7)))
        return all
      }).pipe(Effect.provide(CuPg.layer({ url: db.dbUrl })))
      assert.strictEqual(rows.length, records.length)
      for (const row of rows) {
        assert.strictEqual(row._tag, "Record")
        if (row._tag !== "Record") continue
        const original = records.find((r) => r.processId === row.record.processId && String(r.ordinate) === row.record.ordinate && (r.cron ?? null) === row.record.cron)!
        assert.isDefined(original, row.id)
        assert.isTrue(Either.isRight(decodeSync(row.record)), row.id)
        assert.strictEqual(row.record.timestamp, original.timestamp)
        const { Memory: _m, ...output } = original.output as Record<string, unknown>
        assert.deepStrictEqual(row.record.output, JSON.parse(JSON.stringify(output)))
      }
      for (let i = 1; i < rows.length; i++) {
        const [a, b] = [rows[i - 1]!.position, rows[i]!.position]
        if (rows[i - 1]!.id.split(",")[0] !== rows[i]!.id.split(",")[0]) continue
        assert.isTrue(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && Number(a.ordinate) <= Number(b.ordinate)), `${rows[i - 1]!.id} then ${rows[i]!.id}`)
      }
    }), { timeout: 30_000 })

  it.scopedLive("orders ordinate 9 before 10 at one timestamp, the cron after the message, across pages; a cursor resumes after what was read", () =>
    Effect.gen(function*() {
      const db = yield* cuDb
      yield* Effect.promise(() =>
        db.save(([[10, 5000, null], [9, 5000, null], [9, 5000, "1-minute"], [11, 6000, null], [100, 5000, null]] as const)
          .map(([o, t, c]) => evaluation(o, t, c)))
      )
      yield* Effect.gen(function*() {
        for (const limit of [1, 2, 10]) {
          assert.deepStrictEqual((yield* readAll(P, limit)).map((r) => r.id), [
            `${P},5000,9`,
            `${P},5000,9,1-minute`,
            `${P},5000,10`,
            `${P},5000,100`,
            `${P},6000,11`
          ], `pages of ${limit}`)
        }
        const cu = yield* CuDatabase
        let cursor: Cursor | undefined
        for (const row of yield* cu.rows(P, undefined, 100)) cursor = advance(cursor, row.position)
        assert.deepStrictEqual(yield* cu.rows(P, cursor, 100), [])
        yield* Effect.promise(() => db.save([evaluation(11, 6000, "5-minutes"), evaluation(12, 7000)]))
        assert.deepStrictEqual((yield* cu.rows(P, cursor, 100)).map((r) => r.id), [`${P},6000,11,5-minutes`, `${P},7000,12`])
      }).pipe(Effect.provide(CuPg.layer({ url: db.dbUrl })))
    }), { timeout: 30_000 })

  it.scopedLive("a row whose output is not JSON comes back by its id, the rest as records", () =>
    Effect.gen(function*() {
      const db = yield* cuDb
      yield* Effect.promise(() => db.save([evaluation(1, 1000), evaluation(2, 2000)]))
      yield* Effect.promise(() => db.run((sql) => sql`UPDATE evaluations SET output = '{not json' WHERE id = ${`${P},1000,1`}`))
      const rows = yield* readAll(P, 100).pipe(Effect.provide(CuPg.layer({ url: db.dbUrl })))
      assert.deepStrictEqual(rows.map((r) => [r._tag, r.id]), [["BadOutput", `${P},1000,1`], ["Record", `${P},2000,2`]])
    }), { timeout: 30_000 })

  it.scopedLive("reads in a read-only session; neither blocks nor waits on a writer holding a write transaction open for seconds", () =>
    Effect.gen(function*() {
      const db = yield* cuDb
      // The session the reads use cannot write.
      const session = ManagedRuntime.make(PgClient.layer({ url: Redacted.make(CuPg.readOnlyUrl(new URL(db.dbUrl), 1000)) }))
      yield* Effect.addFinalizer(() => session.disposeEffect)
      const write = yield* Effect.promise(() =>
        session.runPromiseExit(Effect.flatMap(PgClient.PgClient, (sql) => sql`INSERT INTO evaluations (id) VALUES ('x')`))
      )
      assert.isTrue(Exit.isFailure(write))
      const refusal = Exit.isFailure(write) ? (Cause.squash(write.cause) as { cause?: Error }).cause?.message : undefined
      assert.strictEqual(refusal, "cannot execute INSERT in a read-only transaction")

      yield* Effect.promise(() => db.save([evaluation(1, 1000)]))
      yield* Effect.gen(function*() {
        const cu = yield* CuDatabase
        // The CU's writer holds its transaction 2 seconds; reads meanwhile answer at once, with what was committed.
        const holding = yield* Effect.fork(Effect.promise(() => db.saveHolding([evaluation(2, 2000), evaluation(3, 3000)], 2000)))
        yield* Effect.sleep("200 millis")
        assert.deepStrictEqual((yield* readAll(P, 100)).map((r) => r.id), [`${P},1000,1`])
        // The read came back while the writer still held its transaction.
        assert.isTrue(Option.isNone(yield* holding.poll))
        yield* holding.await
        assert.deepStrictEqual((yield* readAll(P, 100)).map((r) => r.id), [`${P},1000,1`, `${P},2000,2`, `${P},3000,3`])
        assert.strictEqual(yield* cu.count, 3)
      }).pipe(Effect.provide(CuPg.layer({ url: db.dbUrl, timeout: "1 second" })))
    }), { timeout: 30_000 })

  it.scopedLive("a lock held past the timeout, and a schema changed mid-run, each stop it with one line naming the setting", () =>
    Effect.gen(function*() {
      const db = yield* cuDb
      yield* Effect.promise(() => db.save([evaluation(1, 1000)]))
      yield* Effect.gen(function*() {
        const cu = yield* CuDatabase
        const locker = yield* Effect.fork(Effect.promise(() =>
          db.run((sql) => sql.withTransaction(Effect.zipRight(sql`LOCK TABLE evaluations IN ACCESS EXCLUSIVE MODE`, Effect.sleep("2 seconds"))))
        ))
        yield* Effect.sleep("200 millis")
        const locked = yield* Effect.flip(cu.rows(P, undefined, 100))
        assert.strictEqual(
          locked.message.split(": canceling")[0],
          `EVENT_VACUUM_CU_DB: postgres://postgres@127.0.0.1:5432/${db.name} kept a read waiting past 300ms (a lock held on the evaluations table?)`
        )
        yield* locker.await
        yield* Effect.promise(() => db.run((sql) => sql`ALTER TABLE evaluations DROP COLUMN output`))
        const changed = yield* Effect.flip(cu.rows(P, undefined, 100))
        assert.strictEqual(
          changed.message,
          `EVENT_VACUUM_CU_DB: the evaluations table of postgres://postgres@127.0.0.1:5432/${db.name} changed while it was followed: it lacks output now`
        )
        yield* Effect.promise(() => db.run((sql) => sql`DROP TABLE evaluations`))
        const gone = yield* Effect.flip(cu.processes(undefined, 10))
        assert.strictEqual(
          gone.message,
          `EVENT_VACUUM_CU_DB: the evaluations table of postgres://postgres@127.0.0.1:5432/${db.name} is gone: it was dropped while it was followed`
        )
      }).pipe(Effect.provide(CuPg.layer({ url: db.dbUrl, timeout: "300 millis" })))
    }), { timeout: 30_000 })

  it.scopedLive("under a collation that does not sort by code point, reads stay exact (processes differing only in case) and it says how to index", () =>
    Effect.gen(function*() {
      const db = yield* cuDb
      yield* Effect.promise(() => db.run((sql) => sql`ALTER TABLE evaluations ALTER COLUMN id TYPE text COLLATE "en-US-x-icu"`))
      // In en-US, "abc" and "abC" tie on their letters: a range of the one's ids holds the other's.
      yield* Effect.promise(() => db.save([evaluation(1, 1000, null, "PROCabc"), evaluation(2, 1000, null, "PROCabC"), evaluation(3, 2000, null, "PROCabc")]))
      const logs: Array<string> = []
      const logger = Logger.make(({ message }) => logs.push(String(Array.isArray(message) ? message.join(" ") : message)))
      yield* Effect.gen(function*() {
        const cu = yield* CuDatabase
        assert.deepStrictEqual(yield* cu.processes(undefined, 10), ["PROCabC", "PROCabc"])
        assert.deepStrictEqual((yield* readAll("PROCabc", 1)).map((r) => r.id), ["PROCabc,1000,1", "PROCabc,2000,3"])
        assert.deepStrictEqual((yield* readAll("PROCabC", 1)).map((r) => r.id), ["PROCabC,1000,2"])
      }).pipe(Effect.provide(CuPg.layer({ url: db.dbUrl })), Effect.provide(Logger.replace(Logger.defaultLogger, logger)))
      assert.deepStrictEqual(logs, [
        `EVENT_VACUUM_CU_DB: the evaluations ids of postgres://postgres@127.0.0.1:5432/${db.name} sort by the collation en-US-x-icu, ` +
        `not by code point: each read scans the table; CREATE INDEX ON evaluations (id COLLATE "C") lets reads seek`
      ])
    }), { timeout: 30_000 })

  it.scopedLive("refuses what it cannot read, in one line naming the setting, never the password", () =>
    Effect.gen(function*() {
      const open = (url: string) => Effect.flip(CuPg.make({ url, timeout: "3 seconds" }).pipe(Effect.scoped))
      const missing = yield* open("postgres://postgres:s3cret@127.0.0.1:5432/event_vacuum_no_such_db")
      assert.strictEqual(
        missing.message,
        `EVENT_VACUUM_CU_DB: cannot connect to postgres://postgres@127.0.0.1:5432/event_vacuum_no_such_db: database "event_vacuum_no_such_db" does not exist`
      )
      const refused = yield* open("postgres://postgres:s3cret@127.0.0.1:1/test")
      assert.strictEqual(refused.message, "EVENT_VACUUM_CU_DB: cannot connect to postgres://postgres@127.0.0.1:1/test: connect ECONNREFUSED 127.0.0.1:1")
      const empty = makeDatabase()
      yield* Effect.addFinalizer(() => Effect.sync(empty.drop))
      const notCu = yield* open(empty.url.replace("postgres@", "postgres:s3cret@"))
      assert.strictEqual(notCu.message, `EVENT_VACUUM_CU_DB: postgres://postgres@127.0.0.1:5432/${empty.name} is not a CU's database: it has no evaluations table`)
      for (const e of [missing, refused, notCu]) assert.notInclude(JSON.stringify({ m: e.message }), "s3cret")
      assert.strictEqual(PG, "postgres://postgres@127.0.0.1:5432")
    }), { timeout: 30_000 })
})
