/**
 * One sink's delivery fiber: takes batches from the sink's outbox by count,
 * bytes and time, sends them with a per-attempt timeout under the retry
 * schedule, acknowledges what the sink accepted, dead-letters what it refused
 * for good, and keeps the rest for the next attempt.
 *
 * @internal
 */
import { Clock, Deferred, Duration, Effect, Metric, Option, Queue, Schedule } from "effect"
import type { DedupeStoreError, OutboxEntry } from "../DedupeStore.js"
import { DedupeStore } from "../DedupeStore.js"
import * as Metrics from "../Metrics.js"
import type { EventStatus, Sink } from "../Transport.js"
import { TransportError } from "../Transport.js"

/** Settings of delivery, shared by all sinks. */
export interface DeliverySettings {
  readonly maxBatchEvents: number
  readonly maxBatchBytes: number
  readonly flushInterval: Duration.Duration
  readonly sendTimeout: Duration.Duration
  readonly retry: Schedule.Schedule<unknown, unknown>
  readonly maxEventAttempts: number
  readonly lease: Duration.Duration
  readonly idlePoll: Duration.Duration
}

/** What this instance knows and has done for one sink. */
export class SinkState {
  /** Events waiting in the outbox, as far as this instance knows (its own hand-offs and claims). */
  pendingEvents = 0
  pendingBytes = 0
  /** When the oldest of those was handed off. */
  oldestAt: number | undefined = undefined
  handedOff = 0
  duplicates = 0
  delivered = 0
  deadLettered = 0
  retries = 0
  inFlight = 0
  /** Set when the sink stopped for good (a Rejected error). */
  stopped: string | undefined = undefined
  /** True once the layer is closing: send what is there without waiting for a full batch. */
  flushing = false
  readonly doorbell: Queue.Queue<void>
  /** Deferreds waiting for the outbox to empty. */
  drained: Array<Deferred.Deferred<void>> = []

  constructor(readonly sink: Sink, readonly owner: string, doorbell: Queue.Queue<void>) {
    this.doorbell = doorbell
  }

  /** What a previous run left in the outbox: due at once. Called before any hand-off. */
  resume(events: number, bytes: number, now: number, flushMillis: number): void {
    if (events === 0) return
    this.pendingEvents = events
    this.pendingBytes = bytes
    this.oldestAt = now - flushMillis
  }

  /** Something may wait in the outbox that this instance did not hand off (a replay): look now. */
  nudge(now: number, flushMillis: number): void {
    this.pendingEvents = Math.max(this.pendingEvents, 1)
    this.oldestAt = now - flushMillis
    Queue.unsafeOffer(this.doorbell, undefined)
  }

  /** The writer added events to the outbox. */
  added(events: number, bytes: number, now: number): void {
    if (events === 0) return
    this.pendingEvents += events
    this.pendingBytes += bytes
    this.oldestAt ??= now
    Queue.unsafeOffer(this.doorbell, undefined)
  }

  idle(): boolean {
    return this.pendingEvents <= 0 && this.inFlight === 0
  }

  /** Wakes whoever waits for this sink to drain, when it has. */
  notifyDrained(): Effect.Effect<void> {
    if (!this.idle() && this.stopped === undefined) return Effect.void
    const waiting = this.drained
    this.drained = []
    return Effect.forEach(waiting, (d) => Deferred.succeed(d, undefined), { discard: true })
  }
}

const forSink = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, state: SinkState): Metric.Metric<Type, In, Out> =>
  Metric.tagged(metric, "sink", state.sink.name)

/** A store call during delivery: retried briefly, then logged and left (the lease expires, the events come back). */
const storeCall = (what: string, state: SinkState) => (effect: Effect.Effect<void, DedupeStoreError>) =>
  effect.pipe(
    Effect.retry(Schedule.exponential("50 millis").pipe(Schedule.intersect(Schedule.recurs(4)))),
    Effect.catchAll((error) =>
      Effect.zipRight(
        Metric.increment(Metric.tagged(forSink(Metrics.sendErrors, state), "reason", "store_failed")),
        Effect.logError(`sink ${state.sink.name}: could not ${what}; the events will be sent again`, error)
      )
    )
  )

