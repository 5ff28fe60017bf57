/**
 * The CU-facing service. `vacuum(evaluation)` decodes the record, extracts
 * its events, adds the evaluation's context and queues them for the store,
 * then returns: it never waits on the store or a sink, and never fails.
 *
 * Behind it, in the layer's scope: a writer fiber that hands queued events
 * off to the DedupeStore in group transactions (each sink's watermark moves
 * with its outbox rows), and a delivery fiber per sink. Closing the layer
 * stores what is queued, gives the sinks a bounded time to send what is
 * waiting, and leaves the rest in the store for the next start.
 *
 * @since 0.1.0
 */
import { Chunk, Clock, Config, Context, Deferred, Duration, Effect, Either, Fiber, Layer, Mailbox, Metric, MetricLabel, Option, Queue, Runtime, Schedule, Schema } from "effect"
import type { Scope } from "effect/Scope"
import type { ConfigError } from "effect/ConfigError"
import type { DedupeStoreError, Handoff, HandoffResult } from "./DedupeStore.js"
import { DedupeStore } from "./DedupeStore.js"
import { enrich, reservedKeys } from "./Enrich.js"
import { decodeSync, Evaluation, logText } from "./Evaluation.js"
import type { LineCounts, LineOutcome } from "./Extractor.js"
import { emptyCounts, extract, makeLimits, rejectedOutcomes } from "./Extractor.js"
import type { Limits } from "./Extractor.js"
import type { DeliverySettings } from "./internal/delivery.js"
import { runSinkLoops, SinkState } from "./internal/delivery.js"
import * as Metrics from "./Metrics.js"
import { Transport } from "./Transport.js"

/**
 * What `vacuum` did with one evaluation.
 *
 * - `queued`: its events are on their way to the store.
 * - `no_events`, `read_only` (skipped), `no_text` (no log text), `invalid_record` (did not decode).
 * - `buffer_full`: the store is not keeping up and memory is at its bound; the events were dropped
 *   (counted, logged) and the watermark did not move, so a re-evaluation would hand them off.
 * - `disabled`: the vacuum is off. `closed`: the layer is shutting down.
 *
 * @since 0.1.0
 */
export interface VacuumSummary {
  readonly outcome: "queued" | "no_events" | "read_only" | "no_text" | "invalid_record" | "buffer_full" | "disabled" | "closed"
  /** Events found in the log. */
  readonly events: number
  /** Log lines rejected (invalid JSON, over a limit). */
  readonly rejectedLines: number
  /** Why the record was invalid, or why it had no text. */
  readonly reason?: string
}

/**
 * One sink in a {@link Snapshot}.
 *
 * @since 0.1.0
 */
export interface SinkSnapshot {
  readonly name: string
  /** Events this instance wrote to the sink's outbox. */
  readonly handedOff: number
  /** Events not written because the sink already had them (re-evaluations). */
  readonly duplicates: number
  /** Events the sink acknowledged. */
  readonly delivered: number
  /** Events the sink refused for good, by this instance. */
  readonly deadLettered: number
  /** Failed send attempts. */
  readonly retries: number
  /** Events in the outbox now (all instances), of which `inFlight` are being sent. */
  readonly waiting: number
  readonly inFlight: number
  /** Dead letters in the store for this sink. */
  readonly deadLetters: number
  /** Set when the sink stopped for good, with the reason. */
  readonly stopped?: string
}

/**
 * Counts since the layer started, and the store's view of each sink.
 *
 * @since 0.1.0
 */
export interface Snapshot {
  readonly evaluations: {
    readonly received: number
    readonly readOnly: number
    readonly invalid: number
    readonly noText: number
    readonly failed: number
  }
  readonly events: { readonly found: number; readonly repaired: number }
  /** Every line of every log, by outcome. */
  readonly lines: LineCounts
  /** Events lost before the store, by reason. */
  readonly discarded: { readonly buffer_full: number; readonly store_failed: number }
  /** Events between the CU's call and the store. */
  readonly queued: { readonly events: number; readonly bytes: number }
  readonly sinks: ReadonlyArray<SinkSnapshot>
  /** The store could not be read for the counts; the reason. */
  readonly storeError?: string
}

/**
 * @since 0.1.0
 */
