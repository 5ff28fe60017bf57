/**
 * What selection keeps in the store, on each backend: a process's totals
 * counted from first hand-offs only, each sink's sampler window kept with
 * them and read back with the watermark; and through the vacuum on
 * PostgreSQL, a history split in two runs keeping the events one run keeps.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Handoff, SamplerWindow, Taken } from "../src/DedupeStore.js"
import { DedupeStore } from "../src/DedupeStore.js"
import * as Pg from "../src/DedupeStore/Pg.js"
import type { OutboundEvent } from "../src/Enrich.js"
import { makeDatabase } from "./support/cuPg.js"
import { exampleRecords, RecordingSink, start } from "./support/harness.js"
import { handoff, memory, pos } from "./support/store.js"

const pgDatabase = Effect.acquireRelease(Effect.sync(() => makeDatabase("event_vacuum_selection")), (db) => Effect.sync(db.drop))
const pgStore = Layer.unwrapScoped(Effect.map(pgDatabase, (db) => Pg.layer({ url: db.url })))
const backends = [{ name: "SQLite", backend: memory }, { name: "PostgreSQL", backend: pgStore }] as const

const window = (minute: number, events: number, rate: number): SamplerWindow => ({
  minute,
  events,
  bytes: events * 10,
  previousEvents: 3,
  previousBytes: 30,
  rate
})

/** An evaluation of P with `n` events of 10 bytes, taken by sink `b` as `taken` says. */
const evaluation = (ordinate: number, n: number, taken?: Taken): Handoff => ({
  ...handoff(pos(60_000 + ordinate, String(ordinate)), n, "P"),
  bytes: n * 10,
  ...(taken === undefined ? {} : { taken: new Map([["b", taken]]) })
})

for (const { backend, name } of backends) {
  describe(`Selection in the store (${name})`, () => {
    it.scoped("a process's totals count each evaluation once per sink, at its first hand-off; the vacuum's once, when no sink had it", () =>
      Effect.gen(function*() {
        const store = yield* DedupeStore
        const rows = () =>
          Effect.map(store.processes(), (all) => Object.fromEntries(all.map(({ updatedAt: _, processId: __, ...s }) => [s.sink, s])))
        yield* store.handOff(["a", "b"], [
          evaluation(1, 4, { notAllowed: false, sampled: 3, sampleRate: 4, window: window(1, 4, 4) }),
          evaluation(2, 2, { notAllowed: true, sampled: 0, sampleRate: 1 })
        ])
        const first = yield* rows()
        assert.deepStrictEqual(first, {
          "": { sink: "", evaluations: 2, events: 6, bytes: 60, sampled: 0, notAllowed: 0, sampleRate: 1 },
          a: { sink: "a", evaluations: 2, events: 6, bytes: 60, sampled: 0, notAllowed: 0, sampleRate: 1 },
          b: { sink: "b", evaluations: 1, events: 4, bytes: 40, sampled: 3, notAllowed: 1, sampleRate: 4 }
        })
        // The CU evaluates both again: nothing counts twice.
        yield* store.handOff(["a", "b"], [evaluation(1, 4), evaluation(2, 2)])
        assert.deepStrictEqual(yield* rows(), first)
        // A sink added since (c) takes them for the first time: its own rows count them, the vacuum's do not.
        yield* store.handOff(["a", "b", "c"], [evaluation(1, 4), evaluation(2, 2)])
        const withC = yield* rows()
        assert.deepStrictEqual(withC[""], first[""])
        assert.deepStrictEqual(withC.c, { sink: "c", evaluations: 2, events: 6, bytes: 60, sampled: 0, notAllowed: 0, sampleRate: 1 })
        // Tallies given as they are (evaluations the vacuum's lists left out, never handed off) count as given.
        yield* store.handOff(["a"], [], [{ sink: "", processId: "Q", evaluations: 0, events: 0, bytes: 0, sampled: 0, notAllowed: 2, sampleRate: 1 }])
        assert.strictEqual((yield* store.processes()).find((s) => s.processId === "Q")?.notAllowed, 2)
      }).pipe(Effect.provide(backend)))

    it.scoped("a sink's sampler window is kept with its first hand-offs and read back with the watermark; a later evaluation without one keeps it", () =>
      Effect.gen(function*() {
        const store = yield* DedupeStore
        assert.deepStrictEqual(yield* store.samplerStates!(["P"]), [])
        yield* store.handOff(["a", "b"], [
          evaluation(1, 2, { notAllowed: false, sampled: 0, sampleRate: 1, window: window(1, 2, 1) }),
          evaluation(2, 8, { notAllowed: false, sampled: 6, sampleRate: 8, window: window(1, 10, 8) })
        ])
        // A re-evaluation with another window (as a vacuum that counted it again would give) moves nothing.
        yield* store.handOff(["b"], [evaluation(2, 8, { notAllowed: false, sampled: 0, sampleRate: 1, window: window(9, 1, 1) })])
        // Left out by b's lists: b's window stays as it was.
        yield* store.handOff(["a", "b"], [evaluation(3, 1, { notAllowed: true, sampled: 0, sampleRate: 1 })])
        const states = [...yield* store.samplerStates!(["P", "other"])].sort((x, y) => (x.sink < y.sink ? -1 : 1))
        assert.deepStrictEqual(states, [
          { sink: "a", processId: "P", watermark: { timestamp: 60_003, ordinate: "3", crons: [""] } },
          { sink: "b", processId: "P", watermark: { timestamp: 60_003, ordinate: "3", crons: [""] }, window: window(1, 10, 8) }
        ])
      }).pipe(Effect.provide(backend)))
  })
}

describe("Selection: the same N after a restart, on PostgreSQL", () => {
  it.scopedLive("the example split in two runs at record 30 on one PostgreSQL state keeps exactly the events one run keeps", () =>
    Effect.gen(function*() {
      const options = { flushInterval: "10 millis", budgetEvents: 2 } as const
      const runOn = (layer: Layer.Layer<DedupeStore, unknown>, records: ReadonlyArray<Record<string, unknown>>) =>
        Effect.gen(function*() {
          const sink = new RecordingSink("test")
          const running = yield* start(layer, [sink], options)
          for (const r of records) running.vacuum.unsafeVacuum(r)
          assert.isTrue(yield* running.vacuum.drain(60_000))
          yield* running.close
          return sink.events
        })
      const rates = (events: ReadonlyArray<OutboundEvent>) => events.map((e) => `${e.id} 1/${e.sampleRate ?? 1}`).sort()
      const records = exampleRecords()
      const whole = yield* runOn(Layer.fresh(memory), records)
      const db = yield* pgDatabase
      const head = yield* runOn(Pg.layer({ url: db.url }), records.slice(0, 30))
      const tail = yield* runOn(Pg.layer({ url: db.url }), records.slice(30))
      assert.deepStrictEqual(rates([...head, ...tail]), rates(whole))
      assert.isBelow(whole.length, 121)
    }), { timeout: 60_000 })
})
