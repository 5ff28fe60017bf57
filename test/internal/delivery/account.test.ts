import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Queue } from "effect"
import * as fc from "fast-check"
import type { OutboxEntry } from "../../../src/DedupeStore.js"
import type { Claim } from "../../../src/internal/delivery/account.js"
import { SinkAccount } from "../../../src/internal/delivery/account.js"
import type { Sink } from "../../../src/Transport.js"
import { allAccepted } from "../../../src/Transport.js"

const sink: Sink = { name: "account-test", send: (batch) => Effect.succeed(allAccepted(batch.length)) }

let nextSeq = 1
/** An outbox entry made by hand: `bytes` of data, handed off at `createdAt`. */
const entry = (fields: Partial<OutboxEntry> = {}): OutboxEntry => {
  const seq = fields.seq ?? nextSeq++
  return { seq, id: `id-${seq}`, time: 1_700_000_000_000 + seq, data: "{}", bytes: 10, attempts: 0, createdAt: 1000, ...fields }
}
const entries = (n: number, fields: Partial<OutboxEntry> = {}): Array<OutboxEntry> => Array.from({ length: n }, () => entry(fields))

/** Whether the latch is open now, seen from outside: a fiber awaiting it finishes at once. */
const latchOpen = (account: SinkAccount): Effect.Effect<boolean> =>
  Effect.gen(function*() {
    const waiter = yield* Effect.fork(account.settled.await)
    yield* Effect.yieldNow()
    yield* Effect.yieldNow()
    const done = waiter.unsafePoll() !== null
    yield* Fiber.interrupt(waiter)
    return done
  })

interface OpenCall {
  /** Events held by the claims made through the spy when `unsafeOpen` was called. */
  readonly holding: number
  readonly idle: boolean
  readonly stopped: boolean
}

/**
 * Spies on the account's latch: records every `unsafeOpen` with what was
 * held at that moment (by the claims made through `claim`/`split`, and the
 * claim being made inside `claimed`), and tracks whether it is open.
 */
const spy = (account: SinkAccount) => {
  const latch = account.settled
  const open = latch.unsafeOpen.bind(latch)
  const close = latch.unsafeClose.bind(latch)
  const claims: Array<Claim> = []
  const opens: Array<OpenCall> = []
  let beingClaimed = 0
  let isOpen = true
  const holding = () => claims.reduce((n, c) => n + c.size, 0) + beingClaimed
  Object.assign(latch, {
    unsafeOpen: () => {
      opens.push({ holding: holding(), idle: account.idle(), stopped: account.stopped !== undefined })
      isOpen = true
      open()
    },
    unsafeClose: () => {
      isOpen = false
      close()
    }
  })
  return {
    claims,
    opens,
    holding,
    isOpen: () => isOpen,
    /** `claimed` through the spy: while it runs, what it is given counts as held (the claim holds first). */
    claim: (taken: ReadonlyArray<OutboxEntry>, before: number = account.beforeClaim()): Claim => {
      beingClaimed = taken.length
      try {
        const claim = account.claimed(taken, before, "o/0")
        claims.push(claim)
        return claim
      } finally {
        beingClaimed = 0
      }
    },
    split: (claim: Claim): readonly [Claim, Claim] => {
      const halves = claim.split()
      claims.push(...halves)
      return halves
    },
    /** Opens while something was held and the sink not stopped: must never happen. */
    badOpens: () => opens.filter((o) => o.holding > 0 && !o.stopped)
  }
}

const zeroCounts = { handedOff: 0, duplicates: 0, delivered: 0, deadLettered: 0, retries: 0, takenOver: 0 }

describe("SinkAccount: a new account", () => {
  it.effect("is idle, settled, not stopped, with nothing counted", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "owner-1")
      assert.strictEqual(account.name, "account-test")
      assert.strictEqual(account.owner, "owner-1")
      assert.isTrue(account.idle())
      assert.isFalse(account.hasPending())
      assert.strictEqual(account.stopped, undefined)
      assert.isFalse(account.flushing)
      assert.isTrue(yield* latchOpen(account))
      assert.deepStrictEqual(account.snapshot(), zeroCounts)
    }))
})