export class Vacuum extends Context.Tag("ao-event-vacuum/Vacuum")<Vacuum, {
  /** Takes one evaluation record (decoded or not). Fast, never fails, never waits on a sink. */
  readonly vacuum: (evaluation: unknown) => Effect.Effect<VacuumSummary>
  /**
   * `vacuum` as a plain call, for a hot path outside any fiber (the JS
   * adapter): no fiber to start and no span, so well under half the cost. Its rare
   * warnings are logged on the layer's runtime.
   */
  readonly unsafeVacuum: (evaluation: unknown) => VacuumSummary
  /** Waits until every queued event is in the store (or counted as lost). */
  readonly flush: Effect.Effect<void>
  /**
   * Waits until every sink has sent what it knows of (or stopped), for at most
   * `timeout`; answers whether it got there.
   */
  readonly drain: (timeout: Duration.DurationInput) => Effect.Effect<boolean>
  readonly snapshot: Effect.Effect<Snapshot>
  /**
   * Puts dead letters back in their outboxes (all, a sink's, or the given
   * seqs) and wakes the sinks to send them; answers how many.
   */
  readonly replayDeadLetters: (options?: {
    readonly sink?: string | undefined
    readonly seqs?: ReadonlyArray<number> | undefined
  }) => Effect.Effect<number, DedupeStoreError>
}>() {}

/**
 * Settings of the vacuum; every one has a default.
 *
 * @since 0.1.0
 */
export interface Options {
  /** Skip read-only (dry-run) evaluations. Default true. */
  readonly skipReadOnly?: boolean | undefined
  /** Extractor limits. */
  readonly limits?: Partial<Limits> | undefined
  /** Bytes of events held in memory between the CU's call and the store. Default 64 MiB. */
  readonly maxQueuedBytes?: number | undefined
  /** Largest batch a sink is sent, in events. Default 500. */
  readonly batchMaxEvents?: number | undefined
  /** Largest batch a sink is sent, in bytes of event data. Default 3,000,000. */
  readonly batchMaxBytes?: number | undefined
  /** How long a partial batch may wait for more events. Default 1 second. */
  readonly flushInterval?: Duration.DurationInput | undefined
  /** How long one send may take. Default 10 seconds. */
  readonly sendTimeout?: Duration.DurationInput | undefined
  /** First retry delay; it doubles, with jitter, up to `retryMaxDelay`. Default 200 millis. */
  readonly retryBaseDelay?: Duration.DurationInput | undefined
  /** Longest delay between retries. Default 30 seconds. Retries of a down sink never stop. */
  readonly retryMaxDelay?: Duration.DurationInput | undefined
  /** Attempts after which an event the sink keeps answering "retry" for is dead-lettered. Default 10. */
  readonly maxEventAttempts?: number | undefined
  /** How long a batch being sent stays claimed before another instance may take it. Default 1 minute. */
  readonly lease?: Duration.DurationInput | undefined
  /** How long closing the layer waits for the sinks to send what is waiting. Default 5 seconds. */
  readonly shutdownTimeout?: Duration.DurationInput | undefined
  /**
   * How long the writer lets a small group of evaluations gather before storing
   * it, so that a CU calling between its own I/O pays one transaction for many
   * evaluations rather than one each. A flush or a full group stores at once. Default 5 millis.
   */
  readonly storeLinger?: Duration.DurationInput | undefined
}

/**
 * The options with every default filled in, and checked.
 *
 * @since 0.1.0
 */
export interface Settings extends DeliverySettings {
  readonly skipReadOnly: boolean
  readonly limits: Limits
  readonly maxQueuedBytes: number
  readonly shutdownTimeout: Duration.Duration
  readonly storeLinger: Duration.Duration
}

/**
 * A setting out of range.
 *
 * @since 0.1.0
 */
export class InvalidOptionsError extends Schema.TaggedError<InvalidOptionsError>()("InvalidOptionsError", {
  description: Schema.String
}) {
  override get message(): string {
    return `invalid vacuum options: ${this.description}`
  }
}

const positiveInt = (name: string, value: number | undefined, fallback: number): number => {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < 1) throw new InvalidOptionsError({ description: `${name} must be a positive integer, got ${v}` })
  return v
}

