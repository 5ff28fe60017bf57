/**
 * One sink's accounting, with one owner: what this instance knows waits in
 * the sink's outbox, what it holds in flight, and what it has done. Every
 * change goes through a method here; a batch being sent is a {@link Claim}
 * on the account, so whatever leaves a batch (acknowledged, dead-lettered,
 * handed back, taken over by another instance) leaves the in-flight count
 * with it, and the account knows when it is idle.
 *
 * @internal
 */
import { Effect, MetricLabel, Queue } from "effect"
import type { OutboxEntry, SinkCondition } from "../../DedupeStore.js"
import * as Metrics from "../../Metrics.js"
import type { Sink } from "../../Transport.js"
import type { SinkSnapshot } from "../../Vacuum.js"

/** What an account has done: the snapshot's counts of the sink. */
export type SinkCounts = Pick<SinkSnapshot, "handedOff" | "duplicates" | "delivered" | "deadLettered" | "retries" | "takenOver">

export class SinkAccount {
  // What waits in the outbox as far as this instance knows: its own hand-offs and what it found.
  private pendingEvents = 0
  private pendingBytes = 0
  /** When the oldest of those was handed off. */
  private oldestAt: number | undefined = undefined
  /**
   * What other instances said they handed off (a hint: another may deliver it first). It makes
   * batches due as this instance's own do, but never keeps the account from being idle: what
   * another instance handed off is that instance's to wait for.
   */
  private hintedEvents = 0
  private hintedBytes = 0
  private hintedAt: number | undefined = undefined
  /** Hand-offs and hints so far: a claim that found nothing forgets what waits only if none came meanwhile. */
  private handoffs = 0
  private inFlight = 0
  /**
   * Claims asked of the store and not answered yet. One may already hold rows
   * in the store that another loop's claim, answering nothing meanwhile, did
   * not see: the account is not idle until every claim has answered.
   */
  private claiming = 0
  /**
   * A claim took more than this instance knew of (another instance's events, or a replay's):
   * what else waits is unknown until a claim answers nothing.
   */
  private unsure = false
  private stoppedBecause: string | undefined = undefined
  private failing: string | undefined = undefined
  /** Why the sink does not deliver, for the store; none while it delivers. */
  private current: SinkCondition | undefined = undefined
  /** What the store holds of it, as far as this instance knows: the last written, or what a start found. */
  private noted: SinkCondition | undefined = undefined
  private readonly counts = { handedOff: 0, duplicates: 0, delivered: 0, deadLettered: 0, retries: 0, takenOver: 0 }
  /** While set, partial batches go at once. */
  private flushingNow = false
  /** When the sink last acknowledged events (epoch ms, this instance's clock); none yet. */
  private deliveredAt: number | undefined = undefined
  /** The receiver asked to be left alone until then (a `Retry-After`), epoch ms: no loop sends before. */
  private quietUntil = 0
  private readonly tag: MetricLabel.MetricLabel

  private constructor(
    readonly sink: Sink,
    /** This instance's name for the sink in the store; each delivery loop claims as `owner/<n>`. */
    readonly owner: string,
    /** Rung whenever there may be something to do. */
    readonly doorbell: Queue.Queue<void>,
    /** Open while the account is idle or its sink stopped: what `drain` waits for. */
    readonly settled: Effect.Latch,
    /** Held while the condition is written: one write at a time. */
    readonly noting: Effect.Semaphore
  ) {
    this.tag = MetricLabel.make("sink", sink.name)
  }

  static make(sink: Sink, owner: string): Effect.Effect<SinkAccount> {
    return Effect.map(
      Queue.sliding<void>(1),
      (doorbell) => new SinkAccount(sink, owner, doorbell, Effect.unsafeMakeLatch(true), Effect.unsafeMakeSemaphore(1))
    )
  }

  get name(): string {
    return this.sink.name
  }

  get stopped(): string | undefined {
    return this.stoppedBecause
  }

  get flushing(): boolean {
    return this.flushingNow
  }