describe("SinkAccount: hand-offs", () => {
  it.effect("a hand-off makes it wait, counts, and rings the doorbell once however many come", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      account.handedOff(3, 1, 30, 1000)
      assert.isFalse(account.idle())
      assert.isTrue(account.hasPending())
      assert.isFalse(yield* latchOpen(account))
      account.handedOff(2, 0, 20, 2000)
      assert.strictEqual(yield* Queue.size(account.doorbell), 1)
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, handedOff: 5, duplicates: 1 })
      // The oldest waiting event was handed off at 1000.
      assert.strictEqual(account.dueIn(1500, 1000), 500)
      assert.isTrue(account.full(5, 1_000_000))
      assert.isFalse(account.full(6, 1_000_000))
      assert.isTrue(account.full(6, 50))
      assert.isFalse(account.full(6, 51))
    }))

  it.effect("a hand-off of duplicates only counts them and leaves it idle", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      account.handedOff(0, 4, 0, 1000)
      assert.isTrue(account.idle())
      assert.isFalse(account.hasPending())
      assert.isTrue(yield* latchOpen(account))
      assert.strictEqual(yield* Queue.size(account.doorbell), 0)
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, duplicates: 4 })
    }))

  it.effect("what a previous run left is due at once; nothing left changes nothing", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      account.resumed(0, 0, 5000, 1000)
      assert.isTrue(account.idle())
      assert.isTrue(yield* latchOpen(account))
      account.resumed(7, 70, 5000, 1000)
      assert.isTrue(account.hasPending())
      assert.isFalse(yield* latchOpen(account))
      assert.strictEqual(account.dueIn(5000, 1000), 0)
      assert.deepStrictEqual(account.snapshot(), zeroCounts)
    }))

  it.effect("a nudge makes it look now", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      account.nudged(5000, 1000)
      assert.isTrue(account.hasPending())
      assert.isFalse(yield* latchOpen(account))
      assert.strictEqual(account.dueIn(5000, 1000), 0)
      assert.strictEqual(yield* Queue.size(account.doorbell), 1)
      // A nudge counts as a hand-off: a claim started before it keeps what waits.
      const before = account.beforeClaim()
      account.nudged(6000, 1000)
      account.claimed([], before, "o/0")
      assert.isTrue(account.hasPending())
      assert.isFalse(yield* latchOpen(account))
    }))
})

describe("SinkAccount: what other instances handed off", () => {
  it.effect("a hint makes batches due like a hand-off, rings the doorbell, and never keeps the account from being idle", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      account.hinted(30, 300, 5000)
      assert.isTrue(account.hasPending())
      assert.isTrue(account.idle())
      assert.isTrue(yield* latchOpen(account))
      assert.strictEqual(yield* Queue.size(account.doorbell), 1)
      assert.strictEqual(account.dueIn(5000, 1000), 1000)
      assert.isFalse(account.full(50, 1_000_000))
      // Its own and the others' together fill a batch, by count or bytes.
      account.handedOff(20, 0, 200, 5500)
      assert.isTrue(account.full(50, 1_000_000))
      assert.isTrue(account.full(1_000, 500))
      assert.strictEqual(account.dueIn(5500, 1000), 500)
      assert.deepStrictEqual(account.snapshot().handedOff, 20)
    }))

  it.effect("a claim takes from its own first, then from the hint, and is sure of what it took", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(2, 0, 20, 1000)
      account.hinted(3, 30, 1000)
      const claim = s.claim(entries(4), account.beforeClaim())
      claim.settle(4, 0, [])
      // One hinted event is left, and its own are counted, not known: it looks again before it is idle.
      assert.isTrue(account.hasPending())
      assert.isFalse(account.idle())
      // More than it knew of, its own and hinted together: unsure until a claim answers nothing.
      const more = s.claim(entries(3), account.beforeClaim())
      more.settle(3, 0, [])
      assert.isFalse(account.idle())
      s.claim([], account.beforeClaim())
      assert.isTrue(account.idle())
      assert.isFalse(account.hasPending())
    }))

  it.effect("a claim that answered nothing forgets the hints, unless one came since beforeClaim", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.hinted(5, 50, 1000)
      const before = account.beforeClaim()
      account.hinted(1, 10, 1100)
      s.claim([], before)
      assert.isTrue(account.hasPending())
      s.claim([], account.beforeClaim())
      assert.isFalse(account.hasPending())
      assert.strictEqual(account.dueIn(7000, 1000), 1000)
    }))

  it.effect("a stopped sink takes no hints", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      account.stop("401", 1000)
      account.hinted(5, 50, 1000)
      assert.isFalse(account.hasPending())
    }))
})

