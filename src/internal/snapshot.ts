/**
 * The snapshot: the intake's counts, what is queued, what the writer lost,
 * each sink's account, and the store's view of each outbox.
 *
 * @internal
 */
import { Effect, Either } from "effect"
import type { DedupeStore } from "../DedupeStore.js"
import type { SinkSnapshot, Snapshot } from "../Vacuum.js"
import type { SinkAccount } from "./delivery/account.js"
import type { Intake } from "./intake.js"
import type { Selector } from "./selection.js"
import type { HandoffQueue } from "./queue.js"
import type { Writer } from "./writer.js"

export const make = (parts: {
  readonly intake: Intake
  readonly queue: HandoffQueue
  readonly writer: Writer
  readonly accounts: ReadonlyArray<SinkAccount>
  readonly store: DedupeStore["Type"]
  readonly selector?: Selector | undefined
}): Effect.Effect<Snapshot> =>
  Effect.map(Effect.either(parts.store.stats), (stats) => {
    const bySink = new Map(Either.isRight(stats) ? stats.right.map((s) => [s.sink, s]) : [])
    const c = parts.intake.counts()
    return {
      evaluations: {
        received: c.received,
        readOnly: c.readOnly,
        notAllowed: c.notAllowed,
        invalid: c.invalid,
        noText: c.noText,
        failed: c.failed
      },
      events: { found: c.found, repaired: c.repaired },
      lines: c.lines,
      discarded: { buffer_full: c.bufferFull, store_failed: parts.writer.lost() },
      queued: parts.queue.size,
      sinks: parts.accounts.map((account): SinkSnapshot => {
        const s = bySink.get(account.name)
        return {
          name: account.name,
          ...account.snapshot(),
          ...(parts.selector?.counts(account.name) ?? { notAllowed: 0, sampled: 0, overBudget: [] }),
          waiting: s?.waiting ?? 0,
          inFlight: s?.inFlight ?? 0,
          deadLetters: s?.deadLetters ?? 0,
          ...(account.stopped === undefined ? {} : { stopped: account.stopped }),
          ...(account.lastError === undefined ? {} : { lastError: account.lastError }),
          ...(s?.oldestAt === undefined ? {} : { oldestWaitingAt: s.oldestAt }),
          ...(account.lastDeliveryAt === undefined ? {} : { lastDeliveryAt: account.lastDeliveryAt })
        }
      }),
      ...(Either.isLeft(stats) ? { storeError: stats.left.message } : {})
    }
  })
