import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import type { OutboxEntry } from "../../../src/DedupeStore.js"
import { classify } from "../../../src/internal/delivery/answer.js"
import type { EventStatus as Status } from "../../../src/Transport.js"
import { EventStatus } from "../../../src/Transport.js"

/** An outbox entry made by hand, with its failed attempts so far. */
const entry = (seq: number, attempts = 0): OutboxEntry => ({
  seq,
  id: `id-${seq}`,
  time: 1_700_000_000_000 + seq,
  data: `{"n":${seq}}`,
  bytes: 8,
  attempts,
  createdAt: 1000
})

const accepted = EventStatus.Accepted()
const refused = (reason: string) => EventStatus.Refused({ reason })
const retry = (reason: string) => EventStatus.Retry({ reason })

describe("classify", () => {
  it("acknowledges every accepted event, in order", () => {
    const entries = [entry(11), entry(12), entry(13)]
    const attempts = new Map<number, number>()
    const answer = classify(entries, [accepted, accepted, accepted], attempts, 10)
    assert.deepStrictEqual(answer, { acknowledged: [11, 12, 13], refused: [], again: [], retryReason: "" })
    assert.strictEqual(attempts.size, 0)
  })

  it("reads one status per event, in order: accepted, refused and to retry", () => {
    const entries = [entry(1), entry(2), entry(3), entry(4), entry(5)]
    const attempts = new Map<number, number>()
    const answer = classify(entries, [accepted, refused("too many columns"), retry("503 busy"), accepted, refused("bad time")], attempts, 10)
    assert.deepStrictEqual(answer.acknowledged, [1, 4])
    assert.deepStrictEqual(answer.refused, [{ seq: 2, reason: "too many columns" }, { seq: 5, reason: "bad time" }])
    assert.deepStrictEqual(answer.again, [entries[2]])
    assert.strictEqual(answer.retryReason, "503 busy")
    assert.deepStrictEqual([...attempts], [[3, 1]])
  })

  it("sends again the events without a status, the reason naming the counts, without counting an attempt", () => {
    const entries = [entry(1), entry(2), entry(3)]
    const attempts = new Map<number, number>()
    const answer = classify(entries, [accepted], attempts, 10)
    assert.deepStrictEqual(answer.acknowledged, [1])
    assert.deepStrictEqual(answer.again, [entries[1], entries[2]])
    assert.strictEqual(answer.retryReason, "the sink answered 1 statuses for 3 events")
    assert.strictEqual(attempts.size, 0)
    const none = classify(entries.slice(0, 2), [], attempts, 10)
    assert.deepStrictEqual(none, {
      acknowledged: [],
      refused: [],
      again: entries.slice(0, 2),
      retryReason: "the sink answered 0 statuses for 2 events"
    })
  })

  it("ignores statuses beyond the events", () => {
    const answer = classify([entry(1)], [accepted, refused("extra"), retry("extra")], new Map(), 10)
    assert.deepStrictEqual(answer, { acknowledged: [1], refused: [], again: [], retryReason: "" })
  })

  it("counts attempts from the entry's own attempts, then from the map, updating it", () => {
    const e = entry(7, 3)
    const attempts = new Map<number, number>()
    const first = classify([e], [retry("busy")], attempts, 10)
    assert.deepStrictEqual(first.again, [e])
    assert.strictEqual(attempts.get(7), 4)
    // The map wins over the entry's stored count once it has the seq.
    classify([e], [retry("busy")], attempts, 10)
    assert.strictEqual(attempts.get(7), 5)
    // An accepted or refused event leaves its count as it was.
    classify([e], [accepted], attempts, 10)
    classify([e], [refused("no")], attempts, 10)
    assert.strictEqual(attempts.get(7), 5)
  })

  it("refuses an event once its attempts reach maxEventAttempts, saying why", () => {
    const attempts = new Map<number, number>()
    const tired = entry(9, 9)
    const fresh = entry(10)
    const answer = classify([tired, fresh], [retry("503 busy"), retry("429 slow down")], attempts, 10)
    assert.deepStrictEqual(answer.refused, [{ seq: 9, reason: "gave up after 10 attempts: 503 busy" }])
    assert.deepStrictEqual(answer.again, [fresh])
    assert.strictEqual(answer.retryReason, "429 slow down")
    assert.deepStrictEqual([...attempts].sort(), [[10, 1], [9, 10]].sort())
  })

  it("gives up at once when maxEventAttempts is 1", () => {
    const attempts = new Map<number, number>()
    const answer = classify([entry(1)], [retry("busy")], attempts, 1)
    assert.deepStrictEqual(answer, {
      acknowledged: [],
      refused: [{ seq: 1, reason: "gave up after 1 attempts: busy" }],
      again: [],
      retryReason: ""
    })
    assert.strictEqual(attempts.get(1), 1)
  })

  it("gives up over successive answers, at exactly the limit", () => {
    const e = entry(5)
    const attempts = new Map<number, number>()
    for (let i = 1; i < 3; i++) {
      const answer = classify([e], [retry(`try ${i}`)], attempts, 3)
      assert.deepStrictEqual(answer.again, [e], `attempt ${i}`)
      assert.strictEqual(answer.retryReason, `try ${i}`)
    }
    const last = classify([e], [retry("try 3")], attempts, 3)
    assert.deepStrictEqual(last.refused, [{ seq: 5, reason: "gave up after 3 attempts: try 3" }])
    assert.deepStrictEqual(last.again, [])
  })

  it("answers as retryReason the reason of the last event sent again", () => {
    const entries = [entry(1), entry(2), entry(3), entry(4)]
    const a = classify(entries, [retry("first"), accepted, retry("second"), accepted], new Map(), 10)
    assert.strictEqual(a.retryReason, "second")
    assert.deepStrictEqual(a.again, [entries[0], entries[2]])
    // One that gives up is not sent again: the reason stays the earlier retry's.
    const b = classify([entry(1), entry(2, 9)], [retry("first"), retry("given up")], new Map(), 10)
    assert.strictEqual(b.retryReason, "first")
    // A missing status after a retry: the missing one is the last.
    const c = classify([entry(1), entry(2)], [retry("first")], new Map(), 10)
    assert.strictEqual(c.retryReason, "the sink answered 1 statuses for 2 events")
  })

  it("puts each event in exactly one of acknowledged, refused and again, keeping their order", () => {
    const statusArb: fc.Arbitrary<Status> = fc.oneof(
      fc.constant(accepted),
      fc.string({ maxLength: 5 }).map(refused),
      fc.string({ minLength: 1, maxLength: 5 }).map(retry)
    )
    fc.assert(
      fc.property(
        fc.array(fc.nat(12), { maxLength: 20 }),
        fc.array(statusArb, { maxLength: 24 }),
        fc.integer({ min: 1, max: 12 }),
        (attemptsSoFar, statuses, max) => {
          const entries = attemptsSoFar.map((a, i) => entry(i + 1, a))
          const attempts = new Map<number, number>()
          const answer = classify(entries, statuses, attempts, max)
          const seqs = [...answer.acknowledged, ...answer.refused.map((r) => r.seq), ...answer.again.map((e) => e.seq)]
          assert.deepStrictEqual([...seqs].sort((x, y) => x - y), entries.map((e) => e.seq))
          for (const list of [answer.acknowledged, answer.refused.map((r) => r.seq), answer.again.map((e) => e.seq)]) {
            assert.deepStrictEqual(list, [...list].sort((x, y) => x - y))
          }
          entries.forEach((e, i) => {
            const status = statuses[i]
            if (status === undefined) {
              assert.include(answer.again, e)
              assert.isFalse(attempts.has(e.seq))
            } else if (status._tag === "Accepted") {
              assert.include(answer.acknowledged, e.seq)
            } else if (status._tag === "Refused") {
              assert.deepInclude(answer.refused, { seq: e.seq, reason: status.reason })
            } else {
              const n = e.attempts + 1
              assert.strictEqual(attempts.get(e.seq), n)
              if (n >= max) assert.deepInclude(answer.refused, { seq: e.seq, reason: `gave up after ${n} attempts: ${status.reason}` })
              else assert.include(answer.again, e)
            }
          })
          assert.strictEqual(attempts.size, entries.filter((_, i) => statuses[i]?._tag === "Retry").length)
          assert.strictEqual(answer.again.length === 0, answer.retryReason === "")
        }
      ),
      { numRuns: 300 }
    )
  })
})