describe("SinkAccount: claims and the settled latch", () => {
  it.effect("a claim of everything keeps it closed until the claim is settled and a claim answers nothing; counts are exact", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(3, 0, 30, 1000)
      const claim = s.claim(entries(3))
      // The three taken may have been another instance's, this one's still waiting: it looks once more.
      assert.isTrue(account.hasPending())
      assert.isFalse(account.full(1_000, 1_000_000))
      assert.isFalse(account.idle())
      assert.isFalse(yield* latchOpen(account))
      assert.strictEqual(claim.size, 3)
      claim.settle(2, 1, [])
      assert.strictEqual(claim.size, 0)
      assert.isFalse(account.idle())
      assert.isFalse(yield* latchOpen(account))
      s.claim([])
      assert.isTrue(account.idle())
      assert.isTrue(yield* latchOpen(account))
      assert.deepStrictEqual(s.badOpens(), [])
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, handedOff: 3, delivered: 2, deadLettered: 1 })
    }))

  it.effect("a settle that keeps some to send again stays closed", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(4, 0, 40, 1000)
      const taken = entries(4)
      const claim = s.claim(taken)
      claim.settle(1, 1, taken.slice(2))
      assert.deepStrictEqual(claim.seqs, taken.slice(2).map((e) => e.seq))
      assert.isFalse(yield* latchOpen(account))
      claim.settle(2, 0, [])
      assert.isFalse(yield* latchOpen(account))
      s.claim([])
      assert.isTrue(yield* latchOpen(account))
      assert.deepStrictEqual(s.badOpens(), [])
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, handedOff: 4, delivered: 3, deadLettered: 1 })
    }))

  it.effect("a claim answering more than was pending never opens it while the events are held, and leaves it unsure", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(2, 0, 20, 1000)
      // Five: what this instance handed off and what another left.
      const claim = s.claim(entries(5))
      assert.isFalse(account.idle())
      assert.isFalse(s.isOpen())
      assert.isFalse(yield* latchOpen(account))
      assert.deepStrictEqual(s.badOpens(), [])
      // It took more than it knew of: what else waits is unknown, so it looks again.
      assert.isTrue(account.hasPending())
      assert.isFalse(account.full(1_000, 1_000_000))
      // Handed back, the five wait again, due at once.
      const seqs = claim.release()
      assert.strictEqual(seqs.length, 5)
      assert.strictEqual(claim.size, 0)
      assert.isFalse(account.idle())
      assert.isFalse(yield* latchOpen(account))
      assert.isTrue(account.full(5, 1_000_000))
      assert.isAtMost(account.dueIn(1000, 1000), 0)
      // They are claimed again and settled; a claim that finds nothing makes it sure, and idle.
      const again = s.claim(entries(5))
      again.settle(5, 0, [])
      assert.isTrue(account.hasPending())
      assert.isFalse(yield* latchOpen(account))
      s.claim([])
      assert.isFalse(account.hasPending())
      assert.isTrue(account.idle())
      assert.isTrue(yield* latchOpen(account))
      assert.deepStrictEqual(s.badOpens(), [])
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, handedOff: 2, delivered: 5 })
    }))

  it.effect("a partial claim leaves the rest waiting, due from the last event taken", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(2, 0, 20, 1000)
      account.handedOff(2, 0, 20, 3000)
      const claim = s.claim([entry({ createdAt: 1000 }), entry({ createdAt: 1000 }), entry({ createdAt: 3000 })])
      assert.isTrue(account.hasPending())
      assert.strictEqual(account.dueIn(3500, 1000), 500)
      assert.isTrue(account.full(1, 1_000_000))
      assert.isFalse(account.full(2, 1_000_000))
      // 40 bytes handed off, 30 taken: 10 left.
      assert.isTrue(account.full(2, 10))
      assert.isFalse(account.full(2, 11))
      claim.settle(3, 0, [])
      // One is still known to wait.
      assert.isFalse(account.idle())
      assert.isFalse(yield* latchOpen(account))
      assert.deepStrictEqual(s.opens, [])
    }))

  it.effect("a split hands the events to two halves without opening it; it opens when the last half is settled", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(5, 0, 50, 1000)
      const taken = entries(5)
      const claim = s.claim(taken)
      const [a, b] = s.split(claim)
      assert.strictEqual(claim.size, 0)
      assert.deepStrictEqual(a.seqs, taken.slice(0, 3).map((e) => e.seq))
      assert.deepStrictEqual(b.seqs, taken.slice(3).map((e) => e.seq))
      assert.isFalse(yield* latchOpen(account))
      const [a1, a2] = s.split(a)
      assert.deepStrictEqual([a1.size, a2.size], [2, 1])
      a1.settle(2, 0, [])
      a2.settle(0, 1, [])
      assert.isFalse(yield* latchOpen(account))
      b.settle(2, 0, [])
      assert.isFalse(yield* latchOpen(account))
      s.claim([])
      assert.isTrue(yield* latchOpen(account))
      assert.deepStrictEqual(s.badOpens(), [])
      assert.strictEqual(s.opens.length, 1)
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, handedOff: 5, delivered: 4, deadLettered: 1 })
    }))

  it.effect("keepOnly lets go of what another instance took over, counting it", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(4, 0, 40, 1000)
      const taken = entries(4)
      const claim = s.claim(taken)
      const [e1, e2, e3, e4] = taken.map((e) => e.seq) as [number, number, number, number]
      assert.strictEqual(claim.keepOnly([e2, e4, 999_999]), 2)
      assert.deepStrictEqual(claim.seqs, [e2, e4])
      assert.isFalse(yield* latchOpen(account))
      assert.strictEqual(claim.keepOnly([e2, e4]), 0)
      assert.strictEqual(claim.keepOnly([e1, e3]), 2)
      assert.strictEqual(claim.size, 0)
      assert.isFalse(yield* latchOpen(account))
      s.claim([])
      assert.isTrue(yield* latchOpen(account))
      assert.deepStrictEqual(s.badOpens(), [])
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, handedOff: 4, takenOver: 4 })
    }))

  it.effect("a claim that answered nothing forgets what was pending when no hand-off came since beforeClaim", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(3, 0, 30, 1000)
      const before = account.beforeClaim()
      const claim = s.claim([], before)
      assert.strictEqual(claim.size, 0)
      assert.isFalse(account.hasPending())
      assert.isTrue(account.idle())
      assert.isTrue(yield* latchOpen(account))
      assert.isFalse(account.full(1, 1))
      assert.strictEqual(account.dueIn(7000, 1000), 1000)
    }))

  it.effect("a claim that answered nothing keeps what is pending when a hand-off came since beforeClaim", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(3, 0, 30, 1000)
      const before = account.beforeClaim()
      account.handedOff(2, 0, 20, 2000)
      s.claim([], before)
      assert.isTrue(account.hasPending())
      assert.isFalse(account.idle())
      assert.isFalse(yield* latchOpen(account))
      assert.isTrue(account.full(5, 1_000_000))
      assert.strictEqual(account.dueIn(1500, 1000), 500)
      assert.deepStrictEqual(s.opens, [])
    }))

  it.effect("counts failed attempts as retries, and says a cause once, until it changes or the sink answers", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      assert.deepStrictEqual(
        ["503", "503", "timeout", "timeout"].map((cause, i) => account.failedAttempt(cause, i)),
        [true, false, true, false]
      )
      assert.strictEqual(account.lastError, "timeout")
      assert.isTrue(account.answered())
      assert.strictEqual(account.lastError, undefined)
      assert.isFalse(account.answered())
      assert.isTrue(account.failedAttempt("timeout", 9))
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, retries: 5 })
      assert.isTrue(yield* latchOpen(account))
    }))

  it.effect("keeps the condition for the store, changed only when the cause changes, the sink answers or stops", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      assert.isFalse(account.unnoted())
      account.failedAttempt("503", 100)
      const first = account.condition
      assert.deepStrictEqual(first, { failing: { cause: "503", since: 100 } })
      assert.isTrue(account.unnoted())
      account.wasNoted(first)
      // The same cause again is no change: nothing to write for every retry.
      account.failedAttempt("503", 200)
      assert.strictEqual(account.condition, first)
      assert.isFalse(account.unnoted())
      // A new cause is a change; the sink is still failing since its first failure.
      account.failedAttempt("timeout", 300)
      assert.deepStrictEqual(account.condition, { failing: { cause: "timeout", since: 100 } })
      assert.isTrue(account.unnoted())
      account.wasNoted(account.condition)
      account.answered()
      assert.strictEqual(account.condition, undefined)
      assert.isTrue(account.unnoted())
      account.wasNoted(undefined)
      account.answered()
      assert.isFalse(account.unnoted())
      // Failing again, later: since then.
      account.failedAttempt("503", 400)
      assert.deepStrictEqual(account.condition, { failing: { cause: "503", since: 400 } })
      account.stop("sink account-test: Rejected: 401", 500)
      assert.deepStrictEqual(account.condition, { stopped: { cause: "sink account-test: Rejected: 401", since: 500 } })
      // A stopped sink stays stopped, whatever its other loops see after.
      account.failedAttempt("timeout", 600)
      account.answered()
      account.stop("another reason", 700)
      assert.deepStrictEqual(account.condition, { stopped: { cause: "sink account-test: Rejected: 401", since: 500 } })
    }))

  it.effect("takes up what the store held at start: failing since then until the sink answers", () =>
    Effect.gen(function*() {
      const failing = yield* SinkAccount.make(sink, "o")
      failing.found({ failing: { cause: "503", since: 50 } })
      assert.isFalse(failing.unnoted())
      failing.failedAttempt("timeout", 100)
      assert.deepStrictEqual(failing.condition, { failing: { cause: "timeout", since: 50 } })
      failing.wasNoted(failing.condition)
      failing.answered()
      assert.isTrue(failing.unnoted())
      assert.strictEqual(failing.condition, undefined)

      // Stopped last time: the first answer clears it, a stop again keeps the first time.
      const stopped = yield* SinkAccount.make(sink, "o")
      stopped.found({ stopped: { cause: "401", since: 50 } })
      stopped.answered()
      assert.isTrue(stopped.unnoted())
      assert.strictEqual(stopped.condition, undefined)
      const again = yield* SinkAccount.make(sink, "o")
      again.found({ stopped: { cause: "401", since: 50 } })
      again.failedAttempt("Unavailable", 100)
      assert.deepStrictEqual(again.condition, { failing: { cause: "Unavailable", since: 100 } })
      again.stop("401", 200)
      assert.deepStrictEqual(again.condition, { stopped: { cause: "401", since: 50 } })
    }))

  it.effect("flushing makes any batch full and rings the doorbell", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      account.setFlushing(true)
      assert.isTrue(account.flushing)
      assert.isTrue(account.full(100, 100))
      assert.strictEqual(yield* Queue.size(account.doorbell), 1)
      account.setFlushing(false)
      assert.isFalse(account.full(100, 100))
    }))
})

