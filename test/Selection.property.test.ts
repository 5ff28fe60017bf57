/**
 * The sampling decision as a property: a pure function of the eventId and
 * N, and nested (raising N only ever drops events a smaller N kept), so that
 * re-evaluations, restarts and every CU of a fleet decide alike.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { keeps, MAX_RATE, rateFor } from "../src/Selection.js"

const rate = fc.integer({ min: 0, max: 30 }).map((k) => 2 ** k)
const eventId = fc.oneof(fc.string({ minLength: 22, maxLength: 22, unit: fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") }), fc.string())

describe("Selection: the sampling decision", () => {
  it("is a function of (eventId, N) alone: asked again, in any order, it answers the same", () => {
    fc.assert(fc.property(fc.array(fc.tuple(eventId, rate), { minLength: 1, maxLength: 50 }), (pairs) => {
      const first = pairs.map(([id, n]) => keeps(id, n))
      const again = [...pairs].reverse().map(([id, n]) => keeps(id, n)).reverse()
      assert.deepStrictEqual(again, first)
    }))
  })

  it("is nested: what 1 in 2N keeps, 1 in N keeps; 1 in 1 keeps everything", () => {
    fc.assert(fc.property(eventId, rate, (id, n) => {
      assert.isTrue(keeps(id, 1))
      if (n < MAX_RATE && keeps(id, n * 2)) assert.isTrue(keeps(id, n))
    }))
  })

  it("keeps about 1 in N of many ids", () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4 }).map((k) => 2 ** k), fc.integer(), (n, seed) => {
      const ids = Array.from({ length: 100_000 }, (_, i) => `${seed}:${i}`)
      const kept = ids.filter((id) => keeps(id, n)).length
      assert.isTrue(Math.abs(kept * n - ids.length) < ids.length * 0.1, `kept ${kept} of ${ids.length} at 1 in ${n}`)
    }), { numRuns: 20 })
  })

  it("N is the smallest power of two that brings the amount within the limit", () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1e9 }), fc.integer({ min: 1, max: 1e6 }), (amount, limit) => {
      const n = rateFor(amount, limit)
      assert.strictEqual(n & (n - 1), 0)
      assert.isTrue(amount <= limit * n || n === MAX_RATE)
      if (n > 1) assert.isTrue(amount > limit * (n / 2))
    }))
  })
})
