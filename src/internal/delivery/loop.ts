/**
 * One sink's delivery loop: waits until a batch is full or due (by count,
 * bytes and the flush interval), claims it from the outbox and delivers it.
 * An idle loop still looks now and then for what other instances or a replay
 * left.
 *
 * @internal
 */
import { Clock, Duration, Effect, Metric, Option, Queue } from "effect"
import type { OutboxEntry } from "../../DedupeStore.js"
import { DedupeStore } from "../../DedupeStore.js"
import * as Metrics from "../../Metrics.js"
import type { SinkAccount } from "./account.js"
import { deliver, noteCondition } from "./batch.js"
import { describeDefect } from "../warnings.js"
import type { DeliverySettings } from "./settings.js"

/** Waits until the doorbell rings and `ready` holds (true), or `millis` pass (false). */
const waitFor = (account: SinkAccount, ready: () => boolean, millis: number): Effect.Effect<boolean> =>
  Effect.raceFirst(
    Effect.as(Effect.repeat(Queue.take(account.doorbell), { until: ready }), true),
    Effect.as(Effect.sleep(Duration.millis(Math.max(0, millis))), false)
  )

const loop = (account: SinkAccount, settings: DeliverySettings, owner: string): Effect.Effect<void, never, DedupeStore> =>
  Effect.gen(function*() {
    const store = yield* DedupeStore
    const { maxBatchBytes: maxBytes, maxBatchEvents: maxEvents } = settings
    const flushMillis = Duration.toMillis(settings.flushInterval)
    const idleMillis = Duration.toMillis(settings.idlePoll)
    const leaseMillis = Duration.toMillis(settings.lease)
    const ready = () => account.full(maxEvents, maxBytes)

    while (account.stopped === undefined) {
      if (!account.hasPending()) {
        // Nothing known to wait: sleep until a hand-off, or poll.
        if (yield* waitFor(account, () => account.hasPending() || account.flushing, idleMillis)) continue
      } else if (!ready()) {
        const due = account.dueIn(yield* Clock.currentTimeMillis, flushMillis)
        if (due > 0) yield* waitFor(account, ready, due)
      }
      // A receiver that asked to be left alone: nothing is claimed (so nothing is taken over and sent) before then.
      const quiet = account.quietFor(yield* Clock.currentTimeMillis)
      if (quiet > 0) {
        yield* Effect.sleep(Duration.millis(quiet))
        continue
      }
      // Until the claim answers, the account is not idle: rows it took may be what another loop's
      // claim, answering nothing meanwhile, did not see (PostgreSQL skips rows a claim holds locked).
      const before = account.beforeClaim()
      const batch = yield* store.claim(account.name, { owner, maxEvents, maxBytes, leaseMillis }).pipe(
        Effect.map(Option.some),
        Effect.catchAll((error) =>
          Effect.as(
            Effect.zipRight(
              Metric.increment(Metric.tagged(Metric.tagged(Metrics.sendErrors, "sink", account.name), "reason", "store_failed")),
              Effect.logError(`sink ${account.name}: cannot read the outbox`, error)
            ),
            Option.none<ReadonlyArray<OutboxEntry>>()
          )
        ),
        Effect.onInterrupt(() => Effect.sync(() => account.claimFailed()))
      )
      if (Option.isNone(batch)) {
        account.claimFailed()
        yield* Effect.sleep(Duration.millis(idleMillis))
        continue
      }
      const claim = account.claimed(batch.value, before, owner)
      if (claim.size > 0) yield* deliver(account, settings, claim)
    }
  })

/**
 * Delivery loop number `n` of one sink. Returns when the sink stopped for good;
 * a defect in it (a bug) stops this sink alone, logged, never the others.
 * Each loop claims under an owner of its own, so a loop whose lease ran out
 * mid-retry loses the events to a sibling that claims them, as it would to
 * another instance, instead of both sending them.
 */
export const run = (account: SinkAccount, settings: DeliverySettings, n: number): Effect.Effect<void, never, DedupeStore> =>
  loop(account, settings, `${account.owner}/${n}`).pipe(
    Effect.catchAllDefect((defect) =>
      Effect.gen(function*() {
        const store = yield* DedupeStore
        // Noted before whoever waits for the stop can close the layer.
        yield* Effect.uninterruptible(Effect.flatMap(Clock.currentTimeMillis, (now) => {
          account.stop(`crashed: ${describeDefect(defect)}`, now)
          return noteCondition(store, account)
        }))
        yield* Effect.logError(`sink ${account.name} stopped: its delivery crashed`, defect)
      })
    )
  )
