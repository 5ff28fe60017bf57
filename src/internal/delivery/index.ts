/**
 * Delivery: an account and `concurrency` delivery loops per sink, each sink
 * on its own outbox, so a failing sink never blocks, delays or duplicates
 * another. The writer tells it what each group handed off; `drain` waits for
 * every sink to settle.
 *
 * @internal
 */
import type { Scope } from "effect"
import { Clock, Duration, Effect } from "effect"
import type { HandoffResult, Wakeup } from "../../DedupeStore.js"
import { DedupeStore } from "../../DedupeStore.js"
import type { Sink } from "../../Transport.js"
import { SinkAccount } from "./account.js"
import * as Loop from "./loop.js"
import type { DeliverySettings } from "./settings.js"

export interface Delivery {
  readonly accounts: ReadonlyArray<SinkAccount>
  /** The writer stored a group of `events` events (`bytes` bytes). */
  readonly stored: (results: ReadonlyMap<string, HandoffResult>, bytes: number, events: number, now: number) => void
  /** Another instance handed off to a sink's outbox. */
  readonly hinted: (wakeup: Wakeup) => Effect.Effect<void>
  /** Something waits in the outbox of the sink (or of every sink) that this instance did not hand off. */
  readonly nudge: (sink: string | undefined) => Effect.Effect<void>
  /** While `effect` runs, partial batches go at once instead of waiting for the flush interval. */
  readonly flushing: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** From now on, partial batches always go at once. */
  readonly closing: Effect.Effect<void>
  /** Waits until every sink is idle (nothing it knows of waits or is in flight) or stopped. */
  readonly settled: Effect.Effect<void>
}

/** The vacuum's settings with the sink's own overrides. */
const forSink = (sink: Sink, settings: DeliverySettings): DeliverySettings => ({
  ...settings,
  maxBatchEvents: Math.min(settings.maxBatchEvents, sink.maxBatchEvents ?? Infinity),
  maxBatchBytes: Math.min(settings.maxBatchBytes, sink.maxBatchBytes ?? Infinity),
  flushInterval: sink.flushInterval === undefined ? settings.flushInterval : Duration.decode(sink.flushInterval),
  sendTimeout: sink.sendTimeout === undefined ? settings.sendTimeout : Duration.decode(sink.sendTimeout)
})

/** The name a sink's claims go by in the store: the vacuum's owner and the sink's name. */
const ownerOf = (owner: string, sink: { readonly name: string }): string => `${owner}/${sink.name}`

/** Every name the claims of a vacuum (`owner`) go by, one a sink. */
export const owners = (owner: string, sinks: ReadonlyArray<{ readonly name: string }>): ReadonlyArray<string> =>
  sinks.map((sink) => ownerOf(owner, sink))

/** Opens an account per sink, picks up what a previous run left, and starts the loops in the scope. */
export const make = (
  store: DedupeStore["Type"],
  sinks: ReadonlyArray<Sink>,
  settings: DeliverySettings,
  owner: string
): Effect.Effect<Delivery, never, Scope.Scope> =>
  Effect.gen(function*() {
    const accounts = yield* Effect.forEach(sinks, (sink) => SinkAccount.make(sink, ownerOf(owner, sink)))
    const byName = new Map(accounts.map((a) => [a.name, a]))
    const flushMillis = Duration.toMillis(settings.flushInterval)

    // What a previous run left is due at once.
    const left = yield* Effect.orElseSucceed(store.stats, () => [])
    const startedAt = yield* Clock.currentTimeMillis
    for (const stats of left) {
      const account = byName.get(stats.sink)
      account?.resumed(stats.waiting, stats.waitingBytes, startedAt, flushMillis)
      // Why the sink did not deliver last time: cleared by its first answer, kept while it fails.
      account?.found(
        stats.stopped !== undefined ? { stopped: stats.stopped } : stats.failing !== undefined ? { failing: stats.failing } : undefined
      )
    }

    // Composite fan-out: every sink's loops run concurrently, each on its own outbox.
    yield* Effect.forkScoped(
      Effect.all(
        accounts.flatMap((account) => {
          const own = forSink(account.sink, settings)
          const n = Math.max(1, Math.floor(account.sink.concurrency ?? 1))
          return Array.from({ length: n }, (_, i) => Loop.run(account, own, i))
        }),
        { concurrency: "unbounded", discard: true }
      ).pipe(Effect.provideService(DedupeStore, store))
    )

    let drains = 0
    let closed = false
    const setFlushing = (delta: number) =>
      Effect.sync(() => {
        drains += delta
        for (const account of accounts) account.setFlushing(closed || drains > 0)
      })

    return {
      accounts,
      stored: (results, bytes, events, now) => {
        for (const [name, r] of results) {
          // Bytes per sink, estimated from the group's share.
          byName.get(name)?.handedOff(r.events, r.duplicates, Math.round(bytes * (r.events / Math.max(1, events))), now)
        }
      },
      hinted: (wakeup) => Effect.map(Clock.currentTimeMillis, (now) => byName.get(wakeup.sink)?.hinted(wakeup.events, wakeup.bytes, now)),
      nudge: (sink) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          for (const account of accounts) if (sink === undefined || sink === account.name) account.nudged(now, flushMillis)
        }),
      flushing: (effect) => Effect.acquireUseRelease(setFlushing(1), () => effect, () => setFlushing(-1)),
      closing: Effect.suspend(() => {
        closed = true
        return setFlushing(0)
      }),
      settled: Effect.forEach(accounts, (account) => account.settled.await, { concurrency: "unbounded", discard: true })
    }
  })
