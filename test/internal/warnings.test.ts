import { assert, describe, it } from "@effect/vitest"
import { Effect, Logger, LogLevel, TestClock } from "effect"
import { make } from "../../src/internal/warnings.js"

const more = (message: string, n: number) => `${message} (and ${n} more like it since the last such warning)`

describe("warnings: admit", () => {
  it.scoped("admits the first warning of a kind as it is", () =>
    Effect.gen(function*() {
      const warnings = yield* make()
      assert.strictEqual(warnings.admit("dropped", "dropped an evaluation: queue full"), "dropped an evaluation: queue full")
    }))

  it.scoped("holds back the next ones within the interval and says how many when the interval has passed", () =>
    Effect.gen(function*() {
      const warnings = yield* make("1 second")
      assert.strictEqual(warnings.admit("dropped", "first"), "first")
      assert.strictEqual(warnings.admit("dropped", "second"), undefined)
      yield* TestClock.adjust("500 millis")
      assert.strictEqual(warnings.admit("dropped", "third"), undefined)
      yield* TestClock.adjust("499 millis")
      assert.strictEqual(warnings.admit("dropped", "fourth"), undefined)
      // 1000 ms after the first: the interval has passed.
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(warnings.admit("dropped", "fifth"), more("fifth", 3))
    }))

  it.scoped("counts from the last admitted warning, and says nothing more when none was held back", () =>
    Effect.gen(function*() {
      const warnings = yield* make("1 second")
      assert.strictEqual(warnings.admit("bad", "a"), "a")
      assert.strictEqual(warnings.admit("bad", "b"), undefined)
      yield* TestClock.adjust("1 second")
      assert.strictEqual(warnings.admit("bad", "c"), more("c", 1))
      // The interval runs from "c", not from "a".
      yield* TestClock.adjust("600 millis")
      assert.strictEqual(warnings.admit("bad", "d"), undefined)
      assert.strictEqual(warnings.admit("bad", "e"), undefined)
      yield* TestClock.adjust("400 millis")
      assert.strictEqual(warnings.admit("bad", "f"), more("f", 2))
      yield* TestClock.adjust("5 seconds")
      assert.strictEqual(warnings.admit("bad", "g"), "g")
      yield* TestClock.adjust("1 second")
      assert.strictEqual(warnings.admit("bad", "h"), "h")
    }))

  it.scoped("keeps each kind apart", () =>
    Effect.gen(function*() {
      const warnings = yield* make("1 second")
      assert.strictEqual(warnings.admit("dropped", "d1"), "d1")
      assert.strictEqual(warnings.admit("bad", "b1"), "b1")
      assert.strictEqual(warnings.admit("dropped", "d2"), undefined)
      assert.strictEqual(warnings.admit("dropped", "d3"), undefined)
      assert.strictEqual(warnings.admit("bad", "b2"), undefined)
      yield* TestClock.adjust("300 millis")
      assert.strictEqual(warnings.admit("store", "s1"), "s1")
      yield* TestClock.adjust("700 millis")
      assert.strictEqual(warnings.admit("dropped", "d4"), more("d4", 2))
      assert.strictEqual(warnings.admit("bad", "b3"), more("b3", 1))
      // "store" first warned 700 ms ago: still held back.
      assert.strictEqual(warnings.admit("store", "s2"), undefined)
      yield* TestClock.adjust("300 millis")
      assert.strictEqual(warnings.admit("store", "s3"), more("s3", 1))
    }))

  it.scoped("uses the interval it is made with", () =>
    Effect.gen(function*() {
      const warnings = yield* make("10 seconds")
      assert.strictEqual(warnings.admit("k", "one"), "one")
      yield* TestClock.adjust("9999 millis")
      assert.strictEqual(warnings.admit("k", "two"), undefined)
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(warnings.admit("k", "three"), more("three", 1))
    }))

  it.scoped("admits every warning with an interval of zero", () =>
    Effect.gen(function*() {
      const warnings = yield* make(0)
      assert.strictEqual(warnings.admit("k", "one"), "one")
      assert.strictEqual(warnings.admit("k", "two"), "two")
      assert.strictEqual(warnings.admit("k", "three"), "three")
    }))
})

describe("warnings: logLater", () => {
  const capture = () => {
    const logs: Array<{ readonly level: LogLevel.LogLevel; readonly message: ReadonlyArray<unknown> }> = []
    const logger = Logger.make(({ logLevel, message }) => {
      logs.push({ level: logLevel, message: Array.isArray(message) ? message : [message] })
    })
    return { logs, layer: Logger.replace(Logger.defaultLogger, logger) }
  }

  it.scoped("logs a warning on the logger of the scope it was made in, from a plain call", () =>
    Effect.gen(function*() {
      const { layer, logs } = capture()
      const warnings = yield* make().pipe(Effect.provide(layer))
      // A plain call, as from a callback outside any fiber.
      warnings.logLater("the store is slow")
      warnings.logLater("the store is slower")
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      yield* TestClock.adjust(0)
      assert.deepStrictEqual(logs, [
        { level: LogLevel.Warning, message: ["the store is slow"] },
        { level: LogLevel.Warning, message: ["the store is slower"] }
      ])
    }))

  it.scoped("logs nothing until it is called", () =>
    Effect.gen(function*() {
      const { layer, logs } = capture()
      const warnings = yield* make().pipe(Effect.provide(layer))
      warnings.admit("k", "admitted, not logged")
      for (let i = 0; i < 5; i++) yield* Effect.yieldNow()
      assert.deepStrictEqual(logs, [])
    }))
})