describe("SinkAccount: claims under way", () => {
  // Two delivery loops of one sink claim at once. On PostgreSQL a claim skips the rows another
  // claim holds locked, so one may answer nothing while the other's rows are taken but not yet
  // known here: the account must not look idle (and `drain` answer true) in between.
  it.effect("a claim that answers nothing while another is unanswered leaves it closed; the other's rows are then held", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(3, 0, 30, 1000)
      const first = account.beforeClaim()
      const second = account.beforeClaim()
      s.claim([], second)
      assert.isFalse(account.idle())
      assert.isFalse(yield* latchOpen(account))
      const claim = s.claim(entries(3), first)
      assert.strictEqual(claim.size, 3)
      assert.isFalse(yield* latchOpen(account))
      claim.settle(3, 0, [])
      // Taken, not known to be all: a claim that answers nothing says so.
      assert.isFalse(yield* latchOpen(account))
      s.claim([])
      assert.isTrue(yield* latchOpen(account))
      assert.deepStrictEqual(s.badOpens(), [])
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, handedOff: 3, delivered: 3 })
    }))

  it.effect("a claim that got no answer (the store failed) no longer keeps it from being idle", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      account.beforeClaim()
      assert.isFalse(account.idle())
      assert.isFalse(yield* latchOpen(account))
      account.claimFailed()
      assert.isTrue(account.idle())
      assert.isTrue(yield* latchOpen(account))
    }))

  it.effect("events handed back count as a hand-off: a claim under way that found them still claimed forgets nothing", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(2, 0, 20, 1000)
      const claim = s.claim(entries(2))
      const before = account.beforeClaim()
      // The store has them back only now; the claim under way answered before it did.
      claim.release()
      s.claim([], before)
      assert.isTrue(account.hasPending())
      assert.isFalse(account.idle())
      assert.isFalse(yield* latchOpen(account))
      // And due at once.
      assert.isAtMost(account.dueIn(5000, 1000), 0)
    }))
})

