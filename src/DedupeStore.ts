/**
 * The vacuum's durable memory, per sink: a watermark per process (what has
 * been handed off), the outbox (handed off, not yet acknowledged) and the
 * dead letters (refused for good). Backends: `DedupeStore/Sql` (any
 * `SqlClient`), `DedupeStore/Sqlite` (a file, the default, or `:memory:`)
 * and `DedupeStore/Pg` (one PostgreSQL for a fleet of CUs).
 *
 * @since 0.1.0
 */
import { Context, type Effect, Schema, type Stream } from "effect"
import type { OutboundEvent } from "./Enrich.js"
import type { Position, Watermark } from "./Position.js"

/**
 * One evaluation's events, to be handed off to every sink whose watermark
 * does not cover it yet.
 *
 * @since 0.1.0
 */
export interface Handoff {
  readonly processId: string
  readonly position: Position
  readonly events: ReadonlyArray<OutboundEvent>
  /**
   * The events a sink takes instead of `events`, for the sinks that take
   * other ones (none: its lists leave the process out; fewer: sampled).
   */
  readonly bySink?: ReadonlyMap<string, ReadonlyArray<OutboundEvent>> | undefined
  /**
   * UTF-8 bytes of its events' data, before sampling. Given, the store
   * counts the evaluation into its process's totals for each sink whose
   * first hand-off of it this is (above the watermark), and for the vacuum
   * (sink `""`) when no sink had it before: a re-evaluation counts nothing.
   */
  readonly bytes?: number | undefined
  /** How sinks took it other than whole (left out, sampled), for those totals; a sink absent took it all. */
  readonly taken?: ReadonlyMap<string, Taken> | undefined
}

/**
 * A sampler's minute of one process for one sink (see `Selection.Sampler`):
 * kept with the process's totals, moved only by first hand-offs, so that a
 * restarted vacuum goes on where the store stands and decides the same N.
 *
 * @since 0.3.0
 */
export interface SamplerWindow {
  /** The minute of evaluation time counted in: `floor(timestamp / 60000)`. */
  readonly minute: number
  readonly events: number
  readonly bytes: number
  /** What the minute before held, when it was the one just before. */
  readonly previousEvents: number
  readonly previousBytes: number
  /** The rate its last evaluation was sampled at. */
  readonly rate: number
}

/**
 * How one sink took one evaluation, when not whole.
 *
 * @since 0.3.0
 */
export interface Taken {
  /** Its lists leave the process out. */
  readonly notAllowed: boolean
  /** Events dropped by sampling. */
  readonly sampled: number
  readonly sampleRate: number
  /** The sink's sampler after this evaluation. */
  readonly window?: SamplerWindow | undefined
}

/**
 * Where a sink stands with a process: its watermark and its sampler's
 * window, as the store has them.
 *
 * @since 0.3.0
 */
export interface SamplerState {
  readonly sink: string
  readonly processId: string
  readonly watermark?: Pick<Watermark, "timestamp" | "ordinate" | "crons"> | undefined
  readonly window?: SamplerWindow | undefined
}

/**
 * What the writer saw of a process in one group, for a sink or (sink `""`)
 * for the vacuum: added to the process's totals in the hand-off's
 * transaction as it is (evaluations the vacuum's lists left out, which are
 * not handed off; see {@link Handoff.bytes} for those that are).
 *
 * @since 0.3.0
 */
export interface ProcessTally {
  readonly sink: string
  readonly processId: string
  /** Evaluations taken, with their events and bytes of event data. */
  readonly evaluations: number
  readonly events: number
  readonly bytes: number
  /** Events dropped by sampling. */
  readonly sampled: number
  /** Evaluations the lists left out. */
  readonly notAllowed: number
  /** The sample rate of the last evaluation taken: 1 unless it was over budget. */
  readonly sampleRate: number
}

/**
 * A process's totals in the store, for a sink or (sink `""`) for the vacuum.
 *
 * @since 0.3.0
 */
export interface ProcessStats extends ProcessTally {
  /** When they last changed, epoch ms. */
  readonly updatedAt: number
}

/**
 * What a hand-off did for one sink.
 *
 * @since 0.1.0
 */
export interface HandoffResult {
  /** Events written to the sink's outbox. */
  readonly events: number
  /** Events not written because the sink's watermark already covered their evaluation. */
  readonly duplicates: number
}