/**
 * Fills in and checks the options; throws {@link InvalidOptionsError} naming the bad one.
 *
 * @since 0.1.0
 */
export const settings = (options: Options = {}): Settings => {
  const limits = makeLimits(options.limits ?? {})
  if (Either.isLeft(limits)) throw new InvalidOptionsError({ description: limits.left.message })
  const base = Duration.decode(options.retryBaseDelay ?? "200 millis")
  const cap = Duration.decode(options.retryMaxDelay ?? "30 seconds")
  const lease = Duration.decode(options.lease ?? "1 minute")
  return {
    skipReadOnly: options.skipReadOnly ?? true,
    limits: limits.right,
    maxQueuedBytes: positiveInt("maxQueuedBytes", options.maxQueuedBytes, 64 * 1024 * 1024),
    maxBatchEvents: positiveInt("batchMaxEvents", options.batchMaxEvents, 500),
    maxBatchBytes: positiveInt("batchMaxBytes", options.batchMaxBytes, 3_000_000),
    flushInterval: Duration.decode(options.flushInterval ?? "1 second"),
    sendTimeout: Duration.decode(options.sendTimeout ?? "10 seconds"),
    retry: retrySchedule(base, cap),
    maxEventAttempts: positiveInt("maxEventAttempts", options.maxEventAttempts, 10),
    lease,
    idlePoll: Duration.max(Duration.divide(lease, 2).pipe(Option.getOrElse(() => lease)), Duration.seconds(1)),
    shutdownTimeout: Duration.decode(options.shutdownTimeout ?? "5 seconds"),
    storeLinger: Duration.decode(options.storeLinger ?? "5 millis")
  }
}

/**
 * The retry schedule: exponential from `base`, jittered, each delay capped at
 * `cap`, forever (a sink that is down is retried until it is back or the
 * layer closes; the events wait in the store meanwhile).
 *
 * @since 0.1.0
 */
export const retrySchedule = (base: Duration.DurationInput, cap: Duration.DurationInput): Schedule.Schedule<unknown, unknown> => {
  const max = Duration.decode(cap)
  return Schedule.exponential(base).pipe(
    Schedule.jittered,
    Schedule.modifyDelay((delay) => Duration.min(delay, max))
  )
}

interface Queued extends Handoff {
  readonly bytes: number
}

const DISABLED: VacuumSummary = { outcome: "disabled", events: 0, rejectedLines: 0 }
const CLOSED: VacuumSummary = { outcome: "closed", events: 0, rejectedLines: 0 }
const READ_ONLY: VacuumSummary = { outcome: "read_only", events: 0, rejectedLines: 0 }

const tagged = <Type, In, Out>(metric: Metric.Metric<Type, In, Out>, key: string, value: string) =>
  Metric.tagged(metric, key, value)