  /** Nothing known to wait, nothing in flight, and no claim unanswered. */
  idle(): boolean {
    return this.pendingEvents <= 0 && !this.unsure && this.inFlight === 0 && this.claiming === 0
  }

  snapshot(): SinkCounts {
    return { ...this.counts }
  }

  /** Whether a batch is full (by count or bytes), or the account is flushing. */
  full(maxEvents: number, maxBytes: number): boolean {
    return this.pendingEvents + this.hintedEvents >= maxEvents || this.pendingBytes + this.hintedBytes >= maxBytes ||
      this.flushingNow
  }

  /** Something is known (or said by another instance) to wait in the outbox. */
  hasPending(): boolean {
    return this.pendingEvents > 0 || this.unsure || this.hintedEvents > 0
  }

  /** Millis until the oldest waiting event has waited `flushMillis`. */
  dueIn(now: number, flushMillis: number): number {
    const oldest = Math.min(this.oldestAt ?? now, this.hintedAt ?? now)
    return oldest + flushMillis - now
  }

  ring(): void {
    Queue.unsafeOffer(this.doorbell, undefined)
  }

  /** What a previous run left in the outbox: due at once. */
  resumed(events: number, bytes: number, now: number, flushMillis: number): void {
    if (events === 0) return
    this.pendingEvents += events
    this.pendingBytes += bytes
    this.oldestAt = now - flushMillis
    this.changed()
  }

  /** Something may wait that this instance did not hand off (a replay): look now. */
  nudged(now: number, flushMillis: number): void {
    this.pendingEvents = Math.max(this.pendingEvents, 1)
    this.oldestAt = now - flushMillis
    this.handoffs++
    this.changed()
    this.ring()
  }

  /** The writer stored a hand-off for this sink: `events` new in the outbox, `duplicates` not written. */
  handedOff(events: number, duplicates: number, bytes: number, now: number): void {
    this.counts.handedOff += events
    this.counts.duplicates += duplicates
    if (duplicates > 0) Metrics.deduplicatedEvents.unsafeUpdate(duplicates, [this.tag])
    if (events === 0) return
    Metrics.bufferedEvents.unsafeUpdate(events, [this.tag])
    this.pendingEvents += events
    this.pendingBytes += bytes
    this.oldestAt ??= now
    this.handoffs++
    this.changed()
    this.ring()
  }

  /** Another instance handed off `events` (`bytes`) for this sink at `now`. */
  hinted(events: number, bytes: number, now: number): void {
    if (events <= 0 || this.stoppedBecause !== undefined) return
    this.hintedEvents += events
    this.hintedBytes += bytes
    this.hintedAt ??= now
    this.handoffs++
    this.ring()
  }

  /** The receiver asked (a `Retry-After`) that nothing be sent for `millis` from `now`. */
  quiet(now: number, millis: number): void {
    this.quietUntil = Math.max(this.quietUntil, now + millis)
  }

  /** Millis until the receiver may be sent to again (0: now). */
  quietFor(now: number): number {
    return Math.max(0, this.quietUntil - now)
  }

  /**
   * Call before a claim; pass the answer to {@link claimed}, or call
   * {@link claimFailed} when the claim got no answer. Until then the account
   * is not idle.
   */
  beforeClaim(): number {
    this.claiming++
    this.changed()
    return this.handoffs
  }

  /** A claim begun with {@link beforeClaim} got no answer (the store failed, or the loop was interrupted). */
  claimFailed(): void {
    this.claiming--
    this.changed()
  }

