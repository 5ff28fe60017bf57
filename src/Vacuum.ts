/**
 * The CU-facing service. `vacuum(evaluation)` decodes the record, extracts
 * its events, adds the evaluation's context and queues them for the store,
 * then returns: it never waits on the store or a sink, and never fails.
 *
 * It is wiring of parts, each in `src/internal/` with its own state: the
 * intake (the call and its counts), the queue to the store (bounded by
 * bytes), the writer (group commits to the DedupeStore, each sink's
 * watermark moving with its outbox rows), delivery (an account and delivery
 * loops per sink), the snapshot and the warnings. Closing the layer stores
 * what is queued, gives the sinks a bounded time to send what is waiting,
 * and leaves the rest in the store for the next start.
 *
 * @since 0.1.0
 */
import { Config, Context, Duration, Effect, Either, Layer, Stream } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { Scope } from "effect/Scope"
import type { DedupeStoreError } from "./DedupeStore.js"
import { DedupeStore } from "./DedupeStore.js"
import type { LineCounts, Limits } from "./Extractor.js"
import { emptyCounts, makeLimits } from "./Extractor.js"
import * as Delivery from "./internal/delivery/index.js"
import * as DeliverySettings from "./internal/delivery/settings.js"
import * as Intake from "./internal/intake.js"
import * as Selecting from "./internal/selection.js"
import { HandoffQueue } from "./internal/queue.js"
import * as Snapshots from "./internal/snapshot.js"
import * as Warnings from "./internal/warnings.js"
import * as Writer from "./internal/writer.js"
import * as Setting from "./Setting.js"
import { Transport } from "./Transport.js"
import { settings } from "./internal/settings/vacuum.js"

/**
 * What `vacuum` did with one evaluation.
 *
 * - `queued`: its events are on their way to the store.
 * - `handed_off`: the record went to the vacuum's own thread (`EVENT_VACUUM_THREAD=worker`), which
 *   extracts its events there; `events` and `rejectedLines` are 0 here, and the snapshot counts them.
 * - `no_events`, `read_only` (skipped), `no_text` (no log text), `invalid_record` (did not decode).
 * - `not_allowed`: the vacuum's lists leave its process out (`processes`, `excludeProcesses`).
 * - `buffer_full`: what waits for the store is at `maxQueuedBytes` (the store is not keeping up); the events were dropped
 *   (counted, logged) and the watermark did not move, so a re-evaluation would hand them off.
 * - `disabled`: the vacuum is off. `closed`: the layer is shutting down.
 *
 * @since 0.1.0
 */
