/**
 * Sending one claimed batch until every event in it is acknowledged,
 * dead-lettered, handed back or taken over: attempts under the retry
 * schedule, the answer classified per event, and a batch the sink crashes on
 * or finds too large split in halves down to the event at fault.
 *
 * @internal
 */
import { Clock, Data, Duration, Effect, Metric, Option, Schedule } from "effect"
import type { DedupeStoreError, OutboxEntry } from "../../DedupeStore.js"
import { DedupeStore } from "../../DedupeStore.js"
import * as Metrics from "../../Metrics.js"
import type { EventStatus, Sink } from "../../Transport.js"
import { TransportError } from "../../Transport.js"
import type { Claim, SinkAccount } from "./account.js"
import { classify } from "./answer.js"
import { retrying } from "./retry.js"
import { describeDefect } from "../warnings.js"
import type { DeliverySettings } from "./settings.js"

/** Some events are to be sent again after the schedule's delay. */
class RetryLater extends Data.TaggedClass("RetryLater")<{ readonly reason: string }> {}

/** The sink threw or died (a bug in it, or an event it cannot handle): found by splitting, then dead-lettered. */
class SinkCrashed extends Data.TaggedClass("SinkCrashed")<{ readonly description: string }> {}

type Failure = TransportError | RetryLater | SinkCrashed

const retryable = (failure: Failure): boolean =>
  failure._tag === "RetryLater" ||
  (failure._tag === "TransportError" && (failure.reason === "Unavailable" || failure.reason === "Timeout"))

const errorsOf = (account: SinkAccount, reason: string) =>
  Metric.tagged(Metric.tagged(Metrics.sendErrors, "sink", account.name), "reason", reason)

/** A store call during delivery: retried briefly, then logged and left (the lease expires, the events come back). */
export const storeCall = (what: string, account: SinkAccount) => (effect: Effect.Effect<void, DedupeStoreError>) =>
  effect.pipe(
    Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(4)))),
    Effect.catchAll((error) =>
      Effect.zipRight(
        Metric.increment(errorsOf(account, "store_failed")),
        Effect.logError(`sink ${account.name}: could not ${what}; the events will be sent again`, error)
      )
    )
  )

/**
 * Writes the sink's condition to the store when it changed (a new cause, a
 * stop, an answer after failing), for `status`, which opens no sink. One
 * write at a time, of the condition as it is when it runs, and a write begun
 * is finished even when the layer closes; a failed write is logged at debug
 * and left (tried again only at the next change): delivery goes on whatever
 * the store does.
 */
export const noteCondition = (store: DedupeStore["Type"], account: SinkAccount): Effect.Effect<void> =>
  account.unnoted()
    ? account.noting.withPermits(1)(Effect.suspend(() => {
      if (!account.unnoted()) return Effect.void
      const condition = account.condition
      return store.noteSink(account.name, condition).pipe(
        Effect.catchAll((error) => Effect.logDebug(`sink ${account.name}: could not note its condition in the state file`, error)),
        Effect.ensuring(Effect.sync(() => account.wasNoted(condition)))
      )
    })).pipe(Effect.uninterruptible)
    : Effect.void

/** One send of the batch: a crash is a failure, and it may take at most `timeout`. */
const send = (sink: Sink, entries: ReadonlyArray<OutboxEntry>, timeout: Duration.Duration) =>
  Effect.suspend(() => sink.send(entries)).pipe(
    Effect.catchAllDefect((defect) => Effect.fail(new SinkCrashed({ description: describeDefect(defect) }))),
    Effect.timeoutFail({
      duration: timeout,
      onTimeout: () =>
        new TransportError({ sink: sink.name, reason: "Timeout", description: `no answer within ${Duration.format(timeout)}` })
    }),
    Effect.withSpan("event-vacuum.send", { attributes: { sink: sink.name, events: entries.length }, captureStackTrace: false })
  )

/**
 * Delivers the claim; answers false when the sink stopped for good. What the
 * claim still holds when this ends, however it ends, goes back to the outbox.
 */
