/**
 * The DedupeStore over any `SqlClient`. Written and tested against SQLite;
 * the SQL keeps to what PostgreSQL and MySQL 8 also speak (window functions,
 * `ON CONFLICT` aside), so another engine needs little more than its client.
 *
 * Four tables: `event_vacuum_watermark` (sink, process → position),
 * `event_vacuum_outbox` (events waiting, with the claim of the delivery fiber
 * holding them), `event_vacuum_dead_letter` and `event_vacuum_sink` (why a
 * sink does not deliver, while it does not). The schema goes through the
 * `@effect/sql` migrator (table `event_vacuum_migrations`). An event's sample
 * rate goes with it from the outbox to the dead letters and back
 * (`sample_rate`, 1 for rows written before it was kept).
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import { SqlError } from "@effect/sql/SqlError"
import { Clock, Effect, Layer, Option, Schedule } from "effect"
import type {
  ClaimOptions,
  DeadLetter,
  Handoff,
  HandoffResult,
  OutboxEntry,
  ProcessStats,
  ProcessTally,
  SamplerState,
  SamplerWindow,
  SinkCondition,
  SinkStats,
  Wakeup
} from "../DedupeStore.js"
import { DedupeStore, DedupeStoreError } from "../DedupeStore.js"
import type { Watermark } from "../Position.js"
import { advance, isHandedOff } from "../Position.js"

/** Rows a single statement may bind: SQLite allows 32,766 parameters; our widest row has 8. */
const CHUNK = 2_000

const chunks = <A>(items: ReadonlyArray<A>, size = CHUNK): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}

/**
 * Multi-row INSERTs go in power-of-two slices (64, then 32, 16, … 1): a
 * handful of distinct statements, which the client's prepared-statement
 * cache keeps, instead of a new statement to prepare for every batch size.
 */
const sliceSizes = (count: number): Array<number> => {
  const out: Array<number> = []
  let left = count
  for (let size = 64; size >= 1; size >>= 1) {
    while (left >= size) {
      out.push(size)
      left -= size
    }
  }
  return out
}

/** The outbox columns a hand-off writes, in the order of its flat values. */
const OUTBOX_COLUMNS = ["sink", "event_id", "time", "data", "bytes", "created_at", "attempts", "sample_rate"] as const

const insertSlices = <A>(items: ReadonlyArray<A>): Array<ReadonlyArray<A>> => {
  const out: Array<ReadonlyArray<A>> = []
  let i = 0
  for (const size of sliceSizes(items.length)) {
    out.push(items.slice(i, i + size))
    i += size
  }
  return out
}

