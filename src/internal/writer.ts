/**
 * The writer: hands queued evaluations off to the DedupeStore in group
 * transactions, in arrival order. A group of fewer than `GROUP` evaluations
 * lingers up to `linger` for more, unless a flush rings, so that a CU calling
 * between its own I/O pays one transaction for many evaluations. Whatever
 * happens to a group (stored, store failed, a defect), it leaves the queue's
 * bound and wakes flushers; a failure never stops the writer.
 *
 * @internal
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect, Metric, Queue, Schedule } from "effect"
import type { DedupeStore, DedupeStoreError, Handoff, HandoffResult, ProcessTally } from "../DedupeStore.js"
import * as Metrics from "../Metrics.js"
import { describeDefect } from "./warnings.js"
import type { HandoffQueue, Queued } from "./queue.js"

/** Most evaluations a transaction stores. */
const GROUP = 256

/** How long a group waits for a store that may come back before its events count as lost. */
const PATIENCE = Duration.seconds(30)
const patient = Schedule.exponential("50 millis").pipe(Schedule.either(Schedule.spaced("1 second")), Schedule.upTo(PATIENCE))

export interface Writer {
  /** Waits until every queued event is in the store (or counted as lost). */
  readonly flush: Effect.Effect<void>
  /** Events the store could not take. */
  readonly lost: () => number
}

export interface WriterOptions {
  readonly store: DedupeStore["Type"]
  readonly sinks: ReadonlyArray<string>
  readonly queue: HandoffQueue
  readonly linger: Duration.Duration
  /** Each sink's view of a group (its processes, sampled) and the tallies per process; all of it to all, unless given. */
  readonly select?: ((group: ReadonlyArray<Queued>) => {
    readonly handoffs: ReadonlyArray<Handoff>
    readonly tallies: ReadonlyArray<ProcessTally>
  }) | undefined
  /** Reads what `select` needs from the store first (retried like the hand-off; `select` runs once a group). */
  readonly prepare?: ((group: ReadonlyArray<Queued>) => Effect.Effect<void, DedupeStoreError>) | undefined
  /** The group could not be stored. */
  readonly forget?: ((group: ReadonlyArray<Queued>) => void) | undefined
  /** A group is stored: each sink's result, the group's bytes and events, and when. */
  readonly onStored: (results: ReadonlyMap<string, HandoffResult>, bytes: number, events: number, now: number) => void
}

/** Starts the writer in the scope. */
export const make = (options: WriterOptions): Effect.Effect<Writer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { queue, store } = options
    const bell = yield* Queue.sliding<void>(1)
    let lost = 0
    let flushers = 0
    // The cause last said: a store that keeps failing the same way is said once, not once a group.
    let said: string | undefined

    const writeGroup = (group: ReadonlyArray<Queued>) => {
      let events = 0
      let bytes = 0
      for (const q of group) {
        events += q.events.length
        bytes += q.bytes
      }
      const fail = (what: string, why: string, cause: unknown) =>
        Effect.suspend(() => {
          options.forget?.(group)
          lost += events
          const line = `event-vacuum: ${what} ${events} event(s) (${why}); they are lost unless their evaluations run again`
          const first = why !== said
          said = why
          return Effect.zipRight(
            Metric.incrementBy(Metric.tagged(Metrics.discardedEvents, "reason", "store_failed"), events),
            // One readable line a cause; the whole error at debug, for whoever looks further.
            first ? Effect.zipRight(Effect.logError(line), Effect.logDebug(line, cause)) : Effect.logDebug(line, cause)
          )
        })
      let selected: ReturnType<NonNullable<WriterOptions["select"]>> | undefined
      const handOff = Effect.suspend(() => {
        selected ??= options.select?.(group) ?? { handoffs: group, tallies: [] }
        return store.handOff(options.sinks, selected.handoffs, selected.tallies)
      })
      let failingSince: number | undefined
      return (options.prepare === undefined ? handOff : Effect.zipRight(Effect.suspend(() => options.prepare!(group)), handOff)).pipe(
        Effect.retry(Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(3)))),
        // A store that may come back (a database restarting, a connection lost): patience, the
        // events waiting in memory (new ones past the queue's bound are dropped, and counted).
        // Said once, when the quick retries first fail (this runs again on every patient retry).
        Effect.tapError((error) =>
          error.transient === true && failingSince === undefined
            ? Effect.zipRight(
              Effect.map(Clock.currentTimeMillis, (now) => (failingSince = now)),
              Effect.logWarning(`event-vacuum: the state store is failing (${error.description}); retrying for up to ${Duration.format(PATIENCE)}, ${events} event(s) waiting in memory`)
            )
            : Effect.void
        ),
        Effect.retry({ schedule: patient, while: (error) => error.transient === true }),
        Effect.matchEffect({
          onFailure: (error) => fail("could not store", error.message, error),
          onSuccess: (results) =>
            Effect.flatMap(Clock.currentTimeMillis, (now) => {
              options.onStored(results, bytes, events, now)
              return failingSince === undefined ? Effect.void : Effect.logWarning(
                `event-vacuum: the state store answers again after ${((now - failingSince) / 1000).toFixed(1)}s; the ${events} event(s) waiting are stored`
              )
            })
        }),
        Effect.catchAllDefect((defect) => fail("crashed storing", describeDefect(defect), defect)),
        Effect.ensuring(Effect.sync(() => queue.settled(group.length, events, bytes)))
      )
    }

    const lingering = Duration.toMillis(options.linger) > 0
    const linger = Effect.raceFirst(Effect.sleep(options.linger), Queue.take(bell))
    const takeGroup = Effect.flatMap(queue.takeAll, (first) => {
      if (!lingering || first.length >= GROUP || flushers > 0) return Effect.succeed(first)
      return Effect.zipRight(linger, Effect.map(queue.takeWaiting, (more) => [...first, ...more]))
    })
    const writeAll = (waiting: ReadonlyArray<Queued>) =>
      waiting.length <= GROUP
        ? writeGroup(waiting)
        : Effect.forEach(
          Array.from({ length: Math.ceil(waiting.length / GROUP) }, (_, i) => waiting.slice(i * GROUP, (i + 1) * GROUP)),
          writeGroup,
          { discard: true }
        )
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(takeGroup, writeAll)))

    const flush = Effect.suspend(() =>
      queue.size.events === 0 ? Effect.void : Effect.acquireUseRelease(
        Effect.sync(() => {
          flushers++
          Queue.unsafeOffer(bell, undefined)
        }),
        () => queue.whenEmpty,
        () => Effect.sync(() => flushers--)
      )
    )
    return { flush, lost: () => lost }
  })
