/**
 * A budget through the Kinesis sink: each record of a sampled event carries
 * its sample rate (`samplerate` in the record's JSON, beside `time`), read
 * back from a real local Kinesis (kinesalite on 127.0.0.1).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { OutboundEvent } from "../../src/Enrich.js"
import type { Sink } from "../../src/Transport.js"
import * as Kinesis from "../../src/Transport/Kinesis.js"
import { startKinesalite } from "../support/kinesis.js"
import { exampleRecords, memory, RecordingSink, start } from "../support/harness.js"

/** An event's data and rate, as a line to compare: `<data> 1/<rate>`. */
const line = (data: unknown, rate: number | undefined) => `${JSON.stringify(data)} 1/${rate ?? 1}`

describe("the Kinesis sink, sampled", () => {
  it.scopedLive("over a budget, each kept event's record carries its samplerate, the one its event was kept at; an event under it has none", () =>
    Effect.gen(function*() {
      const k = yield* Effect.acquireRelease(
        Effect.promise(async () => {
          const local = await startKinesalite()
          await local.createStream("events", 1)
          return local
        }),
        (local) => Effect.promise(() => local.close())
      )
      const kinesis = yield* Kinesis.make({
        streamName: "events",
        endpoint: k.endpoint,
        credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "test-secret" },
        timeout: "2 seconds",
        flushInterval: "10 millis"
      })
      // The same budget for both sinks: the recording sink says which events were kept, at what rate.
      const beside = new RecordingSink("beside")
      const running = yield* start(memory(), [kinesis as Sink, beside], { flushInterval: "10 millis", budgetEvents: 2 })
      for (const r of exampleRecords()) running.vacuum.unsafeVacuum(r)
      assert.isTrue(yield* running.vacuum.drain(30_000))

      const records = (yield* Effect.promise(() => k.readAll("events"))).map((r) =>
        JSON.parse(r.data) as { time: string; samplerate?: number; data: Record<string, unknown> }
      )
      const expected = beside.events.map((e: OutboundEvent) => line(JSON.parse(e.data), e.sampleRate))
      assert.deepStrictEqual(records.map((r) => line(r.data, r.samplerate)).sort(), expected.sort())
      assert.isBelow(records.length, 121)
      assert.isTrue(records.some((r) => (r.samplerate ?? 1) >= 4), "some records sampled at 1 in 4 or more")
      assert.isTrue(records.some((r) => r.samplerate === undefined), "the first events of a minute stand for themselves")
      // samplerate sits between time and data, as the file sink writes it; never 1.
      for (const r of records) {
        assert.deepStrictEqual(Object.keys(r), r.samplerate === undefined ? ["time", "data"] : ["time", "samplerate", "data"])
        assert.notStrictEqual(r.samplerate, 1)
      }
    }), { timeout: 60_000 })
})