/** Signals a batch to try again after the schedule's delay. */
class RetryLater {
  readonly _tag = "RetryLater"
  constructor(readonly reason: string) {}
}

/** The sink threw or died (a bug in it, or an event it cannot handle): found by splitting, then dead-lettered. */
class SinkCrashed {
  readonly _tag = "SinkCrashed"
  constructor(readonly description: string) {}
}

type Failure = TransportError | RetryLater | SinkCrashed

const describeDefect = (defect: unknown): string => defect instanceof Error ? `${defect.name}: ${defect.message}` : String(defect)

/**
 * Sends one claimed batch until every event is acknowledged, dead-lettered or
 * handed back; answers false when the sink stopped for good.
 */
const deliverBatch = (
  state: SinkState,
  settings: DeliverySettings,
  batch: ReadonlyArray<OutboxEntry>
): Effect.Effect<boolean, never, DedupeStore> => {
  // What is still claimed and unsettled; handed back to the outbox if the batch ends early.
  const held = { remaining: batch }
  return Effect.gen(function*() {
    const store = yield* DedupeStore
    const { sink, owner } = state
    const leaseMillis = Duration.toMillis(settings.lease)
    let remaining = batch
    const attempts = new Map<number, number>(batch.map((e) => [e.seq, e.attempts]))
    let first = true

    const attempt: Effect.Effect<void, Failure> = Effect.gen(function*() {
      if (!first) {
        // Keep the claim across retries; anything another owner took over is theirs now.
        const stillOurs = yield* store.renew(sink.name, owner, remaining.map((e) => e.seq), leaseMillis).pipe(
          Effect.orElseSucceed(() => remaining.map((e) => e.seq))
        )
        const holds = new Set(stillOurs)
        remaining = remaining.filter((e) => holds.has(e.seq))
        held.remaining = remaining
        if (remaining.length === 0) return
      }
      first = false
      const statuses: ReadonlyArray<EventStatus> = yield* Effect.suspend(() => sink.send(remaining)).pipe(
        Effect.catchAllDefect((defect) => Effect.fail(new SinkCrashed(describeDefect(defect)))),
        Effect.timeoutFail({
          duration: settings.sendTimeout,
          onTimeout: () =>
            new TransportError({
              sink: sink.name,
              reason: "Timeout",
              description: `no answer within ${Duration.format(settings.sendTimeout)}`
            })
        }),
        Effect.withSpan("event-vacuum.send", { attributes: { sink: sink.name, events: remaining.length }, captureStackTrace: false })
      )
      const acknowledged: Array<number> = []
      const refused: Array<{ seq: number; reason: string }> = []
      const again: Array<OutboxEntry> = []
      let retryReason = ""
      for (let i = 0; i < remaining.length; i++) {
        const entry = remaining[i]!
        const status = statuses[i]
        if (status === undefined) {
          again.push(entry)
          retryReason = `the sink answered ${statuses.length} statuses for ${remaining.length} events`
        } else if (status._tag === "Accepted") {
          acknowledged.push(entry.seq)
        } else if (status._tag === "Refused") {
          refused.push({ seq: entry.seq, reason: status.reason })
        } else {
          const n = (attempts.get(entry.seq) ?? 0) + 1
          attempts.set(entry.seq, n)
          if (n >= settings.maxEventAttempts) {
            refused.push({ seq: entry.seq, reason: `gave up after ${n} attempts: ${status.reason}` })
          } else {
            again.push(entry)
            retryReason = status.reason
          }
        }
      }
      yield* storeCall("remove acknowledged events", state)(store.acknowledge(sink.name, owner, acknowledged))
      yield* storeCall("dead-letter refused events", state)(store.deadLetter(sink.name, owner, refused))
      state.delivered += acknowledged.length
      state.deadLettered += refused.length
      state.inFlight -= acknowledged.length + refused.length
      yield* Metric.incrementBy(forSink(Metrics.sentEvents, state), acknowledged.length)
      yield* Metric.incrementBy(forSink(Metrics.deadLetteredEvents, state), refused.length)
      if (refused.length > 0) {
        yield* Effect.logWarning(
          `sink ${sink.name}: ${refused.length} event(s) dead-lettered; first reason: ${refused[0]!.reason}`
        )
      }
      remaining = again
      held.remaining = again
      if (again.length > 0) return yield* Effect.fail(new RetryLater(retryReason))
    })

    const retryable = (failure: Failure): boolean =>
      failure._tag === "RetryLater" ||
      (failure._tag === "TransportError" && (failure.reason === "Unavailable" || failure.reason === "Timeout"))

    // Attempts, with the schedule's delays between them, until one settles the batch or a failure
    // is not for retrying. A loop over the schedule's driver rather than `Effect.retry`: around a
    // send with a timeout (a race), `Effect.retry` kept every failure alive until the batch ended,
    // a few KB a retry for as long as a sink was down (test/Vacuum.test.ts checks the heap).
    const driver = yield* Schedule.driver(settings.retry)
    let outcome = yield* Effect.either(attempt)
    while (outcome._tag === "Left") {
      // Every failed attempt counts, retried or not.
      const failure = outcome.left
      state.retries++
      const reason = failure._tag === "RetryLater" ? "event_retry" : failure._tag === "SinkCrashed" ? "crashed" : failure.reason
      yield* Metric.increment(Metric.tagged(forSink(Metrics.sendErrors, state), "reason", reason))
      yield* Effect.logDebug(`sink ${sink.name}: a send of ${remaining.length} event(s) failed`, failure)
      if (!retryable(failure)) break
      const scheduled = yield* Effect.either(driver.next(failure))
      if (scheduled._tag === "Left") break
      outcome = yield* Effect.either(attempt)
    }
    if (outcome._tag === "Right") return true
    // The schedule ended (the default one never does): what is left goes back for a later claim.
    if (retryable(outcome.left)) return true
    const failure = outcome.left as TransportError | SinkCrashed
    if (failure._tag === "SinkCrashed" || failure.reason === "TooLarge") {
      held.remaining = []
      if (remaining.length > 1) {
        const half = Math.ceil(remaining.length / 2)
        const [a, b] = [remaining.slice(0, half), remaining.slice(half)]
        return (yield* deliverBatch(state, settings, a)) && (yield* deliverBatch(state, settings, b))
      }
      yield* storeCall("dead-letter an event too large for the sink", state)(
        store.deadLetter(
          sink.name,
          owner,
          remaining.map((e) => ({
            seq: e.seq,
            reason: failure._tag === "SinkCrashed"
              ? `the sink failed on this event: ${failure.description}`
              : `too large for the sink: ${failure.description}`
          }))
        )
      )
      if (failure._tag === "SinkCrashed") {
        yield* Effect.logError(`sink ${sink.name} failed on an event (dead-lettered): ${failure.description}`)
      }
      state.deadLettered += remaining.length
      state.inFlight -= remaining.length
      yield* Metric.incrementBy(forSink(Metrics.deadLetteredEvents, state), remaining.length)
      return true
    }
    // Rejected: the sink cannot work until its setting is fixed. Keep the events.
    state.stopped = failure.message
    yield* Effect.logError(
      `sink ${sink.name} stopped: ${failure.description}. Its events stay in the outbox and are sent once the setting is fixed.`
    )
    return false
  }).pipe(
    Effect.onExit(() =>
      Effect.flatMap(DedupeStore, (store) => {
        const seqs = held.remaining.map((e) => e.seq)
        held.remaining = []
        state.inFlight = Math.max(0, state.inFlight - seqs.length)
        return storeCall("hand back unsent events", state)(store.release(state.sink.name, state.owner, seqs))
      })
    )
  )
}