export const deliver = (
  account: SinkAccount,
  settings: DeliverySettings,
  claim: Claim
): Effect.Effect<boolean, never, DedupeStore> =>
  Effect.gen(function*() {
    const store = yield* DedupeStore
    const { name } = account
    const leaseMillis = Duration.toMillis(settings.lease)
    const attempts = new Map<number, number>()
    let first = true

    const attempt: Effect.Effect<void, Failure> = Effect.gen(function*() {
      // The receiver asked every loop of the sink to wait (a Retry-After seen by any of them): before
      // the claim is checked again, so that what another instance took over meanwhile is not sent.
      const quiet = account.quietFor(yield* Clock.currentTimeMillis)
      if (quiet > 0) {
        yield* Effect.sleep(Duration.millis(quiet))
        first = false
      }
      if (!first) {
        // Keep the claim across retries; what another instance took over meanwhile is theirs now.
        const seqs = claim.seqs
        const still = yield* store.renew(name, claim.owner, seqs, leaseMillis).pipe(Effect.orElseSucceed(() => seqs))
        const lost = claim.keepOnly(still)
        if (lost > 0) yield* Effect.logDebug(`sink ${name}: another instance took over ${lost} event(s) of a batch being retried`)
        if (claim.size === 0) return
      }
      first = false
      // While a send is out, its claim is renewed every third of the lease: a send may take longer
      // than the lease without another instance taking its events, and a dead owner's claims
      // still come back within one lease. (Between attempts it is not renewed: a batch waiting to
      // be retried may be taken over.)
      const seqs = claim.seqs
      const keepClaimed = Effect.forever(
        Effect.zipRight(Effect.sleep(leaseMillis / 3), Effect.ignore(store.renew(name, claim.owner, seqs, leaseMillis)))
      )
      const statuses: ReadonlyArray<EventStatus> = yield* Effect.raceFirst(
        send(account.sink, claim.entries, settings.sendTimeout),
        keepClaimed
      )
      const answer = classify(claim.entries, statuses, attempts, settings.maxEventAttempts)
      // A reply that asks for events again is no recovery: the sink stays failing with that cause,
      // said once, not once a retry (nor noted as delivering in between).
      if (answer.again.length === 0) {
        if (account.answered()) yield* Effect.logInfo(`sink ${name}: sending again`)
        yield* noteCondition(store, account)
      }
      yield* storeCall("remove acknowledged events", account)(store.acknowledge(name, claim.owner, answer.acknowledged))
      yield* storeCall("dead-letter refused events", account)(store.deadLetter(name, claim.owner, answer.refused))
      claim.settle(answer.acknowledged.length, answer.refused.length, answer.again)
      if (answer.refused.length > 0) {
        yield* Effect.logWarning(
          `sink ${name}: ${answer.refused.length} event(s) dead-lettered; first reason: ${answer.refused[0]!.reason}`
        )
      }
      if (answer.again.length > 0) return yield* Effect.fail(new RetryLater({ reason: answer.retryReason }))
    })

    const gaveUp = yield* retrying(settings.retry, attempt, {
      retryable,
      atLeast: (failure) => (failure._tag === "TransportError" ? failure.retryAfterMillis : undefined),
      onFailure: (failure) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (failure._tag === "TransportError" && failure.retryAfterMillis !== undefined) account.quiet(now, failure.retryAfterMillis)
          const reason = failure._tag === "RetryLater" ? "event_retry" : failure._tag === "SinkCrashed" ? "crashed" : failure.reason
          const cause = failure._tag === "RetryLater"
            ? `the sink asked for some events again: ${failure.reason}`
            : failure._tag === "SinkCrashed"
            ? `the sink crashed: ${failure.description}`
            : `${failure.reason}: ${failure.description}`
          // Said once for each new cause, not for every retry of a sink that stays down.
          const say = account.failedAttempt(cause, now) && retryable(failure)
          return Effect.zipRight(
            Metric.increment(errorsOf(account, reason)),
            say
              ? Effect.logWarning(`sink ${name}: cannot send (${cause}); retrying; its events wait in the store`)
              : Effect.logDebug(`sink ${name}: a send of ${claim.size} event(s) failed`, failure)
          ).pipe(Effect.zipRight(noteCondition(store, account)))
        })
    })
    if (Option.isNone(gaveUp)) return true
    const failure = gaveUp.value
    // The schedule ended (the default one never does): what is left goes back for a later claim.
    if (failure._tag === "RetryLater" || retryable(failure)) return true
    if (failure._tag === "SinkCrashed" || failure.reason === "TooLarge") return yield* bisect(account, settings, claim, failure)
    // Rejected: the sink cannot work until its setting is fixed. Keep the events, handed back
    // before the sink counts as stopped (whoever waits for it then finds them in the outbox).
    yield* handBack(account, claim)
    // Noted before whoever waits for the stop can close the layer.
    yield* Effect.uninterruptible(Effect.flatMap(Clock.currentTimeMillis, (now) => {
      account.stop(failure.message, now)
      return noteCondition(store, account)
    }))
    yield* Effect.logError(
      `sink ${name} stopped: ${failure.description}. Its events stay in the outbox and are sent once the setting is fixed.`
    )
    return false
  }).pipe(Effect.onExit(() => handBack(account, claim)))

/**
 * Gives what the claim still holds back to the outbox. The claim holds them
 * until the store has them back (or could not take them: their lease then
 * runs out), so the account never looks idle while they are on their way.
 */
const handBack = (account: SinkAccount, claim: Claim) =>
  Effect.suspend(() => {
    const seqs = claim.seqs
    if (seqs.length === 0) return Effect.void
    return Effect.flatMap(DedupeStore, (store) =>
      storeCall("hand back unsent events", account)(store.release(account.name, claim.owner, seqs))).pipe(
        Effect.ensuring(Effect.sync(() => claim.release()))
      )
  })

/**
 * The sink crashed on the batch, or found it too large: each half is
 * delivered on its own, down to a single event, which is dead-lettered.
 */
const bisect = (
  account: SinkAccount,
  settings: DeliverySettings,
  claim: Claim,
  failure: TransportError | SinkCrashed
): Effect.Effect<boolean, never, DedupeStore> =>
  Effect.gen(function*() {
    if (claim.size > 1) {
      const [a, b] = claim.split()
      if (yield* deliver(account, settings, a)) return yield* deliver(account, settings, b)
      yield* handBack(account, b)
      return false
    }
    const store = yield* DedupeStore
    const why = failure._tag === "SinkCrashed"
      ? `the sink failed on this event: ${failure.description}`
      : `refused by the sink when sent alone: ${failure.description}`
    yield* storeCall("dead-letter an event the sink refused", account)(
      store.deadLetter(account.name, claim.owner, claim.entries.map((e) => ({ seq: e.seq, reason: why })))
    )
    if (failure._tag === "SinkCrashed") {
      yield* Effect.logError(`sink ${account.name} failed on an event (dead-lettered): ${failure.description}`)
    }
    claim.settle(0, claim.size, [])
    return true
  })