/**
 * An event in a sink's outbox.
 *
 * @since 0.1.0
 */
export interface OutboxEntry extends OutboundEvent {
  readonly seq: number
  /** UTF-8 bytes of `data`. */
  readonly bytes: number
  /** Failed attempts so far. */
  readonly attempts: number
  /** When it was handed off, epoch ms. */
  readonly createdAt: number
}

/**
 * An event a sink refused for good.
 *
 * @since 0.1.0
 */
export interface DeadLetter extends OutboundEvent {
  readonly seq: number
  readonly sink: string
  readonly reason: string
  readonly attempts: number
  /** When it was dead-lettered, epoch ms. */
  readonly deadAt: number
}

/**
 * Why a sink does not deliver, and since when (epoch ms).
 *
 * @since 0.2.0
 */
export interface SinkTrouble {
  readonly cause: string
  readonly since: number
}

/**
 * What the store keeps of a sink that does not deliver: its last attempts
 * failed (it is retried), or it stopped for good (until its setting is fixed).
 *
 * @since 0.2.0
 */
export type SinkCondition = { readonly failing: SinkTrouble } | { readonly stopped: SinkTrouble }

/**
 * A sink's outbox and dead letters, as counts, and its condition when it does not deliver.
 *
 * @since 0.1.0
 */
export interface SinkStats {
  readonly sink: string
  /** Events in the outbox: handed off, not yet acknowledged. */
  readonly waiting: number
  readonly waitingBytes: number
  /** Of those, how many a delivery fiber holds right now. */
  readonly inFlight: number
  readonly deadLetters: number
  /** When the oldest event waiting was handed off (epoch ms); none when nothing waits. */
  readonly oldestAt?: number
  /** Its last delivery attempt failed, and it has not answered since. */
  readonly failing?: SinkTrouble
  /** It stopped for good. */
  readonly stopped?: SinkTrouble
}

/**
 * The store failed (the database is unreachable, locked too long, full, or
 * not ours). `operation` says which call.
 *
 * @since 0.1.0
 */
export class DedupeStoreError extends Schema.TaggedError<DedupeStoreError>()("DedupeStoreError", {
  operation: Schema.String,
  description: Schema.String,
  cause: Schema.optional(Schema.Defect),
  /** The store may answer again soon: a lost connection, a database restarting, a lock held. */
  transient: Schema.optional(Schema.Boolean)
}) {
  override get message(): string {
    return `state store: ${this.operation} failed: ${this.description}`
  }
}

/**
 * Options for taking a batch from an outbox.
 *
 * @since 0.1.0
 */
export interface ClaimOptions {
  /** The delivery fiber taking it; only it may acknowledge or release what it took. */
  readonly owner: string
  readonly maxEvents: number
  /** At least one event is taken whatever its size. */
  readonly maxBytes: number
  /** How long the claim holds before another owner may take the events (after a crash). */
  readonly leaseMillis: number
}

/**
 * Where following a CU's evaluations table stands for one process: the
 * last position read, and every cron read at exactly that timestamp and
 * ordinate (`""` for none).
 *
 * @since 0.3.0
 */
export interface FollowCursor {
  readonly timestamp: number
  readonly ordinate: string
  readonly crons: ReadonlyArray<string>
}

/**
 * Another instance on the same store handed off (or replayed) `events`
 * events, `bytes` of data, for `sink`: a hint that there is work, which
 * the polling of an idle delivery loop would find later.
 *
 * @since 0.3.0
 */
export interface Wakeup {
  readonly sink: string
  readonly events: number
  readonly bytes: number
}

/**
 * The store.
 *
 * @since 0.1.0
 */