describe("SinkAccount: stop", () => {
  it.effect("opens the latch even while a claim is held, and keeps the first reason", () =>
    Effect.gen(function*() {
      const account = yield* SinkAccount.make(sink, "o")
      const s = spy(account)
      account.handedOff(2, 0, 20, 1000)
      const claim = s.claim(entries(2))
      assert.isFalse(yield* latchOpen(account))
      account.stop("sink test: Rejected: 401 unknown API key", 1)
      assert.strictEqual(account.stopped, "sink test: Rejected: 401 unknown API key")
      assert.isTrue(yield* latchOpen(account))
      account.stop("a second reason", 2)
      assert.strictEqual(account.stopped, "sink test: Rejected: 401 unknown API key")
      // Whatever happens after, a stopped account stays settled.
      account.handedOff(3, 0, 30, 2000)
      assert.isTrue(yield* latchOpen(account))
      s.claim(entries(1))
      assert.isTrue(yield* latchOpen(account))
      claim.release()
      assert.isTrue(yield* latchOpen(account))
      assert.deepStrictEqual(s.opens.map((o) => o.stopped), s.opens.map(() => true))
      assert.deepStrictEqual(account.snapshot(), { ...zeroCounts, handedOff: 5 })
    }))
})

type Op =
  | { readonly _tag: "handedOff"; readonly events: number; readonly duplicates: number }
  | { readonly _tag: "claim"; readonly n: number; readonly handOffMeanwhile: number }
  | { readonly _tag: "begin" }
  | { readonly _tag: "land"; readonly pick: number; readonly n: number }
  | { readonly _tag: "claimFailed"; readonly pick: number }
  | { readonly _tag: "split"; readonly pick: number }
  | { readonly _tag: "keepOnly"; readonly pick: number; readonly mask: number }
  | { readonly _tag: "settle"; readonly pick: number; readonly delivered: number; readonly deadLettered: number }
  | { readonly _tag: "release"; readonly pick: number }
  | { readonly _tag: "resumed"; readonly events: number }
  | { readonly _tag: "nudged" }
  | { readonly _tag: "stop" }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ _tag: fc.constant("handedOff" as const), events: fc.nat(4), duplicates: fc.nat(2) }) },
  { weight: 4, arbitrary: fc.record({ _tag: fc.constant("claim" as const), n: fc.nat(6), handOffMeanwhile: fc.nat(2) }) },
  // Claims of several loops under way at once, answered in any order.
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("begin" as const) }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("land" as const), pick: fc.nat(), n: fc.nat(4) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("claimFailed" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("split" as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("keepOnly" as const), pick: fc.nat(), mask: fc.nat(63) }) },
  {
    weight: 3,
    arbitrary: fc.record({ _tag: fc.constant("settle" as const), pick: fc.nat(), delivered: fc.nat(6), deadLettered: fc.nat(6) })
  },
  { weight: 2, arbitrary: fc.record({ _tag: fc.constant("release" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("resumed" as const), events: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("nudged" as const) }) },
  { weight: 1, arbitrary: fc.record({ _tag: fc.constant("stop" as const) }) }
)

