/**
 * Following the CU's evaluations table: each process's new rows, in its
 * order, handed to the vacuum as `run` hands it the lines of a file. Where
 * reading stands is a cursor per process, kept in the vacuum's own state and
 * moved only once what was read is stored, so a restart resumes where it
 * was and a crash re-reads at most a page, which the watermarks then skip.
 *
 * @since 0.3.0
 */
import { Clock, Duration, Effect } from "effect"
import type { Cursor, CuDatabaseError } from "./CuDatabase.js"
import { advance, CuDatabase, furthest } from "./CuDatabase.js"
import type { DedupeStoreError } from "./DedupeStore.js"
import { DedupeStore } from "./DedupeStore.js"
import { Vacuum } from "./Vacuum.js"

/**
 * @since 0.3.0
 */
export interface Options {
  /** Rows read at a time from one process. */
  readonly pageSize?: number | undefined
  /** How long to wait when every process is read up to its end. */
  readonly poll?: Duration.DurationInput | undefined
  /** Read what is there, then stop (a backfill); else follow until interrupted. */
  readonly once?: boolean | undefined
  /** Only these processes. */
  readonly processes?: ReadonlyArray<string> | undefined
  /** For a process with no cursor yet: only its evaluations from this time on (epoch ms). */
  readonly since?: number | undefined
  /** Told of a row whose output is not JSON, by its id. */
  readonly onBadRow?: ((id: string, reason: string) => Effect.Effect<void>) | undefined
  /** Told after each page, with the counts so far. */
  readonly onProgress?: ((counts: Counts) => Effect.Effect<void>) | undefined
}

/**
 * What following has read.
 *
 * @since 0.3.0
 */
export interface Counts {
  /** Rows read and handed to the vacuum. */
  rows: number
  /** Rows whose output is not JSON: reported by id, not handed over. */
  badRows: number
  /** Rows the vacuum took as invalid records. */
  invalid: number
  /** Processes read at least once. */
  processes: number
}

/**
 * The cursors of the CU database, under its key; where an earlier version
 * kept them under the database as it was spelled, those are taken up and
 * stored under the key (the further of the two where both have one).
 */
const cursorsOf = (cu: CuDatabase["Type"], store: DedupeStore["Type"]) =>
  Effect.gen(function*() {
    const cursors = new Map(yield* store.cursors(cu.key))
    for (const former of cu.formerKeys) {
      for (const [processId, old] of yield* store.cursors(former)) {
        const now = cursors.get(processId)
        const taken = now === undefined ? old : furthest(now, old)
        if (taken === now) continue
        yield* store.moveCursor(cu.key, processId, taken)
        cursors.set(processId, taken)
      }
    }
    return cursors
  })

/**
 * Follows the table: every process (or the ones asked for), page after page,
 * then again after `poll`, until interrupted (or once through, with `once`).
 *
 * @since 0.3.0
 */
export const follow = (
  options: Options = {}
): Effect.Effect<Counts, CuDatabaseError | DedupeStoreError, CuDatabase | Vacuum | DedupeStore> =>
  Effect.gen(function*() {
    const cu = yield* CuDatabase
    const vacuum = yield* Vacuum
    const store = yield* DedupeStore
    const pageSize = options.pageSize ?? 500
    const poll = Duration.decode(options.poll ?? "1 second")
    const counts: Counts = { rows: 0, badRows: 0, invalid: 0, processes: 0 }
    const cursors = yield* cursorsOf(cu, store)
    const seen = new Set<string>()
    const start: Cursor | undefined = options.since === undefined ? undefined : { timestamp: options.since, ordinate: "", crons: [] }

    /** One process up to its end: answers whether it had anything new. */
    const readProcess = (processId: string) =>
      Effect.gen(function*() {
        let moved = false
        for (;;) {
          let cursor = cursors.get(processId) ?? start
          const page = yield* cu.rows(processId, cursor, pageSize)
          if (page.length === 0) return moved
          if (!seen.has(processId)) {
            seen.add(processId)
            counts.processes++
          }
          for (const row of page) {
            cursor = advance(cursor, row.position)
            if (row._tag === "BadOutput") {
              counts.badRows++
              if (options.onBadRow !== undefined) yield* options.onBadRow(row.id, row.reason)
              continue
            }
            // The queue is bounded by what waits: let the store catch up first.
            if (vacuum.unsafeQueueFull()) yield* vacuum.flush
            counts.rows++
            if (vacuum.unsafeVacuum(row.record).outcome === "invalid_record") counts.invalid++
          }
          // What was read is stored before the cursor moves past it.
          yield* vacuum.flush
          yield* store.moveCursor(cu.key, processId, cursor!)
          cursors.set(processId, cursor!)
          moved = true
          if (options.onProgress !== undefined) yield* options.onProgress(counts)
          if (page.length < pageSize) return moved
        }
      })

    /** Every process once: answers whether any had anything new. */
    const pass = Effect.gen(function*() {
      let moved = false
      if (options.processes !== undefined) {
        for (const p of options.processes) moved = (yield* readProcess(p)) || moved
        return moved
      }
      let after: string | undefined
      for (;;) {
        const processes = yield* cu.processes(after, 100)
        for (const p of processes) moved = (yield* readProcess(p)) || moved
        if (processes.length < 100) return moved
        after = processes[processes.length - 1]
      }
    })

    for (;;) {
      const startedAt = yield* Clock.currentTimeMillis
      const moved = yield* pass
      if (options.once === true) return counts
      // Caught up: wait out the rest of the poll interval before looking again.
      if (!moved) {
        const spent = (yield* Clock.currentTimeMillis) - startedAt
        yield* Effect.sleep(Duration.millis(Math.max(0, Duration.toMillis(poll) - spent)))
      }
    }
  })