/** Waits until the doorbell rings and `ready` holds (true), or `millis` pass (false). */
const waitFor = (state: SinkState, ready: () => boolean, millis: number): Effect.Effect<boolean> =>
  Effect.raceFirst(
    Effect.as(Effect.repeat(Queue.take(state.doorbell), { until: ready }), true),
    Effect.as(Effect.sleep(Duration.millis(Math.max(0, millis))), false)
  )

/**
 * The delivery loop of one sink. Returns only when the sink stopped for good;
 * a defect in it (a bug) stops this sink alone, logged, never the others.
 */
export const runSink = (state: SinkState, settings: DeliverySettings): Effect.Effect<void, never, DedupeStore> =>
  loop(state, settings).pipe(
    Effect.catchAllDefect((defect) =>
      Effect.gen(function*() {
        state.stopped = `crashed: ${describeDefect(defect)}`
        yield* Effect.logError(`sink ${state.sink.name} stopped: its delivery crashed`, defect)
        yield* state.notifyDrained()
      })
    )
  )

/** The vacuum's settings with the sink's own overrides. */
const forSinkSettings = (sink: Sink, settings: DeliverySettings): DeliverySettings => ({
  ...settings,
  maxBatchEvents: Math.min(settings.maxBatchEvents, sink.maxBatchEvents ?? Infinity),
  maxBatchBytes: Math.min(settings.maxBatchBytes, sink.maxBatchBytes ?? Infinity),
  flushInterval: sink.flushInterval === undefined ? settings.flushInterval : Duration.decode(sink.flushInterval),
  sendTimeout: sink.sendTimeout === undefined ? settings.sendTimeout : Duration.decode(sink.sendTimeout)
})