  /**
   * A claim answered `entries`: they are in flight under the returned claim.
   * An empty answer means the outbox had nothing for us, unless a hand-off
   * came while the claim ran.
   */
  claimed(entries: ReadonlyArray<OutboxEntry>, handoffsBefore: number, owner: string): Claim {
    // The claim holds first, then what waits goes down: the account never looks idle in between.
    const claim = new Claim(this, owner, entries)
    this.claiming--
    if (entries.length === 0) {
      if (this.handoffs === handoffsBefore) {
        this.forgetPending()
        this.forgetHints()
        this.unsure = false
      }
    } else {
      // Counted against this instance's own hand-offs first, then against what others said.
      const own = Math.min(entries.length, Math.max(0, this.pendingEvents))
      const beyond = entries.length - own
      this.unsure ||= beyond > this.hintedEvents
      this.pendingEvents -= entries.length
      for (let i = 0; i < entries.length; i++) {
        if (i < own) this.pendingBytes -= entries[i]!.bytes
        else this.hintedBytes -= entries[i]!.bytes
      }
      this.hintedEvents -= beyond
      if (this.hintedEvents <= 0) this.forgetHints()
      if (this.pendingEvents <= 0) {
        this.forgetPending()
        // Counted, not known: a claim takes the outbox's oldest, which may be another instance's
        // hand-offs while this one's still wait. Only a claim that answers nothing says none wait.
        this.unsure = true
      }
      // What is left was handed off no earlier than the last event taken.
      else this.oldestAt = Math.max(this.oldestAt ?? 0, entries[entries.length - 1]!.createdAt)
    }
    Metrics.bufferSizeEvents.unsafeUpdate(Math.max(0, this.pendingEvents), [this.tag])
    this.changed()
    return claim
  }

  /**
   * A send failed (retried or not), for `cause`, at `now`: answers whether
   * that is a new cause, to be said. The sink is failing since the first
   * failure after an answer, or since what the store said at start when it
   * has not answered since.
   */
  failedAttempt(cause: string, now: number): boolean {
    this.counts.retries++
    const changed = cause !== this.failing
    if (changed && this.stoppedBecause === undefined) {
      const since = sinceOf(this.failing === undefined ? this.noted : this.current, "failing") ?? now
      this.current = { failing: { cause, since } }
    }
    this.failing = cause
    return changed
  }

  /** A send got an answer: answers whether the sink was failing until now. */
  answered(): boolean {
    const was = this.failing !== undefined
    this.failing = undefined
    if (this.stoppedBecause === undefined) this.current = undefined
    return was
  }

  /** When the sink last acknowledged events, epoch ms. */
  get lastDeliveryAt(): number | undefined {
    return this.deliveredAt
  }

  /** Why the last send failed, while the sink has not answered since. */
  get lastError(): string | undefined {
    return this.failing
  }

  /** The sink cannot work until its setting is fixed (it stopped at `now`, or when the store says, if it said so at start). */
  stop(reason: string, now: number): void {
    if (this.stoppedBecause === undefined) {
      this.stoppedBecause = reason
      this.current = { stopped: { cause: reason, since: sinceOf(this.noted, "stopped") ?? now } }
    }
    this.changed()
  }

  /** What the store held of the sink when this instance started: its condition until an attempt says otherwise. */
  found(condition: SinkCondition | undefined): void {
    this.current = condition
    this.noted = condition
  }

  /** Why the sink does not deliver now (none while it delivers), as the store should hold it. */
  get condition(): SinkCondition | undefined {
    return this.current
  }

  /** Whether the store may not hold {@link condition} yet: it changed since it was last written. */
  unnoted(): boolean {
    return !sameCondition(this.current, this.noted)
  }

  /** `condition` was written (or its write failed: it is not tried again until the next change). */
  wasNoted(condition: SinkCondition | undefined): void {
    this.noted = condition
  }

  setFlushing(on: boolean): void {
    this.flushingNow = on
    this.ring()
  }

  /** @internal for {@link Claim} */
  holdMore(n: number): void {
    this.inFlight += n
    this.changed()
  }

  /**
   * @internal for {@link Claim}: handed back to the outbox, so waiting again, and due at once.
   * Counted as a hand-off: a claim that was under way (and found them still claimed) forgets nothing.
   */
  handedBack(entries: ReadonlyArray<OutboxEntry>): void {
    if (entries.length === 0) return
    this.pendingEvents = Math.max(0, this.pendingEvents) + entries.length
    for (const e of entries) this.pendingBytes += e.bytes
    this.oldestAt = 0
    this.handoffs++
    this.letGo(entries.length, "released")
  }