/**
 * Builds the vacuum on the DedupeStore and Transport in context, starting
 * its fibers in the scope.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<Vacuum["Type"], InvalidOptionsError, DedupeStore | Transport | Scope> =>
  Effect.gen(function*() {
    const config = yield* Effect.try({
      try: () => settings(options),
      catch: (e) => e instanceof InvalidOptionsError ? e : new InvalidOptionsError({ description: String(e) })
    })
    const store = yield* DedupeStore
    const { sinks } = yield* Transport
    const sinkNames = sinks.map((s) => s.name)
    const owner = crypto.randomUUID()
    const states = new Map<string, SinkState>()
    for (const sink of sinks) states.set(sink.name, new SinkState(sink, `${owner}/${sink.name}`, yield* Queue.sliding<void>(1)))

    // Between the CU's call and the store. Bounded by bytes, not count.
    // A Mailbox hands the writer everything waiting as one array, with no per-item allocation.
    const queue = yield* Mailbox.make<Queued>()
    let queuedEvents = 0
    let queuedBytes = 0
    let closing = false
    let flushWaiters: Array<Deferred.Deferred<void>> = []
    const writerBell = yield* Queue.sliding<void>(1)

    const counts = {
      received: 0,
      readOnly: 0,
      invalid: 0,
      noText: 0,
      failed: 0,
      found: 0,
      repaired: 0,
      bufferFull: 0,
      storeFailed: 0
    }
    const lines = emptyCounts()

    const record = (outcome: "read_only" | "invalid_record" | "no_text") =>
      Metrics.rejected.unsafeUpdate(1, [tagLabel(outcome)])

    // Plain code, shared by both calls; the rare warning goes to `warn`, to be logged as each call can.
    const vacuumSync = (input: unknown, warn: (message: string) => void): VacuumSummary => {
      if (closing) return CLOSED
      counts.received++
      Metrics.receivedEvaluations.unsafeUpdate(1, [])
      let evaluation: Evaluation
      if (input instanceof Evaluation) {
        evaluation = input
      } else {
        const decoded = decodeSync(input)
        if (Either.isLeft(decoded)) {
          counts.invalid++
          record("invalid_record")
          const reason = decoded.left.message
          warn(`event-vacuum: skipped an evaluation record that does not decode: ${reason}`)
          return { outcome: "invalid_record", events: 0, rejectedLines: 0, reason }
        }
        evaluation = decoded.right
      }
      if (evaluation.readOnly && config.skipReadOnly) {
        counts.readOnly++
        record("read_only")
        return READ_ONLY
      }
      const text = logText(evaluation.output)
      if (text.failed) counts.failed++
      if (text._tag === "NoText") {
        counts.noText++
        record("no_text")
        return { outcome: "no_text", events: 0, rejectedLines: 0, reason: text.reason }
      }
      const extraction = extract(text.text, config.limits, reservedKeys)
      let rejectedLines = 0
      for (const outcome of lineOutcomeKeys) {
        const n = extraction.counts[outcome]
        if (n === 0) continue
        lines[outcome] += n
        if (rejectedSet.has(outcome)) {
          rejectedLines += n
          Metrics.rejected.unsafeUpdate(n, [tagLabel(outcome)])
        }
      }
      const found = extraction.events.length
      if (found === 0) return { outcome: "no_events", events: 0, rejectedLines }
      counts.found += found
      counts.repaired += extraction.counts.repaired
      Metrics.receivedEvents.unsafeUpdate(found, [])

      const events = enrich(evaluation, extraction.events, text.failed)
      let bytes = 0
      for (const e of events) bytes += e.data.length
      if (queuedBytes + bytes > config.maxQueuedBytes) {
        counts.bufferFull += found
        Metrics.discardedEvents.unsafeUpdate(found, [tagLabel("buffer_full")])
        warn(
          `event-vacuum: the store is not keeping up; dropped ${found} event(s) of ${evaluation.processId} ` +
            `nonce ${evaluation.ordinate} (a re-evaluation would hand them off)`
        )
        return { outcome: "buffer_full", events: found, rejectedLines }
      }
      queuedEvents += found
      queuedBytes += bytes
      queue.unsafeOffer({
        processId: evaluation.processId,
        position: { timestamp: evaluation.timestamp, ordinate: evaluation.ordinate, cron: evaluation.cron },
        events,
        bytes
      })
      return { outcome: "queued", events: found, rejectedLines }
    }

    const vacuum = (input: unknown): Effect.Effect<VacuumSummary> =>
      Effect.suspend(() => {
        let warning: string | undefined
        const summary = vacuumSync(input, (message) => (warning = message))
        return warning === undefined ? Effect.succeed(summary) : Effect.as(Effect.logWarning(warning), summary)
      }).pipe(Effect.withSpan("event-vacuum.vacuum", { captureStackTrace: false }))

    // The plain call logs its warnings on the layer's runtime, in a fiber of their own.
    const runFork = Runtime.runFork(yield* Effect.runtime<never>())
    const warnLater = (message: string) => {
      runFork(Effect.logWarning(message))
    }
    const unsafeVacuum = (input: unknown): VacuumSummary => vacuumSync(input, warnLater)

    // The writer: group commits of everything queued, in arrival order. Whatever
    // happens to a group (stored, store failed, a defect), it leaves the queue's
    // accounting and wakes flushers; a failure never stops the writer.
    const writeGroup = (group: ReadonlyArray<Queued>) => {
      let events = 0
      let bytes = 0
      for (const q of group) {
        events += q.events.length
        bytes += q.bytes
      }
      const lost = (what: string, cause: unknown) =>
        Effect.gen(function*() {
          counts.storeFailed += events
          yield* Metric.incrementBy(tagged(Metrics.discardedEvents, "reason", "store_failed"), events)
          yield* Effect.logError(
            `event-vacuum: ${what} ${events} event(s); they are lost unless their evaluations run again`,
            cause
          )
        })
      const stored = (results: ReadonlyMap<string, HandoffResult>) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          for (const [name, r] of results) {
            const state = states.get(name)!
            state.handedOff += r.events
            state.duplicates += r.duplicates
            yield* Metric.incrementBy(tagged(Metrics.bufferedEvents, "sink", name), r.events)
            yield* Metric.incrementBy(tagged(Metrics.deduplicatedEvents, "sink", name), r.duplicates)
            // Bytes per sink, estimated from the group's share.
            state.added(r.events, Math.round(bytes * (r.events / Math.max(1, events))), now)
          }
        })
      const settled = Effect.suspend(() => {
        queuedEvents -= events
        queuedBytes -= bytes
        const waiting = queuedEvents === 0 ? flushWaiters : []
        if (queuedEvents === 0) flushWaiters = []
        return Effect.zipRight(
          Metrics.handoffBufferBytes.pipe(Metric.set(queuedBytes)),
          Effect.forEach(waiting, (d) => Deferred.succeed(d, undefined), { discard: true })
        )
      })
      return store.handOff(sinkNames, group).pipe(
        Effect.retry(Schedule.exponential("20 millis").pipe(Schedule.intersect(Schedule.recurs(3)))),
        Effect.matchEffect({ onFailure: (error) => lost("could not store", error), onSuccess: stored }),
        Effect.catchAllDefect((defect) => lost("crashed storing", defect)),
        Effect.ensuring(settled)
      )
    }

    // What waits is taken whole; fewer than GROUP evaluations linger (up to `storeLinger`) for
    // more, unless a flush rings. Then it is stored in transactions of at most GROUP.
    const GROUP = 256
    const lingering = Duration.toMillis(config.storeLinger) > 0
    const linger = Effect.raceFirst(Effect.sleep(config.storeLinger), Queue.take(writerBell))
    const takeWaiting = Effect.flatMap(queue.takeAll, ([first]) => {
      if (!lingering || first.length >= GROUP || flushWaiters.length > 0 || closing) return Effect.succeed(Chunk.toReadonlyArray(first))
      return Effect.zipRight(linger, Effect.map(queue.clear, (more) => [...first, ...more]))
    })
    const writeAll = (waiting: ReadonlyArray<Queued>) =>
      waiting.length <= GROUP
        ? writeGroup(waiting)
        : Effect.forEach(
          Array.from({ length: Math.ceil(waiting.length / GROUP) }, (_, i) => waiting.slice(i * GROUP, (i + 1) * GROUP)),
          writeGroup,
          { discard: true }
        )
    const writer = Effect.forever(Effect.flatMap(takeWaiting, writeAll))

    const flush: Effect.Effect<void> = Effect.suspend(() => {
      if (queuedEvents === 0) return Effect.void
      return Effect.flatMap(Deferred.make<void>(), (d) => {
        flushWaiters.push(d)
        Queue.unsafeOffer(writerBell, undefined)
        return Deferred.await(d)
      })
    })

    const drainSink = (state: SinkState): Effect.Effect<void> =>
      Effect.suspend(() => {
        if (state.idle() || state.stopped !== undefined) return Effect.void
        return Effect.flatMap(Deferred.make<void>(), (d) => {
          state.drained.push(d)
          Queue.unsafeOffer(state.doorbell, undefined)
          return Deferred.await(d)
        })
      })

    const drainAll = Effect.zipRight(
      flush,
      Effect.all([...states.values()].map(drainSink), { concurrency: "unbounded", discard: true })
    )

    // While draining, partial batches go at once instead of waiting for the flush interval.
    let draining = 0
    const setFlushing = (on: boolean) =>
      Effect.sync(() => {
        draining += on ? 1 : -1
        for (const state of states.values()) {
          state.flushing = closing || draining > 0
          Queue.unsafeOffer(state.doorbell, undefined)
        }
      })

    const drain = (timeout: Duration.DurationInput): Effect.Effect<boolean> =>
      Effect.acquireUseRelease(
        setFlushing(true),
        () => drainAll.pipe(Effect.timeoutTo({ duration: timeout, onTimeout: () => false, onSuccess: () => true })),
        () => setFlushing(false)
      )

    const snapshot: Effect.Effect<Snapshot> = Effect.gen(function*() {
      const stats = yield* Effect.either(store.stats)
      const bySink = new Map(Either.isRight(stats) ? stats.right.map((s) => [s.sink, s]) : [])
      return {
        evaluations: {
          received: counts.received,
          readOnly: counts.readOnly,
          invalid: counts.invalid,
          noText: counts.noText,
          failed: counts.failed
        },
        events: { found: counts.found, repaired: counts.repaired },
        lines: { ...lines },
        discarded: { buffer_full: counts.bufferFull, store_failed: counts.storeFailed },
        queued: { events: queuedEvents, bytes: queuedBytes },
        sinks: [...states.values()].map((state): SinkSnapshot => {
          const s = bySink.get(state.sink.name)
          return {
            name: state.sink.name,
            handedOff: state.handedOff,
            duplicates: state.duplicates,
            delivered: state.delivered,
            deadLettered: state.deadLettered,
            retries: state.retries,
            waiting: s?.waiting ?? 0,
            inFlight: s?.inFlight ?? 0,
            deadLetters: s?.deadLetters ?? 0,
            ...(state.stopped === undefined ? {} : { stopped: state.stopped })
          }
        }),
        ...(Either.isLeft(stats) ? { storeError: stats.left.message } : {})
      }
    })

    // What a previous run left is due at once.
    const left = yield* Effect.orElseSucceed(store.stats, () => [])
    const startedAt = yield* Clock.currentTimeMillis
    for (const stats of left) {
      states.get(stats.sink)?.resume(stats.waiting, stats.waitingBytes, startedAt, Duration.toMillis(config.flushInterval))
    }

    const writerFiber = yield* Effect.forkScoped(writer)
    // Composite fan-out: every sink's delivery runs concurrently, each on its own outbox.
    const deliveryFiber = yield* Effect.forkScoped(
      Effect.all([...states.values()].map((state) => runSinkLoops(state, config)), {
        concurrency: "unbounded",
        discard: true
      }).pipe(Effect.provideService(DedupeStore, store))
    )

    // Runs before the fibers above are interrupted (finalizers run in reverse).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closing = true
        // Finalizers run uninterruptibly; the bounded wait must be able to give up.
        const done = yield* Effect.interruptible(drain(config.shutdownTimeout))
        if (!done) {
          const waiting = [...states.values()].filter((s) => !s.idle()).map((s) => s.sink.name)
          yield* Effect.logWarning(
            `event-vacuum: closing with events still waiting for ${waiting.join(", ")}; they stay in the store and are sent on the next start`
          )
        }
        yield* Fiber.interrupt(deliveryFiber)
        yield* Fiber.interrupt(writerFiber)
      })
    )

    const replayDeadLetters: Vacuum["Type"]["replayDeadLetters"] = (options = {}) =>
      Effect.gen(function*() {
        const replayed = yield* store.replayDeadLetters(options)
        const now = yield* Clock.currentTimeMillis
        for (const state of states.values()) {
          if (replayed > 0 && (options.sink === undefined || options.sink === state.sink.name)) {
            state.nudge(now, Duration.toMillis(config.flushInterval))
          }
        }
        return replayed
      })

    return Vacuum.of({ vacuum, unsafeVacuum, flush, drain, snapshot, replayDeadLetters })
  })

const lineOutcomeKeys: ReadonlyArray<LineOutcome> = Object.keys(emptyCounts()) as Array<LineOutcome>
const rejectedSet = new Set<LineOutcome>(rejectedOutcomes)
const labels = new Map<string, MetricLabel.MetricLabel>()
/** `reason` labels, made once each: the hot path updates counters without allocating. */
const tagLabel = (reason: string): MetricLabel.MetricLabel => {
  let label = labels.get(reason)
  if (label === undefined) labels.set(reason, label = MetricLabel.make("reason", reason))
  return label
}

