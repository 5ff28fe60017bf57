import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, TestClock } from "effect"
import * as fs from "node:fs"
import { createRequire } from "node:module"
import * as os from "node:os"
import * as path from "node:path"
import type { Handoff } from "../../src/DedupeStore.js"
import { DedupeStore } from "../../src/DedupeStore.js"
import type { Position } from "../../src/Position.js"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"
import { claimAll, handoff, memory, pos } from "../support/store.js"

/** The driver itself (it ships no types), for a second connection that holds a lock. */
const Database = createRequire(import.meta.url)("better-sqlite3") as new(filename: string) => {
  exec(sql: string): void
  prepare(sql: string): { all(): Array<Record<string, unknown>> }
  close(): void
}

const tempFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-store-")), "nested", "state.db")


describe("DedupeStore (SQLite)", () => {
  it.effect("keeps watermarks and the outbox in a real file across close and reopen", () =>
    Effect.gen(function*() {
      const filename = tempFile()
      yield* Effect.gen(function*() {
        const store = yield* DedupeStore
        yield* store.handOff(["a"], [handoff(pos(1, "1"), 2), handoff(pos(2, "2"))])
        const batch = yield* claimAll("a")
        yield* store.acknowledge("a", "w1", [batch[0]!.seq])
        yield* store.release("a", "w1", batch.slice(1).map((e) => e.seq))
      }).pipe(Effect.provide(Sqlite.layer({ filename })))
      assert.isTrue(fs.existsSync(filename))

      yield* Effect.gen(function*() {
        const store = yield* DedupeStore
        const r = yield* store.handOff(["a"], [handoff(pos(1, "1"), 2), handoff(pos(2, "2")), handoff(pos(3, "3"))])
        assert.deepStrictEqual(r.get("a"), { events: 1, duplicates: 3 })
        assert.deepStrictEqual((yield* claimAll("a")).map((e) => e.id), ["P1/1//1", "P1/2//0", "P1/3//0"])
      }).pipe(Effect.provide(Sqlite.layer({ filename })))
    }))

  it.effect("notes why a sink does not deliver, in the file, in its stats, until it is cleared", () =>
    Effect.gen(function*() {
      const filename = tempFile()
      const since = Date.UTC(2026, 11, 2, 17, 50, 1)
      yield* Effect.gen(function*() {
        const store = yield* DedupeStore
        yield* store.handOff(["a", "b"], [handoff(pos(1, "1"), 2)])
        yield* store.noteSink("a", { failing: { cause: "Unavailable: connect ECONNREFUSED 127.0.0.1:9", since } })
        // A sink with nothing waiting still shows its condition.
        yield* store.noteSink("c", { failing: { cause: "Timeout: no answer within 30s", since: since + 1 } })
        yield* store.noteSink("c", { stopped: { cause: "sink c: Rejected: 401", since: since + 2 } })
      }).pipe(Effect.provide(Sqlite.layer({ filename })))

      yield* Effect.gen(function*() {
        const store = yield* DedupeStore
        const stats = yield* store.stats
        assert.deepStrictEqual(stats.map((s) => [s.sink, s.waiting, s.failing, s.stopped]), [
          ["a", 2, { cause: "Unavailable: connect ECONNREFUSED 127.0.0.1:9", since }, undefined],
          ["b", 2, undefined, undefined],
          ["c", 0, undefined, { cause: "sink c: Rejected: 401", since: since + 2 }]
        ])
        assert.isFalse("failing" in stats[1]!, "no condition, no field")
        yield* store.noteSink("a", undefined)
        yield* store.noteSink("c", undefined)
        // Clearing what is not there is no error.
        yield* store.noteSink("b", undefined)
        const cleared = yield* store.stats
        assert.deepStrictEqual(cleared.map((s) => s.sink), ["a", "b"])
        for (const s of cleared) assert.isTrue(s.failing === undefined && s.stopped === undefined, s.sink)
      }).pipe(Effect.provide(Sqlite.layer({ filename })))
    }))

  // Real time: the driver's busy wait (5 s) blocks the thread, as it would while another process creates the file.
  it.live("opening a file another connection holds locked waits and tries again, instead of failing", () =>
    Effect.gen(function*() {
      const filename = tempFile()
      fs.mkdirSync(path.dirname(filename), { recursive: true })
      const holder = new Database(filename)
      holder.exec("CREATE TABLE other (a)")
      holder.exec("BEGIN EXCLUSIVE")
      holder.exec("INSERT INTO other VALUES (1)")
      // Released as soon as the thread is free again: after the first attempt gave up.
      setTimeout(() => holder.exec("COMMIT"), 0)
      const stats = yield* Effect.flatMap(DedupeStore, (s) => s.stats).pipe(
        Effect.provide(Sqlite.layer({ filename })),
        Effect.ensuring(Effect.sync(() => holder.close()))
      )
      assert.deepStrictEqual(stats, [])
    }), { timeout: 30_000 })

  it.effect("fails to open with an error naming the file", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-store-"))
      const blocker = path.join(dir, "file")
      fs.writeFileSync(blocker, "")
      const exit = yield* Effect.exit(Effect.provide(DedupeStore, Sqlite.layer({ filename: path.join(blocker, "state.db") })))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const text = String(exit.cause)
        assert.include(text, "DedupeStoreError")
        assert.include(text, blocker)
      }
    }))
})