/** The sink's delivery loops: `concurrency` of them (default 1), claiming batches side by side. */
export const runSinkLoops = (state: SinkState, settings: DeliverySettings): Effect.Effect<void, never, DedupeStore> => {
  const own = forSinkSettings(state.sink, settings)
  const n = Math.max(1, Math.floor(state.sink.concurrency ?? 1))
  return Effect.all(Array.from({ length: n }, () => runSink(state, own)), { concurrency: "unbounded", discard: true })
}

const loop = (state: SinkState, settings: DeliverySettings): Effect.Effect<void, never, DedupeStore> =>
  Effect.gen(function*() {
    const store = yield* DedupeStore
    const { sink, owner } = state
    const maxEvents = settings.maxBatchEvents
    const maxBytes = settings.maxBatchBytes
    const flushMillis = Duration.toMillis(settings.flushInterval)
    const idleMillis = Duration.toMillis(settings.idlePoll)
    const leaseMillis = Duration.toMillis(settings.lease)
    const full = () => state.pendingEvents >= maxEvents || state.pendingBytes >= maxBytes || state.flushing

    while (true) {
      yield* state.notifyDrained()
      yield* forSink(Metrics.bufferSizeEvents, state).pipe(Metric.set(Math.max(0, state.pendingEvents)))
      if (state.pendingEvents <= 0) {
        // Nothing known to wait: sleep until a hand-off (then look again), or
        // poll for what other instances or replays left.
        if (yield* waitFor(state, () => state.pendingEvents > 0 || state.flushing, idleMillis)) continue
      } else if (!full()) {
        const now = yield* Clock.currentTimeMillis
        const due = (state.oldestAt ?? now) + flushMillis - now
        if (due > 0) yield* waitFor(state, full, due)
      }

      const batch = yield* store.claim(sink.name, { owner, maxEvents, maxBytes, leaseMillis }).pipe(
        Effect.map(Option.some),
        Effect.catchAll((error) =>
          Effect.as(
            Effect.zipRight(
              Metric.increment(Metric.tagged(forSink(Metrics.sendErrors, state), "reason", "store_failed")),
              Effect.logError(`sink ${sink.name}: cannot read the outbox`, error)
            ),
            Option.none<ReadonlyArray<OutboxEntry>>()
          )
        )
      )
      if (Option.isNone(batch)) {
        yield* Effect.sleep(Duration.millis(idleMillis))
        continue
      }
      const entries = batch.value
      if (entries.length === 0) {
        state.pendingEvents = 0
        state.pendingBytes = 0
        state.oldestAt = undefined
        continue
      }
      state.pendingEvents -= entries.length
      state.pendingBytes -= entries.reduce((n, e) => n + e.bytes, 0)
      if (state.pendingEvents <= 0) {
        state.pendingEvents = 0
        state.pendingBytes = 0
        state.oldestAt = undefined
      } else {
        // What is left was handed off no earlier than the last event taken.
        state.oldestAt = Math.max(state.oldestAt ?? 0, entries[entries.length - 1]!.createdAt)
      }
      state.inFlight += entries.length
      const going = yield* deliverBatch(state, settings, entries)
      if (!going) {
        yield* state.notifyDrained()
        return
      }
    }
  })