  /** @internal for {@link Claim} */
  letGo(n: number, how: "delivered" | "deadLettered" | "takenOver" | "released"): void {
    if (n === 0) return
    this.inFlight -= n
    if (how !== "released") this.counts[how] += n
    if (how === "delivered") {
      Metrics.sentEvents.unsafeUpdate(n, [this.tag])
      this.deliveredAt = Date.now()
    }
    else if (how === "deadLettered") Metrics.deadLetteredEvents.unsafeUpdate(n, [this.tag])
    this.changed()
  }

  private forgetHints(): void {
    this.hintedEvents = 0
    this.hintedBytes = 0
    this.hintedAt = undefined
  }

  private forgetPending(): void {
    this.pendingEvents = 0
    this.pendingBytes = 0
    this.oldestAt = undefined
  }

  /** Keeps `settled` open exactly while the account is idle or stopped. */
  private changed(): void {
    if (this.idle() || this.stoppedBecause !== undefined) this.settled.unsafeOpen()
    else this.settled.unsafeClose()
  }
}

/** Whether two conditions say the same: the same state, cause and time. */
const sameCondition = (a: SinkCondition | undefined, b: SinkCondition | undefined): boolean => {
  if (a === undefined || b === undefined) return a === b
  const ta = "failing" in a ? a.failing : a.stopped
  const tb = "failing" in b ? b.failing : b.stopped
  return ("failing" in a) === ("failing" in b) && ta.cause === tb.cause && ta.since === tb.since
}

/** When `condition` began, if it is `state`. */
const sinceOf = (condition: SinkCondition | undefined, state: "failing" | "stopped"): number | undefined => {
  if (condition === undefined) return undefined
  if (state === "failing") return "failing" in condition ? condition.failing.since : undefined
  return "stopped" in condition ? condition.stopped.since : undefined
}

/**
 * The events of a batch this instance holds in the store, being sent. They
 * leave it only through its methods, each telling the account how.
 */
export class Claim {
  private held: ReadonlyArray<OutboxEntry>

  constructor(
    private readonly account: SinkAccount,
    /** The delivery loop holding it, as the store knows it: only it may renew, acknowledge or release. */
    readonly owner: string,
    entries: ReadonlyArray<OutboxEntry>
  ) {
    this.held = entries
    account.holdMore(entries.length)
  }

  get entries(): ReadonlyArray<OutboxEntry> {
    return this.held
  }

  get size(): number {
    return this.held.length
  }

  get seqs(): Array<number> {
    return this.held.map((e) => e.seq)
  }

  /**
   * The store says this instance still holds only `seqs`: the rest were taken
   * over by another instance after the lease ran out. Answers how many.
   */
  keepOnly(seqs: ReadonlyArray<number>): number {
    const holds = new Set(seqs)
    const kept = this.held.filter((e) => holds.has(e.seq))
    const lost = this.held.length - kept.length
    this.held = kept
    this.account.letGo(lost, "takenOver")
    return lost
  }

  /** These were acknowledged (`delivered`) or dead-lettered; `rest` stays held. */
  settle(delivered: number, deadLettered: number, rest: ReadonlyArray<OutboxEntry>): void {
    this.held = rest
    this.account.letGo(delivered, "delivered")
    this.account.letGo(deadLettered, "deadLettered")
  }

  /** Splits the claim in two halves, each a claim of its own; this one is left empty. */
  split(): readonly [Claim, Claim] {
    const half = Math.ceil(this.held.length / 2)
    // The halves hold first, then this lets go: the account never looks idle in between.
    const halves = [
      new Claim(this.account, this.owner, this.held.slice(0, half)),
      new Claim(this.account, this.owner, this.held.slice(half))
    ] as const
    this.account.letGo(this.held.length, "released")
    this.held = []
    return halves
  }

  /**
   * Everything still held goes back to the outbox (where it waits again); the
   * claim is empty after. Call it once the store has taken them back: until
   * then they are held, and a claim made meanwhile, which does not see them,
   * cannot make the account look idle.
   */
  release(): Array<number> {
    const held = this.held
    this.held = []
    this.account.handedBack(held)
    return held.map((e) => e.seq)
  }
}