/**
 * A state file as the version before sample rates left it: migrations 0001 to 0004, their DDL
 * as that version ran it (frozen here: it must not follow later changes), and events waiting
 * in an outbox and a dead letter, written with the columns it had.
 */
const previousVersionState = (filename: string) =>
  Effect.gen(function*() {
    const loader = Migrator.fromRecord({
      "0001_create_tables": Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE event_vacuum_watermark (
          sink TEXT NOT NULL, process_id TEXT NOT NULL, timestamp BIGINT NOT NULL, ordinate TEXT NOT NULL,
          crons TEXT NOT NULL, updated_at BIGINT NOT NULL, PRIMARY KEY (sink, process_id))`
        yield* sql`CREATE TABLE event_vacuum_outbox (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, event_id TEXT NOT NULL, time BIGINT NOT NULL,
          data TEXT NOT NULL, bytes INTEGER NOT NULL, created_at BIGINT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
          last_error TEXT, lease_owner TEXT, lease_until BIGINT)`
        yield* sql`CREATE UNIQUE INDEX event_vacuum_outbox_event ON event_vacuum_outbox (sink, event_id)`
        yield* sql`CREATE INDEX event_vacuum_outbox_sink ON event_vacuum_outbox (sink, seq)`
        yield* sql`CREATE TABLE event_vacuum_dead_letter (
          seq INTEGER PRIMARY KEY AUTOINCREMENT, sink TEXT NOT NULL, event_id TEXT NOT NULL, time BIGINT NOT NULL,
          data TEXT NOT NULL, bytes INTEGER NOT NULL, reason TEXT NOT NULL, attempts INTEGER NOT NULL, dead_at BIGINT NOT NULL)`
        yield* sql`CREATE INDEX event_vacuum_dead_letter_sink ON event_vacuum_dead_letter (sink, seq)`
        yield* sql`CREATE TABLE event_vacuum_writer (id INTEGER PRIMARY KEY, handoffs BIGINT NOT NULL)`
        yield* sql`INSERT INTO event_vacuum_writer (id, handoffs) VALUES (1, 0)`
      }),
      "0002_drop_outbox_event_index": Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`DROP INDEX event_vacuum_outbox_event`
      }),
      "0003_create_sink": Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE event_vacuum_sink (sink TEXT PRIMARY KEY, state TEXT NOT NULL, cause TEXT NOT NULL, since BIGINT NOT NULL)`
      }),
      "0004_create_follow_cursor": Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE event_vacuum_follow_cursor (
          source TEXT NOT NULL, process_id TEXT NOT NULL, timestamp BIGINT NOT NULL, ordinate TEXT NOT NULL,
          crons TEXT NOT NULL, PRIMARY KEY (source, process_id))`
      })
    })
    fs.mkdirSync(path.dirname(filename), { recursive: true })
    yield* Migrator.make({})({ loader, table: "event_vacuum_migrations" }).pipe(
      Effect.provide(SqliteClient.layer({ filename })),
      Effect.orDie
    )
    const db = new Database(filename)
    try {
      db.exec(`INSERT INTO event_vacuum_outbox (sink, event_id, time, data, bytes, created_at, attempts)
        VALUES ('a', 'old-1', 1000, '{"i":1}', 7, 1, 0), ('a', 'old-2', 2000, '{"i":2}', 7, 1, 2)`)
      db.exec(`INSERT INTO event_vacuum_dead_letter (sink, event_id, time, data, bytes, reason, attempts, dead_at)
        VALUES ('a', 'old-dead', 3000, '{"i":3}', 7, '400: bad', 1, 5)`)
    } finally {
      db.close()
    }
  })

const columns = (filename: string, table: string): Array<unknown> => {
  const db = new Database(filename)
  try {
    return db.prepare(`PRAGMA table_info(${table})`).all().map((c) => c.name)
  } finally {
    db.close()
  }
}

describe("DedupeStore (SQLite): sample rates", () => {
  const rated = (position: Position): Handoff => ({
    processId: "P1",
    position,
    events: [
      { id: "eight", time: 1, data: "{\"i\":0}", sampleRate: 8 },
      { id: "one", time: 1, data: "{\"i\":1}", sampleRate: 1 },
      { id: "none", time: 1, data: "{\"i\":2}" }
    ]
  })
  const ratesOf = (events: ReadonlyArray<{ readonly id: string; readonly sampleRate?: number | undefined }>) =>
    events.map((e) => [e.id, Object.hasOwn(e, "sampleRate") ? e.sampleRate : "absent"])

  it.scoped("an event's sample rate goes with it from the hand-off to the claim, the dead letters and back", () =>
    Effect.gen(function*() {
      const store = yield* DedupeStore
      yield* store.handOff(["a", "b"], [rated(pos(1, "1"))])
      const batch = yield* claimAll("a")
      // Over 1 only, as enrich leaves it: a rate of 1 is no property at all.
      assert.deepStrictEqual(ratesOf(batch), [["eight", 8], ["one", "absent"], ["none", "absent"]])
      assert.deepStrictEqual(ratesOf(yield* claimAll("b")), [["eight", 8], ["one", "absent"], ["none", "absent"]])
      yield* store.deadLetter("a", "w1", batch.map((e) => ({ seq: e.seq, reason: "400: refused" })))
      assert.deepStrictEqual(ratesOf(yield* store.deadLetters({ sink: "a" })), [["eight", 8], ["one", "absent"], ["none", "absent"]])
      assert.strictEqual(yield* store.replayDeadLetters({ sink: "a" }), 3)
      assert.deepStrictEqual(ratesOf(yield* claimAll("a", "w2")), [["eight", 8], ["one", "absent"], ["none", "absent"]])
    }).pipe(Effect.provide(memory)))

  it.effect("a state file of the previous version opens, migrates, and its waiting events keep a rate of 1", () =>
    Effect.gen(function*() {
      const filename = tempFile()
      yield* previousVersionState(filename)
      assert.notInclude(columns(filename, "event_vacuum_outbox"), "sample_rate")

      yield* Effect.gen(function*() {
        const store = yield* DedupeStore
        const waiting = yield* claimAll("a")
        assert.deepStrictEqual(waiting.map((e) => [e.id, e.data, e.attempts]), [["old-1", "{\"i\":1}", 0], ["old-2", "{\"i\":2}", 2]])
        assert.deepStrictEqual(ratesOf(waiting), [["old-1", "absent"], ["old-2", "absent"]])
        assert.deepStrictEqual(ratesOf(yield* store.deadLetters()), [["old-dead", "absent"]])
        // What was there and what comes now live side by side in the migrated tables.
        yield* store.handOff(["a"], [rated(pos(1, "1"))])
        yield* store.deadLetter("a", "w1", [{ seq: waiting[0]!.seq, reason: "400: refused" }])
        yield* store.acknowledge("a", "w1", [waiting[1]!.seq])
        assert.deepStrictEqual(ratesOf(yield* claimAll("a", "w2")), [["eight", 8], ["one", "absent"], ["none", "absent"]])
        assert.strictEqual(yield* store.replayDeadLetters(), 2)
        yield* TestClock.adjust(20_000)
        assert.deepStrictEqual(ratesOf(yield* claimAll("a", "w3")), [
          ["eight", 8],
          ["one", "absent"],
          ["none", "absent"],
          ["old-dead", "absent"],
          ["old-1", "absent"]
        ])
      }).pipe(Effect.provide(Sqlite.layer({ filename })))

      assert.include(columns(filename, "event_vacuum_outbox"), "sample_rate")
      assert.include(columns(filename, "event_vacuum_dead_letter"), "sample_rate")
      // Opened again, nothing is migrated twice.
      yield* Effect.provide(Effect.asVoid(DedupeStore), Sqlite.layer({ filename }))
      const db = new Database(filename)
      try {
        assert.deepStrictEqual(
          db.prepare("SELECT migration_id, name FROM event_vacuum_migrations ORDER BY migration_id").all(),
          [
            { migration_id: 1, name: "create_tables" },
            { migration_id: 2, name: "drop_outbox_event_index" },
            { migration_id: 3, name: "create_sink" },
            { migration_id: 4, name: "create_follow_cursor" },
            { migration_id: 5, name: "sample_rate" },
            { migration_id: 6, name: "create_process" },
            { migration_id: 7, name: "process_sampler" }
          ]
        )
      } finally {
        db.close()
      }
    }))
})