/** Runs the operations, checking the latch after each, and answers the counts it expected. */
const runOps = (ops: ReadonlyArray<Op>) =>
  Effect.gen(function*() {
    const account = yield* SinkAccount.make(sink, "o")
    const s = spy(account)
    const expected = { ...zeroCounts }
    let now = 1000
    const live = () => s.claims.filter((c) => c.size > 0)
    /** Claims begun and not answered: what each `beforeClaim` returned. */
    const underWay: Array<number> = []
    for (const [step, op] of ops.entries()) {
      now += 10
      switch (op._tag) {
        case "handedOff":
          account.handedOff(op.events, op.duplicates, op.events * 10, now)
          expected.handedOff += op.events
          expected.duplicates += op.duplicates
          break
        case "claim": {
          const before = account.beforeClaim()
          if (op.handOffMeanwhile > 0) {
            account.handedOff(op.handOffMeanwhile, 0, op.handOffMeanwhile * 10, now)
            expected.handedOff += op.handOffMeanwhile
          }
          s.claim(entries(op.n, { createdAt: now }), before)
          break
        }
        case "begin":
          underWay.push(account.beforeClaim())
          break
        case "land": {
          if (underWay.length === 0) break
          const [before] = underWay.splice(op.pick % underWay.length, 1)
          s.claim(entries(op.n, { createdAt: now }), before)
          break
        }
        case "claimFailed": {
          if (underWay.length === 0) break
          underWay.splice(op.pick % underWay.length, 1)
          account.claimFailed()
          break
        }
        case "split": {
          const claims = live()
          if (claims.length > 0) s.split(claims[op.pick % claims.length]!)
          break
        }
        case "keepOnly": {
          const claims = live()
          if (claims.length === 0) break
          const claim = claims[op.pick % claims.length]!
          const keep = claim.seqs.filter((_, i) => (op.mask & (1 << i)) !== 0)
          const had = claim.size
          const lost = claim.keepOnly(keep)
          assert.strictEqual(lost, had - keep.length)
          assert.deepStrictEqual(claim.seqs, keep)
          expected.takenOver += lost
          break
        }
        case "settle": {
          const claims = live()
          if (claims.length === 0) break
          const claim = claims[op.pick % claims.length]!
          const delivered = Math.min(op.delivered, claim.size)
          const deadLettered = Math.min(op.deadLettered, claim.size - delivered)
          claim.settle(delivered, deadLettered, claim.entries.slice(delivered + deadLettered))
          expected.delivered += delivered
          expected.deadLettered += deadLettered
          break
        }
        case "release": {
          const claims = live()
          if (claims.length > 0) claims[op.pick % claims.length]!.release()
          break
        }
        case "resumed":
          account.resumed(op.events, op.events * 10, now, 1000)
          break
        case "nudged":
          account.nudged(now, 1000)
          break
        case "stop":
          account.stop(`stopped at step ${step}`, now)
          break
      }
      const where = `after step ${step} (${JSON.stringify(op)})`
      const stopped = account.stopped !== undefined
      const shouldBeOpen = account.idle() || stopped
      assert.strictEqual(s.isOpen(), shouldBeOpen, where)
      assert.strictEqual(yield* latchOpen(account), shouldBeOpen, where)
      if (s.holding() > 0) assert.isFalse(account.idle(), `held but idle ${where}`)
      if (underWay.length > 0) assert.isFalse(account.idle(), `a claim under way but idle ${where}`)
      assert.deepStrictEqual(s.badOpens(), [], `opened while a claim held events, ${where}`)
      assert.deepStrictEqual(account.snapshot(), expected, where)
    }
    // Everything answered and let go: idle unless something is known to wait.
    for (const _ of underWay.splice(0)) account.claimFailed()
    for (const claim of live()) claim.release()
    assert.strictEqual(account.idle(), !account.hasPending())
    assert.strictEqual(yield* latchOpen(account), !account.hasPending() || account.stopped !== undefined)
    assert.deepStrictEqual(s.badOpens(), [])
  })

describe("SinkAccount: the settled latch over random sequences", () => {
  it("is open exactly when idle or stopped, and never opens while a claim holds events or is under way", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40 }), (ops) => Effect.runPromise(runOps(ops))),
      { numRuns: 300 }
    )
  })
})