const migrations = Migrator.fromRecord({
  "0001_create_tables": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    // A sequence of its own per table: SQLite's AUTOINCREMENT, PostgreSQL's BIGSERIAL.
    const serial = sql.literal(sql.onDialectOrElse({ pg: () => "BIGSERIAL PRIMARY KEY", orElse: () => "INTEGER PRIMARY KEY AUTOINCREMENT" }))
    yield* sql`CREATE TABLE event_vacuum_watermark (
      sink TEXT NOT NULL,
      process_id TEXT NOT NULL,
      timestamp BIGINT NOT NULL,
      ordinate TEXT NOT NULL,
      crons TEXT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (sink, process_id)
    )`
    yield* sql`CREATE TABLE event_vacuum_outbox (
      seq ${serial},
      sink TEXT NOT NULL,
      event_id TEXT NOT NULL,
      time BIGINT NOT NULL,
      data TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      created_at BIGINT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      last_error TEXT,
      lease_owner TEXT,
      lease_until BIGINT
    )`
    yield* sql`CREATE UNIQUE INDEX event_vacuum_outbox_event ON event_vacuum_outbox (sink, event_id)`
    yield* sql`CREATE INDEX event_vacuum_outbox_sink ON event_vacuum_outbox (sink, seq)`
    yield* sql`CREATE TABLE event_vacuum_dead_letter (
      seq ${serial},
      sink TEXT NOT NULL,
      event_id TEXT NOT NULL,
      time BIGINT NOT NULL,
      data TEXT NOT NULL,
      bytes INTEGER NOT NULL,
      reason TEXT NOT NULL,
      attempts INTEGER NOT NULL,
      dead_at BIGINT NOT NULL
    )`
    yield* sql`CREATE INDEX event_vacuum_dead_letter_sink ON event_vacuum_dead_letter (sink, seq)`
    // One row every hand-off updates first, so that its transaction holds the
    // write lock from the start and never has to upgrade a read (which can
    // fail at once, instead of waiting, when another process writes).
    yield* sql`CREATE TABLE event_vacuum_writer (id INTEGER PRIMARY KEY, handoffs BIGINT NOT NULL)`
    yield* sql`INSERT INTO event_vacuum_writer (id, handoffs) VALUES (1, 0)`
  }),
  // Event ids are random (a hash), so a unique index on them put every insert
  // and delete on a random page: about 20 µs an event in SQLite, two thirds of
  // the store's cost. The watermark, checked in the hand-off's own transaction,
  // is what keeps an event from being handed off twice; the index never was.
  "0002_drop_outbox_event_index": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`DROP INDEX event_vacuum_outbox_event`
  }),
  // A row while a sink does not deliver: `state` is `failing` or `stopped`. Kept in the store
  // so that `status`, which opens no sink, can say why.
  "0003_create_sink": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE event_vacuum_sink (
      sink TEXT PRIMARY KEY,
      state TEXT NOT NULL,
      cause TEXT NOT NULL,
      since BIGINT NOT NULL
    )`
  }),
  // Where following a CU's evaluations table stands, per CU database (`source`) and process:
  // the last position read, and the crons read at exactly that position (JSON).
  "0004_create_follow_cursor": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE event_vacuum_follow_cursor (
      source TEXT NOT NULL,
      process_id TEXT NOT NULL,
      timestamp BIGINT NOT NULL,
      ordinate TEXT NOT NULL,
      crons TEXT NOT NULL,
      PRIMARY KEY (source, process_id)
    )`
  }),
  // 1 in how many events like it an event stands for; rows already waiting stand for themselves.
  "0005_sample_rate": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE event_vacuum_outbox ADD COLUMN sample_rate INTEGER NOT NULL DEFAULT 1`
    yield* sql`ALTER TABLE event_vacuum_dead_letter ADD COLUMN sample_rate INTEGER NOT NULL DEFAULT 1`
  }),
  // What each process sent, per sink and (sink '') for the vacuum: for `status --processes`.
  "0006_create_process": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`CREATE TABLE event_vacuum_process (
      sink TEXT NOT NULL,
      process_id TEXT NOT NULL,
      evaluations BIGINT NOT NULL,
      events BIGINT NOT NULL,
      bytes BIGINT NOT NULL,
      sampled BIGINT NOT NULL,
      not_allowed BIGINT NOT NULL,
      sample_rate BIGINT NOT NULL,
      updated_at BIGINT NOT NULL,
      PRIMARY KEY (sink, process_id)
    )`
  }),
  // A sink's sampler for the process (see SamplerWindow): moved with the totals by first hand-offs
  // only, so a vacuum that starts again decides the N it would have; NULL until one is kept.
  "0007_process_sampler": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    for (const column of ["window_minute", "window_events", "window_bytes", "previous_events", "previous_bytes"]) {
      yield* sql`ALTER TABLE event_vacuum_process ADD COLUMN ${sql.literal(column)} BIGINT`
    }
  })
})

interface WatermarkRow {
  readonly sink: string
  readonly process_id: string
  readonly timestamp: number
  readonly ordinate: string
  readonly crons: string
  readonly updated_at: number
}

interface OutboxRow {
  readonly seq: number
  readonly event_id: string
  readonly time: number
  readonly data: string
  readonly bytes: number
  readonly attempts: number
  readonly created_at: number
  readonly sample_rate: number
}

interface SinkRow {
  readonly sink: string
  readonly state: string
  readonly cause: string
  readonly since: number
}

interface DeadLetterRow {
  readonly seq: number
  readonly sink: string
  readonly event_id: string
  readonly time: number
  readonly data: string
  readonly reason: string
  readonly attempts: number
  readonly dead_at: number
  readonly sample_rate: number
}

interface ProcessRow {
  readonly sink: string
  readonly process_id: string
  readonly evaluations: number
  readonly events: number
  readonly bytes: number
  readonly sampled: number
  readonly not_allowed: number
  readonly sample_rate: number
  readonly updated_at: number
  readonly window_minute: number | null
  readonly window_events: number | null
  readonly window_bytes: number | null
  readonly previous_events: number | null
  readonly previous_bytes: number | null
}

const toWindow = (row: ProcessRow): SamplerWindow | undefined =>
  row.window_minute === null || row.window_minute === undefined ? undefined : {
    minute: Number(row.window_minute),
    events: Number(row.window_events),
    bytes: Number(row.window_bytes),
    previousEvents: Number(row.previous_events),
    previousBytes: Number(row.previous_bytes),
    rate: Number(row.sample_rate)
  }

/** A process's totals for one sink, as a hand-off adds them up before writing them. */
type Totals = { -readonly [K in keyof ProcessTally]: ProcessTally[K] } & { window?: SamplerWindow | undefined }

const toProcessStats = (row: ProcessRow): ProcessStats => ({
  sink: row.sink,
  processId: row.process_id,
  evaluations: Number(row.evaluations),
  events: Number(row.events),
  bytes: Number(row.bytes),
  sampled: Number(row.sampled),
  notAllowed: Number(row.not_allowed),
  sampleRate: Number(row.sample_rate),
  updatedAt: Number(row.updated_at)
})

const toWatermark = (row: WatermarkRow): Watermark => ({
  sink: row.sink,
  processId: row.process_id,
  timestamp: Number(row.timestamp),
  ordinate: row.ordinate,
  crons: JSON.parse(row.crons) as Array<string>,
  updatedAt: Number(row.updated_at)
})

/** An event with its sample rate set only when it is over 1, as enrich leaves it. */
const withSampleRate = <A extends object>(event: A, rate: number): A | (A & { readonly sampleRate: number }) =>
  rate > 1 ? { ...event, sampleRate: rate } : event

const utf8 = new TextEncoder()
const byteLength = (s: string): number => (s.length < 64 ? utf8.encode(s).length : Buffer.byteLength(s, "utf8"))

/**
 * What a backend adds to the common store.
 *
 * @since 0.3.0
 */
export interface Options {
  /**
   * Where each hand-off and replay is announced, in its transaction (so
   * only once it commits): a PostgreSQL `NOTIFY` on `channel`, its payload
   * the {@link Wakeup} as JSON with `from`, the announcing instance.
   */
  readonly announce?: { readonly channel: string; readonly from: string } | undefined
}

/**
 * The payload of an announcement: a {@link Wakeup} and who made it.
 *
 * @since 0.3.0
 */
export interface Announcement extends Wakeup {
  readonly from: string
}

/**
 * Builds the store on the `SqlClient` in context, migrating its schema first.
 *
 * @since 0.3.0
 */
export const makeWith = (options: Options): Effect.Effect<DedupeStore["Type"], DedupeStoreError, SqlClient.SqlClient> =>
  Effect.gen(function*() {
    const sql = (yield* SqlClient.SqlClient).withoutTransforms()

    // Several processes opening a new store at once: the loser of the migration lock retries, and
    // so does one whose CREATE TABLE IF NOT EXISTS raced another's (PostgreSQL answers that with
    // a duplicate key); the second look finds the tables there.
    yield* Migrator.make({})({ loader: migrations, table: "event_vacuum_migrations" }).pipe(
      Effect.retry({
        while: (error) => error._tag !== "MigrationError" || error.reason === "locked",
        schedule: Schedule.spaced("50 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(100)))
      }),
      Effect.mapError((cause) =>
        new DedupeStoreError({ operation: "migrate", description: cause.message || String(cause), cause })
      )
    )

    const fail = (operation: string) => (cause: SqlError) =>
      new DedupeStoreError({ operation, description: describe(cause), cause, transient: isTransient(cause) })
    // A connection lost mid-transaction fails its ROLLBACK too, which the client raises as a
    // defect: it is the same failure, and the store may answer again.
    const rescue = (operation: string) => <A>(effect: Effect.Effect<A, DedupeStoreError>) =>
      Effect.catchSomeDefect(effect, (defect) =>
        defect instanceof SqlError
          ? Option.some(Effect.fail(new DedupeStoreError({ operation, description: describe(defect), cause: defect, transient: true })))
          : Option.none())

    // The outbox INSERT for `n` rows, in the client's own dialect, compiled once per size.
    const insertTexts = new Map<number, string>()
    const outboxInsert = (n: number): string => {
      let text = insertTexts.get(n)
      if (text === undefined) {
        const row = Object.fromEntries(OUTBOX_COLUMNS.map((c) => [c, null]))
        text = sql`INSERT INTO event_vacuum_outbox ${sql.insert(Array.from({ length: n }, () => row))}`.compile()[0]
        insertTexts.set(n, text)
      }
      return text
    }

    const addTallies = (tallies: ReadonlyArray<ProcessTally & { readonly window?: SamplerWindow | undefined }>, now: number) =>
      Effect.forEach(insertSlices(tallies.map((t) => ({
        sink: t.sink,
        process_id: t.processId,
        evaluations: t.evaluations,
        events: t.events,
        bytes: t.bytes,
        sampled: t.sampled,
        not_allowed: t.notAllowed,
        sample_rate: t.sampleRate,
        updated_at: now,
        window_minute: t.window?.minute ?? null,
        window_events: t.window?.events ?? null,
        window_bytes: t.window?.bytes ?? null,
        previous_events: t.window?.previousEvents ?? null,
        previous_bytes: t.window?.previousBytes ?? null
      }))), (chunk) =>
        sql`INSERT INTO event_vacuum_process ${sql.insert(chunk)}
          ON CONFLICT (sink, process_id) DO UPDATE SET
            evaluations = event_vacuum_process.evaluations + excluded.evaluations,
            events = event_vacuum_process.events + excluded.events,
            bytes = event_vacuum_process.bytes + excluded.bytes,
            sampled = event_vacuum_process.sampled + excluded.sampled,
            not_allowed = event_vacuum_process.not_allowed + excluded.not_allowed,
            sample_rate = CASE WHEN excluded.evaluations > 0 THEN excluded.sample_rate ELSE event_vacuum_process.sample_rate END,
            updated_at = excluded.updated_at,
            window_minute = COALESCE(excluded.window_minute, event_vacuum_process.window_minute),
            window_events = COALESCE(excluded.window_events, event_vacuum_process.window_events),
            window_bytes = COALESCE(excluded.window_bytes, event_vacuum_process.window_bytes),
            previous_events = COALESCE(excluded.previous_events, event_vacuum_process.previous_events),
            previous_bytes = COALESCE(excluded.previous_bytes, event_vacuum_process.previous_bytes)`, { discard: true })

    const samplerStates = (processIds: ReadonlyArray<string>) =>
      Effect.gen(function*() {
        const states = new Map<string, { -readonly [K in keyof SamplerState]: SamplerState[K] }>()
        const state = (sink: string, processId: string) => {
          const key = sink + "\u0000" + processId
          let s = states.get(key)
          if (s === undefined) states.set(key, s = { sink, processId })
          return s
        }
        for (const ids of chunks(processIds)) {
          const marks = yield* sql<WatermarkRow>`SELECT sink, process_id, timestamp, ordinate, crons, updated_at
            FROM event_vacuum_watermark WHERE ${sql.in("process_id", ids)}`
          for (const row of marks) {
            const { crons, ordinate, timestamp } = toWatermark(row)
            state(row.sink, row.process_id).watermark = { timestamp, ordinate, crons }
          }
          const rows = yield* sql<ProcessRow>`SELECT * FROM event_vacuum_process
            WHERE sink <> '' AND window_minute IS NOT NULL AND ${sql.in("process_id", ids)}`
          for (const row of rows) state(row.sink, row.process_id).window = toWindow(row)
        }
        return [...states.values()]
      }).pipe(Effect.mapError(fail("sampler states")))

    const processes: DedupeStore["Type"]["processes"] = (options = {}) =>
      Effect.gen(function*() {
        if (options.overBudget === true) {
          const rows = yield* sql<ProcessRow>`SELECT * FROM event_vacuum_process WHERE sink <> '' AND sample_rate > 1
            ORDER BY sample_rate DESC, sink, process_id LIMIT ${options.limit ?? 20}`
          return rows.map(toProcessStats)
        }
        const order = options.by === "bytes" ? sql.literal("bytes") : sql.literal("events")
        // The top processes by the vacuum's totals, then every sink's rows of those processes.
        const top = yield* sql<ProcessRow>`SELECT * FROM event_vacuum_process WHERE sink = ''
          ORDER BY ${order} DESC, not_allowed DESC, process_id LIMIT ${options.limit ?? 20}`
        if (top.length === 0) return []
        const ids = top.map((r) => r.process_id)
        const sinks = yield* sql<ProcessRow>`SELECT * FROM event_vacuum_process WHERE sink <> '' AND ${sql.in("process_id", ids)}
          ORDER BY sink`
        return [...top, ...sinks].map(toProcessStats)
      }).pipe(Effect.mapError(fail("processes")))

    /**
     * What keeps two instances from handing off one evaluation: the hand-off
     * reads the watermarks, then moves them, so it first holds a lock that
     * every hand-off of the same process takes. PostgreSQL: a transaction
     * lock per process (an advisory lock on a hash of its id), taken in
     * order, so hand-offs of other processes go on side by side and none
     * waits on another in a cycle. SQLite: the writer row, whose update
     * takes the one write lock at the start of the transaction instead of
     * upgrading a read later (which fails at once when another process
     * writes, instead of waiting).
     */
    const guard = (processIds: ReadonlyArray<string>): Effect.Effect<void, SqlError> =>
      sql.onDialectOrElse({
        pg: () =>
          sql.unsafe(
            `SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(p, 0) AS k FROM unnest($1::text[]) AS p) AS keys ORDER BY k`,
            [processIds]
          ),
        orElse: () => sql`UPDATE event_vacuum_writer SET handoffs = handoffs + 1 WHERE id = 1`
      }).pipe(Effect.asVoid)

    /** Tells the other instances what waits now, per sink (see {@link Options.announce}). */
    const announce = (bySink: ReadonlyMap<string, { events: number; bytes: number }>): Effect.Effect<void, SqlError> => {
      const to = options.announce
      if (to === undefined) return Effect.void
      return Effect.forEach(
        [...bySink].filter(([, w]) => w.events > 0),
        ([sink, w]) => {
          const payload: Announcement = { from: to.from, sink, events: w.events, bytes: w.bytes }
          return sql`SELECT pg_notify(${to.channel}, ${JSON.stringify(payload)})`
        },
        { discard: true }
      )
    }

    const handOff: DedupeStore["Type"]["handOff"] = (sinks, handoffs, tallies = []) =>
      Effect.gen(function*() {
        const results = new Map<string, { events: number; duplicates: number }>()
        for (const sink of sinks) results.set(sink, { events: 0, duplicates: 0 })
        const processIds = [...new Set(handoffs.map((h) => h.processId))]
        const counting = handoffs.some((h) => h.bytes !== undefined)
        if (tallies.length === 0 && !counting && (sinks.length === 0 || handoffs.length === 0)) return results
        // The guard first, before any row is touched (see `guard`).
        yield* guard([...new Set([...processIds, ...tallies.map((t) => t.processId)])])
        const now = yield* Clock.currentTimeMillis
        if (tallies.length > 0) yield* addTallies(tallies, now)
        if (handoffs.length === 0) return results

        const current = new Map<string, Pick<Watermark, "timestamp" | "ordinate" | "crons">>()
        for (const ids of sinks.length === 0 ? [] : chunks(processIds)) {
          const rows = yield* sql<WatermarkRow>`
            SELECT sink, process_id, timestamp, ordinate, crons, updated_at FROM event_vacuum_watermark
            WHERE ${sql.in("process_id", ids)} AND ${sql.in("sink", sinks)}`
          for (const row of rows) current.set(row.sink + "\u0000" + row.process_id, toWatermark(row))
        }

        const moved = new Set<string>()
        // The outbox rows' values, flat, in OUTBOX_COLUMNS order: no object per row.
        const values: Array<unknown> = []
        const written = new Map(sinks.map((sink) => [sink, { events: 0, bytes: 0 }]))
        // Each process's totals from the evaluations that are first hand-offs here (see Handoff.bytes).
        const totals = new Map<string, Totals>()
        const totalsOf = (sink: string, processId: string) => {
          const key = sink + "\u0000" + processId
          let t = totals.get(key)
          if (t === undefined) {
            totals.set(key, t = { sink, processId, evaluations: 0, events: 0, bytes: 0, sampled: 0, notAllowed: 0, sampleRate: 1 })
          }
          return t
        }
        const count = (t: Totals, handoff: Handoff & { readonly bytes: number }) => {
          const taken = t.sink === "" ? undefined : handoff.taken?.get(t.sink)
          if (taken?.notAllowed === true) {
            t.notAllowed++
            return
          }
          t.evaluations++
          t.events += handoff.events.length
          t.bytes += handoff.bytes
          if (taken === undefined) {
            t.sampleRate = 1
            return
          }
          t.sampled += taken.sampled
          t.sampleRate = taken.sampleRate
          if (taken.window !== undefined) t.window = taken.window
        }
        for (const handoff of handoffs) {
          // New to the vacuum when no sink had it (a sink added since takes old evaluations for the first time).
          let seen = false
          for (const sink of sinks) {
            const key = sink + "\u0000" + handoff.processId
            const result = results.get(sink)!
            const watermark = current.get(key)
            const events = handoff.bySink?.get(sink) ?? handoff.events
            if (watermark !== undefined && isHandedOff(handoff.position, watermark)) {
              result.duplicates += events.length
              seen = true
              continue
            }
            if (handoff.bytes !== undefined) {
              count(totalsOf(sink, handoff.processId), handoff as Handoff & { readonly bytes: number })
            }
            current.set(key, advance(watermark, handoff.position))
            moved.add(key)
            result.events += events.length
            const w = written.get(sink)!
            w.events += events.length
            for (const event of events) {
              const bytes = byteLength(event.data)
              w.bytes += bytes
              values.push(sink, event.id, event.time, event.data, bytes, now, 0, event.sampleRate ?? 1)
            }
          }
          if (handoff.bytes !== undefined && !seen) {
            count(totalsOf("", handoff.processId), handoff as Handoff & { readonly bytes: number })
          }
        }
        if (totals.size > 0) yield* addTallies([...totals.values()], now)
        if (sinks.length === 0) return results

        let at = 0
        for (const size of sliceSizes(values.length / OUTBOX_COLUMNS.length)) {
          const end = at + size * OUTBOX_COLUMNS.length
          yield* sql.unsafe(outboxInsert(size), values.slice(at, end))
          at = end
        }
        const watermarkRows = [...moved].map((key) => {
          const [sink, processId] = key.split("\u0000") as [string, string]
          const w = current.get(key)!
          return {
            sink,
            process_id: processId,
            timestamp: w.timestamp,
            ordinate: w.ordinate,
            crons: JSON.stringify(w.crons),
            updated_at: now
          }
        })
        for (const chunk of insertSlices(watermarkRows)) {
          yield* sql`INSERT INTO event_vacuum_watermark ${sql.insert(chunk)}
            ON CONFLICT (sink, process_id) DO UPDATE SET
              timestamp = excluded.timestamp, ordinate = excluded.ordinate,
              crons = excluded.crons, updated_at = excluded.updated_at`
        }
        yield* announce(written)
        return results
      }).pipe(sql.withTransaction, Effect.mapError(fail("hand-off")), rescue("hand-off"))

    // Instances claiming at once each take other rows (PostgreSQL); SQLite has one writer at a time.
    const skipLocked = sql.literal(sql.onDialectOrElse({ pg: () => "FOR UPDATE SKIP LOCKED", orElse: () => "" }))

    const claim = (sink: string, options: ClaimOptions) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const rows = yield* sql<OutboxRow>`
          UPDATE event_vacuum_outbox SET lease_owner = ${options.owner}, lease_until = ${now + options.leaseMillis}
          WHERE seq IN (
            SELECT seq FROM (
              SELECT seq,
                ROW_NUMBER() OVER (ORDER BY seq) AS n,
                SUM(bytes) OVER (ORDER BY seq ROWS UNBOUNDED PRECEDING) AS total
              FROM (
                -- The head first: the running sums are then over a batch, not the whole backlog.
                SELECT seq, bytes FROM event_vacuum_outbox
                WHERE sink = ${sink} AND (lease_until IS NULL OR lease_until <= ${now})
                ORDER BY seq
                LIMIT ${options.maxEvents}
                ${skipLocked}
              ) AS candidates
            ) AS head WHERE n = 1 OR total <= ${options.maxBytes}
          )
          -- Checked again on the row as it is now: a claim another instance just made stands.
          AND (lease_until IS NULL OR lease_until <= ${now})
          RETURNING seq, event_id, time, data, bytes, attempts, created_at, sample_rate`
        return rows
          .map((row): OutboxEntry =>
            withSampleRate({
              seq: Number(row.seq),
              id: row.event_id,
              time: Number(row.time),
              data: row.data,
              bytes: Number(row.bytes),
              attempts: Number(row.attempts),
              createdAt: Number(row.created_at)
            }, Number(row.sample_rate))
          )
          .sort((a, b) => a.seq - b.seq)
      }).pipe(Effect.mapError(fail("claim")))

    const renew: DedupeStore["Type"]["renew"] = (sink, owner, seqs, leaseMillis) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const held: Array<number> = []
        for (const chunk of chunks(seqs)) {
          const rows = yield* sql<{ seq: number }>`
            UPDATE event_vacuum_outbox SET lease_until = ${now + leaseMillis}
            WHERE sink = ${sink} AND lease_owner = ${owner} AND ${sql.in("seq", chunk)}
            RETURNING seq`
          for (const row of rows) held.push(Number(row.seq))
        }
        return held.sort((a, b) => a - b)
      }).pipe(sql.withTransaction, Effect.mapError(fail("renew")), rescue("renew"))

    const acknowledge: DedupeStore["Type"]["acknowledge"] = (sink, owner, seqs) =>
      Effect.forEach(
        chunks(seqs),
        (chunk) =>
          sql`DELETE FROM event_vacuum_outbox WHERE sink = ${sink} AND lease_owner = ${owner} AND ${
            sql.in("seq", chunk)
          }`,
        { discard: true }
      ).pipe(sql.withTransaction, Effect.mapError(fail("acknowledge")), rescue("acknowledge"))

    const release: DedupeStore["Type"]["release"] = (sink, owner, seqs, error) =>
      Effect.forEach(
        chunks(seqs),
        (chunk) =>
          error === undefined
            ? sql`UPDATE event_vacuum_outbox SET lease_owner = NULL, lease_until = NULL
                WHERE sink = ${sink} AND lease_owner = ${owner} AND ${sql.in("seq", chunk)}`
            : sql`UPDATE event_vacuum_outbox
                SET lease_owner = NULL, lease_until = NULL, attempts = attempts + 1, last_error = ${error}
                WHERE sink = ${sink} AND lease_owner = ${owner} AND ${sql.in("seq", chunk)}`,
        { discard: true }
      ).pipe(
        // Handed back (a run closing mid-send, a batch put off): another instance may take it now.
        Effect.zipRight(announce(new Map([[sink, { events: seqs.length, bytes: 0 }]]))),
        sql.withTransaction,
        Effect.mapError(fail("release")),
        rescue("release")
      )

    const releaseOwners: DedupeStore["Type"]["releaseOwners"] = (owners) =>
      owners.length === 0 ? Effect.succeed(0) : sql<{ sink: string }>`UPDATE event_vacuum_outbox SET lease_owner = NULL, lease_until = NULL
          WHERE lease_owner IS NOT NULL AND (${
        sql.or(owners.map((owner) => sql`(lease_owner = ${owner} OR substr(lease_owner, 1, ${owner.length + 1}) = ${owner + "/"})`))
      }) RETURNING sink`.pipe(
          Effect.tap((rows) => {
            const bySink = new Map<string, { events: number; bytes: number }>()
            for (const { sink } of rows) bySink.set(sink, { events: (bySink.get(sink)?.events ?? 0) + 1, bytes: 0 })
            return bySink.size === 0 ? Effect.void : announce(bySink)
          }),
          Effect.map((rows) => rows.length),
          sql.withTransaction,
          Effect.mapError(fail("release")),
          rescue("release")
        )

    const deadLetter: DedupeStore["Type"]["deadLetter"] = (sink, owner, refused) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        for (const { reason, seq } of refused) {
          yield* sql`INSERT INTO event_vacuum_dead_letter (sink, event_id, time, data, bytes, reason, attempts, dead_at, sample_rate)
            SELECT sink, event_id, time, data, bytes, ${reason}, attempts + 1, ${now}, sample_rate FROM event_vacuum_outbox
            WHERE seq = ${seq} AND sink = ${sink} AND lease_owner = ${owner}`
          yield* sql`DELETE FROM event_vacuum_outbox WHERE seq = ${seq} AND sink = ${sink} AND lease_owner = ${owner}`
        }
      }).pipe(sql.withTransaction, Effect.mapError(fail("dead-letter")), rescue("dead-letter"))

    const deadLetters: DedupeStore["Type"]["deadLetters"] = (options = {}) =>
      sql<DeadLetterRow>`
        SELECT seq, sink, event_id, time, data, reason, attempts, dead_at, sample_rate FROM event_vacuum_dead_letter
        WHERE seq > ${options.afterSeq ?? 0}
        ${options.sink === undefined ? sql.literal("") : sql`AND sink = ${options.sink}`}
        ORDER BY seq LIMIT ${options.limit ?? 1000}`.pipe(
        Effect.map((rows) =>
          rows.map((row): DeadLetter =>
            withSampleRate({
              seq: Number(row.seq),
              sink: row.sink,
              id: row.event_id,
              time: Number(row.time),
              data: row.data,
              reason: row.reason,
              attempts: Number(row.attempts),
              deadAt: Number(row.dead_at)
            }, Number(row.sample_rate))
          )
        ),
        Effect.mapError(fail("list dead letters"))
      )

    const replayDeadLetters: DedupeStore["Type"]["replayDeadLetters"] = (options = {}) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const where = (seqs: ReadonlyArray<number> | undefined) =>
          sql.and([
            ...(options.sink === undefined ? [] : [sql`sink = ${options.sink}`]),
            ...(seqs === undefined ? [] : [sql.in("seq", seqs)])
          ])
        let replayed = 0
        const back = new Map<string, { events: number; bytes: number }>()
        for (const seqs of options.seqs === undefined ? [undefined] : chunks(options.seqs)) {
          if (seqs !== undefined && seqs.length === 0) continue
          const rows = yield* sql<{ seq: number }>`DELETE FROM event_vacuum_dead_letter WHERE ${where(seqs)}
            RETURNING seq, sink, event_id, time, data, bytes, sample_rate`
          replayed += rows.length
          for (const row of rows as unknown as ReadonlyArray<{ sink: string; bytes: number }>) {
            const w = back.get(row.sink) ?? { events: 0, bytes: 0 }
            w.events++
            w.bytes += Number(row.bytes)
            back.set(row.sink, w)
          }
          for (const chunk of chunks(rows as unknown as ReadonlyArray<Record<string, unknown>>)) {
            yield* sql`INSERT INTO event_vacuum_outbox ${
              sql.insert(chunk.map((row) => ({
                sink: row.sink,
                event_id: row.event_id,
                time: row.time,
                data: row.data,
                bytes: row.bytes,
                created_at: now,
                attempts: 0,
                sample_rate: row.sample_rate
              })))
            }`
          }
        }
        yield* announce(back)
        return replayed
      }).pipe(sql.withTransaction, Effect.mapError(fail("replay dead letters")), rescue("replay dead letters"))

    const watermarks: DedupeStore["Type"]["watermarks"] = (sink) =>
      sql<WatermarkRow>`
        SELECT sink, process_id, timestamp, ordinate, crons, updated_at FROM event_vacuum_watermark
        ${sink === undefined ? sql.literal("") : sql`WHERE sink = ${sink}`}
        ORDER BY sink, process_id`.pipe(
        Effect.map((rows) => rows.map(toWatermark)),
        Effect.mapError(fail("list watermarks"))
      )

    const noteSink: DedupeStore["Type"]["noteSink"] = (sink, condition) => {
      if (condition === undefined) {
        return sql`DELETE FROM event_vacuum_sink WHERE sink = ${sink}`.pipe(Effect.asVoid, Effect.mapError(fail("note a sink")))
      }
      const [state, trouble] = "failing" in condition ? ["failing", condition.failing] : ["stopped", condition.stopped]
      return sql`INSERT INTO event_vacuum_sink ${sql.insert({ sink, state, cause: trouble.cause, since: trouble.since })}
        ON CONFLICT (sink) DO UPDATE SET state = excluded.state, cause = excluded.cause, since = excluded.since`.pipe(
        Effect.asVoid,
        Effect.mapError(fail("note a sink"))
      )
    }

    const cursors: DedupeStore["Type"]["cursors"] = (source) =>
      sql<{ process_id: string; timestamp: number; ordinate: string; crons: string }>`
        SELECT process_id, timestamp, ordinate, crons FROM event_vacuum_follow_cursor WHERE source = ${source}`.pipe(
        Effect.map((rows) =>
          new Map(rows.map((r) => [r.process_id, {
            timestamp: Number(r.timestamp),
            ordinate: r.ordinate,
            crons: JSON.parse(r.crons) as ReadonlyArray<string>
          }]))
        ),
        Effect.mapError(fail("read follow cursors"))
      )

    const moveCursor: DedupeStore["Type"]["moveCursor"] = (source, processId, cursor) =>
      sql`INSERT INTO event_vacuum_follow_cursor ${
        sql.insert({ source, process_id: processId, timestamp: cursor.timestamp, ordinate: cursor.ordinate, crons: JSON.stringify(cursor.crons) })
      }
        ON CONFLICT (source, process_id) DO UPDATE SET
          timestamp = excluded.timestamp, ordinate = excluded.ordinate, crons = excluded.crons`.pipe(
        Effect.asVoid,
        Effect.mapError(fail("move a follow cursor"))
      )

    const stats: DedupeStore["Type"]["stats"] = Effect.gen(function*() {
      const now = yield* Clock.currentTimeMillis
      const waiting = yield* sql<{ sink: string; waiting: number; bytes: number; in_flight: number; oldest: number }>`
        SELECT sink, COUNT(*) AS waiting, SUM(bytes) AS bytes,
          SUM(CASE WHEN lease_until > ${now} THEN 1 ELSE 0 END) AS in_flight, MIN(created_at) AS oldest
        FROM event_vacuum_outbox GROUP BY sink`
      const dead = yield* sql<{ sink: string; dead: number }>`
        SELECT sink, COUNT(*) AS dead FROM event_vacuum_dead_letter GROUP BY sink`
      const noted = yield* sql<SinkRow>`SELECT sink, state, cause, since FROM event_vacuum_sink`
      const bySink = new Map<string, { waiting: number; waitingBytes: number; inFlight: number; deadLetters: number; oldestAt?: number }>()
      const conditions = new Map<string, SinkCondition>()
      const entry = (sink: string) => {
        let e = bySink.get(sink)
        if (e === undefined) bySink.set(sink, e = { waiting: 0, waitingBytes: 0, inFlight: 0, deadLetters: 0 })
        return e
      }
      for (const row of waiting) {
        const e = entry(row.sink)
        e.waiting = Number(row.waiting)
        e.waitingBytes = Number(row.bytes)
        e.inFlight = Number(row.in_flight)
        if (row.oldest !== null && row.oldest !== undefined) e.oldestAt = Number(row.oldest)
      }
      for (const row of dead) entry(row.sink).deadLetters = Number(row.dead)
      for (const row of noted) {
        entry(row.sink)
        const trouble = { cause: row.cause, since: Number(row.since) }
        conditions.set(row.sink, row.state === "stopped" ? { stopped: trouble } : { failing: trouble })
      }
      return [...bySink].sort(([a], [b]) => (a < b ? -1 : 1)).map(([sink, e]): SinkStats => ({ sink, ...e, ...conditions.get(sink) }))
    }).pipe(Effect.mapError(fail("stats")))

    return DedupeStore.of({
      handOff: (sinks, handoffs, tallies) => handOff(sinks, handoffs, tallies) as Effect.Effect<ReadonlyMap<string, HandoffResult>, DedupeStoreError>,
      claim,
      renew,
      acknowledge: (sink, owner, seqs) => (seqs.length === 0 ? Effect.void : acknowledge(sink, owner, seqs)),
      release: (sink, owner, seqs, error) => (seqs.length === 0 ? Effect.void : release(sink, owner, seqs, error)),
      releaseOwners,
      deadLetter: (sink, owner, refused) => (refused.length === 0 ? Effect.void : deadLetter(sink, owner, refused)),
      deadLetters,
      replayDeadLetters,
      watermarks,
      noteSink,
      cursors,
      moveCursor,
      processes,
      samplerStates,
      stats
    })
  })

/**
 * Builds the store on the `SqlClient` in context, migrating its schema first.
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<DedupeStore["Type"], DedupeStoreError, SqlClient.SqlClient> = makeWith({})

/**
 * Whether the store may answer again soon: a connection lost or refused, a
 * PostgreSQL shutting down or out of connections, a statement cancelled by
 * its timeout, a deadlock or serialization conflict, SQLite busy.
 */
export const isTransient = (error: SqlError): boolean => {
  const cause = error.cause as { code?: unknown; message?: unknown } | undefined
  const code = typeof cause?.code === "string" ? cause.code : ""
  if (/^(08|57P0)/.test(code) || ["53300", "57014", "40001", "40P01", "55P03"].includes(code)) return true
  if (["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENOTFOUND"].includes(code)) return true
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) return true
  const message = typeof cause?.message === "string" ? cause.message : error.message
  return /Connection terminated|connection timeout|Failed to acquire connection|timeout exceeded when trying to connect/i.test(message)
}

/** The driver's message, which for SQLite names the problem (`database is locked`, `disk I/O error`). */
const describe = (error: SqlError): string => {
  const cause = error.cause as { message?: unknown } | undefined
  return typeof cause?.message === "string" ? `${error.message}: ${cause.message}` : error.message
}

/**
 * The store on the `SqlClient` in context.
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<DedupeStore, DedupeStoreError, SqlClient.SqlClient> = Layer.effect(DedupeStore, make)