export class DedupeStore extends Context.Tag("ao-event-vacuum/DedupeStore")<DedupeStore, {
  /**
   * In one transaction, for each sink and each evaluation in order: when the
   * sink's watermark for the process does not cover it, writes its events to
   * the sink's outbox and moves the watermark. Two instances on one store
   * never both hand off the same evaluation.
   */
  readonly handOff: (
    sinks: ReadonlyArray<string>,
    handoffs: ReadonlyArray<Handoff>,
    tallies?: ReadonlyArray<ProcessTally>
  ) => Effect.Effect<ReadonlyMap<string, HandoffResult>, DedupeStoreError>
  /** Takes the oldest unclaimed (or expired) events of a sink's outbox, by count and bytes. */
  readonly claim: (sink: string, options: ClaimOptions) => Effect.Effect<ReadonlyArray<OutboxEntry>, DedupeStoreError>
  /** Extends the owner's claim; answers the seqs it still holds. */
  readonly renew: (
    sink: string,
    owner: string,
    seqs: ReadonlyArray<number>,
    leaseMillis: number
  ) => Effect.Effect<ReadonlyArray<number>, DedupeStoreError>
  /** Removes acknowledged events. */
  readonly acknowledge: (sink: string, owner: string, seqs: ReadonlyArray<number>) => Effect.Effect<void, DedupeStoreError>
  /** Gives claimed events back to the outbox, counting a failed attempt when `error` is given. */
  readonly release: (
    sink: string,
    owner: string,
    seqs: ReadonlyArray<number>,
    error?: string
  ) => Effect.Effect<void, DedupeStoreError>
  /**
   * Gives back every claim of owners known to be gone (a vacuum thread that
   * died), so that another takes them at once rather than when their leases
   * run out; answers how many. An owner's claims are its own and those of
   * its loops (`owner/…`).
   */
  readonly releaseOwners: (owners: ReadonlyArray<string>) => Effect.Effect<number, DedupeStoreError>
  /** Moves claimed events to the dead letters with their reasons. */
  readonly deadLetter: (
    sink: string,
    owner: string,
    refused: ReadonlyArray<{ readonly seq: number; readonly reason: string }>
  ) => Effect.Effect<void, DedupeStoreError>
  /** Dead letters, oldest first. */
  readonly deadLetters: (options?: {
    readonly sink?: string | undefined
    readonly limit?: number | undefined
    readonly afterSeq?: number | undefined
  }) => Effect.Effect<ReadonlyArray<DeadLetter>, DedupeStoreError>
  /** Puts dead letters back in their outboxes (all, a sink's, or the given seqs); answers how many. */
  readonly replayDeadLetters: (options?: {
    readonly sink?: string | undefined
    readonly seqs?: ReadonlyArray<number> | undefined
  }) => Effect.Effect<number, DedupeStoreError>
  /** Watermarks, by sink and process. */
  readonly watermarks: (sink?: string) => Effect.Effect<ReadonlyArray<Watermark>, DedupeStoreError>
  /** Records why a sink does not deliver, or (`undefined`) that it delivers again. */
  readonly noteSink: (sink: string, condition: SinkCondition | undefined) => Effect.Effect<void, DedupeStoreError>
  /** Where following a CU's evaluations table stands, by process, for one CU database. */
  readonly cursors: (source: string) => Effect.Effect<ReadonlyMap<string, FollowCursor>, DedupeStoreError>
  /** Moves a process's follow cursor: once what it read is stored. */
  readonly moveCursor: (source: string, processId: string, cursor: FollowCursor) => Effect.Effect<void, DedupeStoreError>
  /**
   * The processes' totals, the most events (or bytes) first: the vacuum's
   * (sink `""`) and every sink's.
   */
  readonly processes: (options?: {
    readonly by?: "events" | "bytes" | undefined
    readonly limit?: number | undefined
    /** Only the sinks' rows of processes sampled now (rate above 1), the highest rate first. */
    readonly overBudget?: boolean | undefined
  }) => Effect.Effect<ReadonlyArray<ProcessStats>, DedupeStoreError>
  /**
   * Where each sink stands with each of the processes (watermark, sampler
   * window): a vacuum that starts goes on from there. Absent, it starts afresh.
   */
  readonly samplerStates?: ((processIds: ReadonlyArray<string>) => Effect.Effect<ReadonlyArray<SamplerState>, DedupeStoreError>) | undefined
  /** Counts per sink with anything waiting or dead-lettered, or a condition noted. */
  readonly stats: Effect.Effect<ReadonlyArray<SinkStats>, DedupeStoreError>
  /**
   * What other instances on the store hand off, as it happens (PostgreSQL's
   * `LISTEN`/`NOTIFY`); none where the store cannot tell (SQLite). Never
   * fails: a lost listener connects again.
   */
  readonly wakeups?: Stream.Stream<Wakeup> | undefined
}>() {}
