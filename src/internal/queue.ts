/**
 * Between the CU's call and the store: the evaluations' events waiting for
 * the writer, bounded by the bytes that wait (not a count). The bound is on
 * what waits, not on one evaluation: an evaluation of any size is taken while
 * less than the bound waits, so none is undeliverable because of its size
 * (memory stays under the bound plus one evaluation, which the CU holds anyway). A Mailbox hands the writer
 * everything waiting as one array, with no per-item allocation; a latch is
 * open while nothing waits, for `flush`.
 *
 * @internal
 */
import { Chunk, Effect, Mailbox } from "effect"
import type { Handoff } from "../DedupeStore.js"
import * as Metrics from "../Metrics.js"

/**
 * One evaluation's events, with their bytes; or (`skipped`) an evaluation the
 * vacuum's lists left out, with no events, for the writer to count.
 */
export interface Queued extends Handoff {
  readonly bytes: number
  readonly skipped?: "not_allowed" | undefined
}

export class HandoffQueue {
  private events = 0
  private bytes = 0
  /** Evaluations ever offered and taken, and ever settled: the writer settles them in the order they came. */
  private offeredItems = 0
  private settledItems = 0
  private listener: ((settled: number) => void) | undefined

  private constructor(
    private readonly mailbox: Mailbox.Mailbox<Queued>,
    private readonly empty: Effect.Latch,
    readonly maxBytes: number
  ) {}

  static make(maxBytes: number): Effect.Effect<HandoffQueue> {
    return Effect.map(Mailbox.make<Queued>(), (mailbox) => new HandoffQueue(mailbox, Effect.unsafeMakeLatch(true), maxBytes))
  }

  /** Queues the evaluation, or answers false when what waits is at the bound already. */
  offer(item: Queued): boolean {
    if (this.full) return false
    this.events += item.events.length
    this.bytes += item.bytes
    this.offeredItems++
    this.empty.unsafeClose()
    this.mailbox.unsafeOffer(item)
    return true
  }

  /** Everything waiting, waiting for at least one. */
  get takeAll(): Effect.Effect<ReadonlyArray<Queued>> {
    return Effect.map(this.mailbox.takeAll, ([items]) => Chunk.toReadonlyArray(items))
  }

  /** Whatever waits now, perhaps nothing. */
  get takeWaiting(): Effect.Effect<ReadonlyArray<Queued>> {
    return Effect.map(this.mailbox.clear, Chunk.toReadonlyArray)
  }

  /** The writer is done with these (stored or lost): they leave the bound. */
  settled(items: number, events: number, bytes: number): void {
    this.events -= events
    this.bytes -= bytes
    this.settledItems += items
    if (this.events === 0) this.empty.unsafeOpen()
    Metrics.handoffBufferBytes.unsafeUpdate(this.bytes, [])
    this.listener?.(this.settledItems)
  }

  /** How many evaluations were ever queued: once `settledCount` reaches it, all of them are stored (or lost). */
  get offeredCount(): number {
    return this.offeredItems
  }

  /** Calls `listener` with the count of evaluations ever settled, each time some settle (one listener). */
  onSettled(listener: (settled: number) => void): void {
    this.listener = listener
  }

  /** Waits until nothing is queued. */
  get whenEmpty(): Effect.Effect<void> {
    return this.empty.await
  }

  /** What waits is at the bound: the next evaluation would be dropped. */
  get full(): boolean {
    return this.bytes >= this.maxBytes
  }

  get size(): { readonly events: number; readonly bytes: number } {
    return { events: this.events, bytes: this.bytes }
  }
}
