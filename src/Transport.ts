/**
 * Where events go: the sinks. A `Transport` service is a list of named sinks;
 * the vacuum gives each its own watermark, outbox and delivery fiber, so a
 * slow or failing sink never holds up another.
 *
 * A sink only sends. Batching, retries, timeouts, durability and dedupe are
 * the vacuum's, so a sink is a few lines: take a batch, answer one status per
 * event, or fail the whole batch with a {@link TransportError}.
 *
 * @since 0.1.0
 */
import type { Duration } from "effect"
import { Context, Data, Effect, Layer, Schema } from "effect"
import type { OutboundEvent } from "./Enrich.js"
import type { SinkSelection } from "./internal/settings/selection.js"

/**
 * A sink's answer for one event of a batch.
 *
 * @since 0.1.0
 */
export type EventStatus = Data.TaggedEnum<{
  /** The sink has it: the event counts as delivered. */
  Accepted: {}
  /** The sink will never take it (say, a per-event 400): it is dead-lettered with the reason. */
  Refused: { readonly reason: string }
  /**
   * Not this time (say, a per-event 503): it is sent again later. `transient`
   * says it is not the event's fault (the sink is throttling it): such a retry
   * does not count toward the event's attempt limit.
   */
  Retry: { readonly reason: string; readonly transient?: boolean }
}>

/**
 * Constructors for {@link EventStatus}.
 *
 * @since 0.1.0
 */
export const EventStatus = Data.taggedEnum<EventStatus>()

/**
 * The shared "accepted" status, so that an all-accepted answer allocates little.
 *
 * @since 0.1.0
 */
export const accepted: EventStatus = EventStatus.Accepted()

/**
 * An answer accepting every event of a batch of `n`.
 *
 * @since 0.1.0
 */
export const allAccepted = (n: number): ReadonlyArray<EventStatus> => new Array<EventStatus>(n).fill(accepted)

/**
 * A whole batch failed. `Unavailable` and `Timeout` are retried under the
 * schedule; `TooLarge` makes the vacuum split the batch; `Rejected` stops the
 * sink (a wrong key, a missing dataset): its events stay in the outbox until
 * the setting is fixed and the vacuum restarted.
 *
 * @since 0.1.0
 */
export class TransportError extends Schema.TaggedError<TransportError>()("TransportError", {
  sink: Schema.String,
  reason: Schema.Literal("Unavailable", "Timeout", "TooLarge", "Rejected"),
  description: Schema.String,
  /**
   * How long the receiver asked to be left alone (an HTTP `Retry-After`), in
   * milliseconds: the next attempt waits at least this long, or the
   * schedule's delay when that is longer.
   */
  retryAfterMillis: Schema.optional(Schema.Number)
}) {
  override get message(): string {
    return `sink ${this.sink}: ${this.reason}: ${this.description}`
  }
}

/**
 * One destination.
 *
 * @since 0.1.0
 */
export interface Sink {
  /** Unique among the sinks: it keys the sink's watermark and outbox. */
  readonly name: string
  /** Sends one batch; answers one status per event, in order. */
  readonly send: (batch: ReadonlyArray<OutboundEvent>) => Effect.Effect<ReadonlyArray<EventStatus>, TransportError>
  /** The largest batch the sink takes, when it has a limit of its own. */
  readonly maxBatchEvents?: number | undefined
  /** The largest batch in bytes of `data` the sink takes, when it has a limit of its own. */
  readonly maxBatchBytes?: number | undefined
  /** How long a partial batch waits, when the sink wants its own (else the vacuum's). */
  readonly flushInterval?: Duration.DurationInput | undefined
  /** How long one send may take, when the sink wants its own (else the vacuum's). */
  readonly sendTimeout?: Duration.DurationInput | undefined
  /** How many batches may be in flight at once. Default 1. */
  readonly concurrency?: number | undefined
  /**
   * The processes the sink takes and its budget, on top of the vacuum's
   * (see `Selection`): checked when the vacuum starts.
   */
  readonly selection?: (SinkSelection & { readonly envPrefix?: string | undefined }) | undefined
}

/**
 * The sinks the vacuum delivers to.
 *
 * @since 0.1.0
 */
export class Transport extends Context.Tag("ao-event-vacuum/Transport")<Transport, {
  readonly sinks: ReadonlyArray<Sink>
}>() {}

/**
 * A bad sink setup: an empty or duplicate name, a missing setting.
 *
 * @since 0.1.0
 */
export class TransportConfigError extends Schema.TaggedError<TransportConfigError>()("TransportConfigError", {
  description: Schema.String
}) {
  override get message(): string {
    return this.description
  }
}

/**
 * A `Transport` of the given sinks, checking that their names are unique.
 *
 * @since 0.1.0
 */
export const make = (sinks: ReadonlyArray<Sink>): Effect.Effect<Transport["Type"], TransportConfigError> =>
  Effect.suspend(() => {
    const seen = new Set<string>()
    for (const sink of sinks) {
      if (sink.name.length === 0) {
        return Effect.fail(new TransportConfigError({ description: "a sink has an empty name" }))
      }
      if (seen.has(sink.name)) {
        return Effect.fail(
          new TransportConfigError({ description: `two sinks are named ${JSON.stringify(sink.name)}; give each its own name` })
        )
      }
      seen.add(sink.name)
    }
    return Effect.succeed(Transport.of({ sinks }))
  })

/**
 * A layer of one sink.
 *
 * @since 0.1.0
 */
export const layerSink = <E, R>(sink: Effect.Effect<Sink, E, R>): Layer.Layer<Transport, E | TransportConfigError, R> =>
  Layer.effect(Transport, Effect.flatMap(sink, (s) => make([s])))