export interface VacuumSummary {
  readonly outcome:
    | "queued"
    | "handed_off"
    | "no_events"
    | "read_only"
    | "not_allowed"
    | "no_text"
    | "invalid_record"
    | "buffer_full"
    | "disabled"
    | "closed"
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
  /** Events of batches this instance was retrying that another instance took over (its lease ran out). */
  readonly takenOver: number
  /** Events in the outbox now (all instances), of which `inFlight` are being sent. */
  readonly waiting: number
  readonly inFlight: number
  /** Dead letters in the store for this sink. */
  readonly deadLetters: number
  /** Evaluations with events, of processes the sink's lists leave out. */
  readonly notAllowed: number
  /** Events dropped by sampling (their processes over the sink's budget). */
  readonly sampled: number
  /** The processes being sampled now, with their rate (1 in N kept), highest first. */
  readonly overBudget: ReadonlyArray<{ readonly processId: string; readonly sampleRate: number }>
  /** Set when the sink stopped for good, with the reason. */
  readonly stopped?: string
  /** Why the last send failed, while the sink has not answered since (it is being retried). */
  readonly lastError?: string
  /** When the oldest event waiting in the outbox was handed off (epoch ms); none when nothing waits. */
  readonly oldestWaitingAt?: number
  /** When this instance last had events of the sink acknowledged (epoch ms); none yet. */
  readonly lastDeliveryAt?: number
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
    /** Of processes the vacuum's lists leave out. */
    readonly notAllowed: number
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
  /**
   * True while what waits for the store is at its bound (`maxQueuedBytes`):
   * the next evaluation would be dropped. A caller that can wait (the CLI)
   * flushes first; a CU never needs to look.
   */
  readonly unsafeQueueFull: () => boolean
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
 * Its settings, declared once (see `Setting`): the table the CLI, `--help` and README read.
 *
 * @since 0.2.0
 */
export { settings }

/**
 * Settings of the vacuum; every one has a default (see {@link settings}),
 * and `limits` are the extractor's.
 *
 * @since 0.1.0
 */
export type Options = Setting.Options<typeof settings> & {
  /** Extractor limits. */
  readonly limits?: Partial<Limits> | undefined
}

/**
 * The options decoded, every default filled in.
 *
 * @since 0.1.0
 */
export type Settings = Setting.Values<typeof settings> & { readonly limits: Limits }

/**
 * Fills in and checks the options, naming every bad one.
 *
 * @since 0.1.0
 */
export const decodeOptions = (options: Options = {}): Either.Either<Settings, Setting.InvalidSettingsError> =>
  Either.flatMap(Setting.decode(settings, options, "vacuum"), (values) =>
    Duration.lessThan(values.retryMaxDelay, values.retryBaseDelay)
      ? Either.left(
        new Setting.InvalidSettingsError({
          scope: "vacuum",
          issues: [
            `retryMaxDelay (${settings.retryMaxDelay.env}): ${Duration.format(values.retryMaxDelay)} is shorter than ` +
            `retryBaseDelay (${settings.retryBaseDelay.env}), ${Duration.format(values.retryBaseDelay)}`
          ]
        })
      )
      : Either.map(
      Either.mapLeft(makeLimits(options.limits ?? {}), (e) => new Setting.InvalidSettingsError({ scope: "vacuum", issues: e.issues.map((i) => `limits.${i}`) })),
      (limits) => ({ ...values, limits })
    ))

/**
 * Builds the vacuum on the DedupeStore and Transport in context, starting
 * its fibers in the scope.
 *
 * @since 0.1.0
 */
export const make = (
  options: Options = {}
): Effect.Effect<Vacuum["Type"], Setting.InvalidSettingsError, DedupeStore | Transport | Scope> =>
  Effect.map(makeParts(options), (parts) => parts.vacuum)

/**
 * The vacuum and the parts its own thread feeds directly (see
 * `internal/thread`): the intake, the queue to the store, the warnings.
 *
 * @internal
 */
export const makeParts = (
  options: Options = {},
  /** The name its claims go by in the store (one per sink under it); a new one, unless given. */
  owner: string = crypto.randomUUID()
): Effect.Effect<
  {
    readonly vacuum: Vacuum["Type"]
    readonly intake: Intake.Intake
    readonly queue: HandoffQueue
    readonly warnings: Warnings.Warnings
    readonly settings: Settings
    /** The owners of its claims in the store, one a sink. */
    readonly owners: ReadonlyArray<string>
    readonly store: DedupeStore["Type"]
  },
  Setting.InvalidSettingsError,
  DedupeStore | Transport | Scope
> =>
  Effect.gen(function*() {
    const config = yield* decodeOptions(options)
    const store = yield* DedupeStore
    const { sinks } = yield* Transport
    const warnings = yield* Warnings.make()
    const queue = yield* HandoffQueue.make(config.maxQueuedBytes)
    const delivery = yield* Delivery.make(store, sinks, DeliverySettings.fromValues(config), owner)
    // Other instances on the store say when they hand off: their batches are claimed when due, not at the next poll.
    if (store.wakeups !== undefined) yield* Effect.forkScoped(Stream.runForEach(store.wakeups, delivery.hinted))
    const selector = yield* Selecting.fromSettings(config, sinks, store)
    const writer = yield* Writer.make({
      store,
      sinks: sinks.map((s) => s.name),
      queue,
      linger: config.storeLinger,
      select: selector.select,
      prepare: selector.prepare,
      forget: selector.forget,
      onStored: delivery.stored
    })
    const intake = Intake.make({ ...config, allowed: selector.allowed }, queue, warnings)

    const vacuum = (input: unknown): Effect.Effect<VacuumSummary> =>
      Effect.suspend(() => {
        let warning: string | undefined
        const summary = intake.take(input, (message) => (warning = message))
        return warning === undefined ? Effect.succeed(summary) : Effect.as(Effect.logWarning(warning), summary)
      }).pipe(Effect.withSpan("event-vacuum.vacuum", { captureStackTrace: false }))

    const unsafeVacuum = (input: unknown): VacuumSummary => intake.take(input, warnings.logLater)

    const drain = (timeout: Duration.DurationInput): Effect.Effect<boolean> =>
      delivery.flushing(Effect.zipRight(writer.flush, delivery.settled)).pipe(
        Effect.timeoutTo({ duration: timeout, onTimeout: () => false, onSuccess: () => true })
      )

    // Runs before the parts' fibers are interrupted (finalizers run in reverse).
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        intake.close()
        yield* delivery.closing
        // What was queued is stored whatever the timeout (a store that fails counts it as
        // store_failed, so this ends); only the wait for the sinks is bounded.
        yield* Effect.interruptible(writer.flush)
        // Finalizers run uninterruptibly; the bounded wait must be able to give up.
        if (!(yield* Effect.interruptible(drain(config.shutdownTimeout)))) {
          const waiting = delivery.accounts.filter((a) => !a.idle() && a.stopped === undefined).map((a) => a.name)
          yield* Effect.logWarning(
            `event-vacuum: closing with events still waiting for ${waiting.join(", ")}; they stay in the store and are sent on the next start`
          )
        }
      })
    )

    const service = Vacuum.of({
      vacuum,
      unsafeVacuum,
      unsafeQueueFull: () => queue.full,
      flush: writer.flush,
      drain,
      snapshot: Snapshots.make({ intake, queue, writer, accounts: delivery.accounts, store, selector }),
      replayDeadLetters: (options = {}) =>
        Effect.tap(store.replayDeadLetters(options), (replayed) => (replayed > 0 ? delivery.nudge(options.sink) : Effect.void))
    })
    return { vacuum: service, intake, queue, warnings, settings: config, owners: Delivery.owners(owner, sinks), store }
  })