/**
 * The vacuum, on the DedupeStore and Transport provided to it.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Vacuum, InvalidOptionsError, DedupeStore | Transport> =>
  Layer.scoped(Vacuum, make(options))

/**
 * A vacuum that does nothing and costs next to nothing: what the env layer
 * gives when `EVENT_VACUUM_ENABLED` is not true.
 *
 * @since 0.1.0
 */
export const layerDisabled: Layer.Layer<Vacuum> = Layer.succeed(
  Vacuum,
  Vacuum.of({
    vacuum: () => Effect.succeed(DISABLED),
    unsafeVacuum: () => DISABLED,
    flush: Effect.void,
    drain: () => Effect.succeed(true),
    snapshot: Effect.succeed({
      evaluations: { received: 0, readOnly: 0, invalid: 0, noText: 0, failed: 0 },
      events: { found: 0, repaired: 0 },
      lines: emptyCounts(),
      discarded: { buffer_full: 0, store_failed: 0 },
      queued: { events: 0, bytes: 0 },
      sinks: []
    }),
    replayDeadLetters: () => Effect.succeed(0)
  })
)

const positive = (name: string) =>
  Config.integer(name).pipe(Config.validate({ message: `${name} must be a positive integer`, validation: (n) => n >= 1 }))

/**
 * The vacuum's options from env: `EVENT_VACUUM_SKIP_READ_ONLY`,
 * `EVENT_VACUUM_MAX_QUEUED_BYTES`, `EVENT_VACUUM_BATCH_MAX_EVENTS`,
 * `EVENT_VACUUM_BATCH_MAX_BYTES`, `EVENT_VACUUM_FLUSH_INTERVAL`,
 * `EVENT_VACUUM_SEND_TIMEOUT`, `EVENT_VACUUM_RETRY_BASE_DELAY`,
 * `EVENT_VACUUM_RETRY_MAX_DELAY`, `EVENT_VACUUM_MAX_EVENT_ATTEMPTS`,
 * `EVENT_VACUUM_LEASE`, `EVENT_VACUUM_SHUTDOWN_TIMEOUT`, `EVENT_VACUUM_STORE_LINGER`. Durations are
 * written like `500 millis` or `10 seconds`.
 *
 * @since 0.1.0
 */
