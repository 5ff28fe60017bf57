/**
 * What only PostgreSQL has (test/CuDatabase.test.ts reads both engines
 * alike): the read-only session, a lock held past the timeout, a collation
 * that does not sort by code point, connections refused.
 */
import * as PgClient from "@effect/sql-pg/PgClient"
import { assert, describe, it } from "@effect/vitest"
import { Cause, Effect, Exit, Logger, ManagedRuntime, Redacted } from "effect"
import { CuDatabase } from "../../src/CuDatabase.js"
import * as CuPg from "../../src/CuDatabase/Pg.js"
import { makeDatabase, makePgCuDb, PG } from "../support/cuPg.js"
import { evaluationAt, readAll } from "../support/engines.js"

const P = "PROC_A"
const evaluation = evaluationAt


/** A CU database of the test's own, dropped at the end of the test. */
const cuDb = Effect.acquireRelease(Effect.promise(makePgCuDb), (db) => Effect.promise(db.close))

describe("CuDatabase/Pg", () => {
  it.scopedLive("reads in a session that cannot write", () =>
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

    }), { timeout: 30_000 })

  it.scopedLive("a lock held past the timeout is said in one line naming the setting, and the next read goes on", () =>
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
        assert.strictEqual((yield* readAll(P, 100)).length, 1)
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

  it("keys its cursors by host:port/database, however the URL is spelled, never by who connects", () => {
    const key = "postgres://db.example:5432/ao"
    for (const url of [
      "postgres://cu:s3cret@db.example:5432/ao",
      "postgresql://reader@DB.Example/ao?sslmode=require",
      "postgres://db.example:5432/ao",
      "postgres://ao@db.example"
    ]) assert.strictEqual(CuPg.keyOf(url), key, url)
    assert.strictEqual(CuPg.keyOf("postgres://cu@db.example:5433/ao"), "postgres://db.example:5433/ao")
    assert.strictEqual(CuPg.keyOf("postgres:///ao?host=/var/run/postgresql"), "postgres:///var/run/postgresql:5432/ao")
    assert.strictEqual(CuPg.sourceOf("postgresql://reader:s3cret@DB.Example/ao?sslmode=require"), "postgres://reader@DB.Example/ao")
  })

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
