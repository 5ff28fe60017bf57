/**
 * A budget through the OTLP sink: each log record of a sampled event carries
 * its sample rate as the `SampleRate` attribute, read by the local OTLP/HTTP
 * receiver (test/support/otlp.ts) in both protocols.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import type { Sink } from "../../src/Transport.js"
import * as Otlp from "../../src/Transport/Otlp.js"
import { exampleRecords, memory, RecordingSink, start } from "../support/harness.js"
import { FakeOtlp } from "../support/otlp.js"

describe("the OTLP sink, sampled", () => {
  for (const protocol of ["http/protobuf", "http/json"] as const) {
    it.scopedLive(`over a budget, each kept event's log record has the SampleRate attribute it was kept at (${protocol}); an event under it has none`, () =>
      Effect.gen(function*() {
        const r = yield* Effect.acquireRelease(Effect.promise(() => FakeOtlp.start()), (x) => Effect.promise(() => x.close()))
        const http = yield* Layer.build(NodeHttpClient.layerUndici)
        const otlp = yield* Otlp.make({ endpoint: r.url, protocol, flushInterval: "10 millis" }).pipe(Effect.provide(http), Effect.orDie)
        // The same budget for both sinks: the recording sink says which events were kept, at what rate.
        const beside = new RecordingSink("beside")
        const running = yield* start(memory(), [otlp as Sink, beside], { flushInterval: "10 millis", budgetEvents: 2 })
        for (const record of exampleRecords()) running.vacuum.unsafeVacuum(record)
        assert.isTrue(yield* running.vacuum.drain(30_000))

        // An intValue: a bigint from protobuf, as the receiver reads int64 (a number in JSON is a string on the wire).
        const rateOf = (v: unknown) => (v === undefined ? "none" : typeof v === "bigint" || typeof v === "number" ? String(v) : `not an int: ${String(v)}`)
        const got = r.received.map((x) => `${x.attributes.eventId as string} ${rateOf(x.attributes.SampleRate)}`).sort()
        const expected = beside.events.map((e) => `${e.id} ${rateOf(e.sampleRate)}`).sort()
        assert.deepStrictEqual(got, expected)
        assert.isBelow(got.length, 121)
        assert.isTrue(beside.events.some((e) => (e.sampleRate ?? 1) >= 4), "some events sampled at 1 in 4 or more")
        assert.isTrue(beside.events.some((e) => e.sampleRate === undefined), "the first events of a minute stand for themselves")
        for (const request of r.requests) assert.deepStrictEqual(request.problems, [])
      }), { timeout: 60_000 })
  }
})