export const optionsConfig: Config.Config<Options> = Config.all({
  skipReadOnly: Config.boolean("EVENT_VACUUM_SKIP_READ_ONLY").pipe(Config.withDefault(true)),
  maxQueuedBytes: positive("EVENT_VACUUM_MAX_QUEUED_BYTES").pipe(Config.withDefault(64 * 1024 * 1024)),
  batchMaxEvents: positive("EVENT_VACUUM_BATCH_MAX_EVENTS").pipe(Config.withDefault(500)),
  batchMaxBytes: positive("EVENT_VACUUM_BATCH_MAX_BYTES").pipe(Config.withDefault(3_000_000)),
  flushInterval: Config.duration("EVENT_VACUUM_FLUSH_INTERVAL").pipe(Config.withDefault(Duration.seconds(1))),
  sendTimeout: Config.duration("EVENT_VACUUM_SEND_TIMEOUT").pipe(Config.withDefault(Duration.seconds(10))),
  retryBaseDelay: Config.duration("EVENT_VACUUM_RETRY_BASE_DELAY").pipe(Config.withDefault(Duration.millis(200))),
  retryMaxDelay: Config.duration("EVENT_VACUUM_RETRY_MAX_DELAY").pipe(Config.withDefault(Duration.seconds(30))),
  maxEventAttempts: positive("EVENT_VACUUM_MAX_EVENT_ATTEMPTS").pipe(Config.withDefault(10)),
  lease: Config.duration("EVENT_VACUUM_LEASE").pipe(Config.withDefault(Duration.minutes(1))),
  shutdownTimeout: Config.duration("EVENT_VACUUM_SHUTDOWN_TIMEOUT").pipe(Config.withDefault(Duration.seconds(5))),
  storeLinger: Config.duration("EVENT_VACUUM_STORE_LINGER").pipe(Config.withDefault(Duration.millis(5)))
})

/**
 * The vacuum with its options from env.
 *
 * @since 0.1.0
 */
export const layerConfig: Layer.Layer<Vacuum, InvalidOptionsError | ConfigError, DedupeStore | Transport> = Layer.unwrapEffect(
  Effect.map(optionsConfig, layer)
)