/**
 * A snapshot of nothing: no evaluation received, no sink.
 *
 * @since 0.3.0
 */
export const emptySnapshot = (): Snapshot => ({
  evaluations: { received: 0, readOnly: 0, notAllowed: 0, invalid: 0, noText: 0, failed: 0 },
  events: { found: 0, repaired: 0 },
  lines: emptyCounts(),
  discarded: { buffer_full: 0, store_failed: 0 },
  queued: { events: 0, bytes: 0 },
  sinks: []
})

const DISABLED: VacuumSummary = { outcome: "disabled", events: 0, rejectedLines: 0 }

/**
 * The vacuum, on the DedupeStore and Transport provided to it.
 *
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Vacuum, Setting.InvalidSettingsError, DedupeStore | Transport> =>
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
    unsafeQueueFull: () => false,
    flush: Effect.void,
    drain: () => Effect.succeed(true),
    snapshot: Effect.sync(emptySnapshot),
    replayDeadLetters: () => Effect.succeed(0)
  })
)

/**
 * The vacuum with its options from env (`Setting.config(settings)`, the keys
 * in {@link settings}), or from a `Config` of the caller's own keys.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = Setting.config(settings)
): Layer.Layer<Vacuum, Setting.InvalidSettingsError | ConfigError, DedupeStore | Transport> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
