import { assert, describe, it } from "@effect/vitest"
import type { Position } from "../src/Position.js"
import { compareOrdinates, isHandedOff } from "../src/Position.js"

const pos = (timestamp: number, ordinate: string, cron: string | null = null): Position => ({ timestamp, ordinate, cron })

describe("positions", () => {
  it("orders ordinates as numbers when they are digits", () => {
    assert.isBelow(compareOrdinates("9", "10"), 0)
    assert.isAbove(compareOrdinates("100000000000000000001", "99999999999999999999"), 0)
    assert.strictEqual(compareOrdinates("007", "7"), 0)
    assert.strictEqual(compareOrdinates("0", "0"), 0)
  })

  it("covers earlier positions and crons already seen at the watermark's position, in any order", () => {
    const w = { timestamp: 100, ordinate: "5", crons: ["1-10-minutes"] }
    assert.isTrue(isHandedOff(pos(99, "9"), w))
    assert.isTrue(isHandedOff(pos(100, "4", "x"), w))
    assert.isTrue(isHandedOff(pos(100, "5", "1-10-minutes"), w))
    assert.isFalse(isHandedOff(pos(100, "5", "0-10-minutes"), w))
    assert.isFalse(isHandedOff(pos(100, "5"), w))
    assert.isFalse(isHandedOff(pos(100, "6"), w))
    assert.isFalse(isHandedOff(pos(101, "1"), w))
  })
})
