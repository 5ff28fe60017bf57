/**
 * Outage: the local Honeycomb (127.0.0.1) first hangs, never answering, then
 * is gone (connection refused), then comes back on the same port. Meanwhile
 * the CU keeps evaluating. The call never waits on the sink (the hung request
 * would hold it for the hour of the send timeout), nothing is dropped, the
 * memory the events take stays in the state file rather than the heap, and
 * once the receiver is back every event is delivered, once.
 *
 * Real HTTP on real time (TestClock cannot drive a socket), with short retry
 * delays.
 */
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"
import * as Honeycomb from "../../src/Transport/Honeycomb.js"
import * as Vacuum from "../../src/Vacuum.js"
import { copiesOfExample, expectedEvents, scale, sleep } from "../support/guarantees.js"
import { heapAfterGc } from "../support/heap.js"
import { FakeHoneycomb } from "../support/honeycomb.js"

const KEY = "outage-test-key-0123456789"
const MAX_QUEUED_BYTES = 1024 * 1024


describe("outage: the receiver hangs, then is gone, then comes back", () => {
  it.scopedLive("the CU never waits, nothing is dropped, the heap does not hold the backlog, all delivered once", () =>
    Effect.gen(function*() {
      let hc = yield* Effect.promise(() => FakeHoneycomb.start(KEY))
      const port = Number(new URL(hc.url).port)
      const receivers = [hc]
      yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(receivers.map((r) => r.close()))))

      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-outage-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const layer = Vacuum.layer({
        maxQueuedBytes: MAX_QUEUED_BYTES,
        flushInterval: "20 millis",
        retryBaseDelay: "20 millis",
        retryMaxDelay: "200 millis",
        shutdownTimeout: "1 second"
      }).pipe(
        Layer.provide(Layer.merge(
          Sqlite.layer({ filename: path.join(dir, "state.db") }),
          Honeycomb.layer({ apiKey: Redacted.make(KEY), dataset: "outage", apiHost: hc.url, timeout: "1 hour" })
        )),
        Layer.provide(NodeHttpClient.layerUndici)
      )
      const vacuum = Context.get(yield* Layer.build(layer), Vacuum.Vacuum)

      const healthy = copiesOfExample(2)
      const during = copiesOfExample(120 * scale, 2)
      const expected = expectedEvents([...healthy, ...during])
      const duringEvents = expectedEvents(during).size

      for (const r of healthy) vacuum.unsafeVacuum(r)
      assert.isTrue(yield* vacuum.drain("30 seconds"), "delivered while healthy")

      // The receiver hangs: it takes requests and never answers.
      hc.fault = () => ({ kind: "slow", millis: 3_600_000 })
      const heapBefore = heapAfterGc()
      const half = Math.floor(during.length / 2)
      let maxQueued = 0
      const take = (records: ReadonlyArray<unknown>) =>
        Effect.gen(function*() {
          for (let i = 0; i < records.length; i++) {
            // Half through the plain call, half through the effect, as either kind of CU calls it.
            const summary = i % 2 === 0 ? vacuum.unsafeVacuum(records[i]) : yield* vacuum.vacuum(records[i])
            assert.oneOf(summary.outcome, ["queued", "no_events", "read_only"], `record ${i}: ${summary.outcome}`)
            if (i % 20 === 19) {
              maxQueued = Math.max(maxQueued, (yield* vacuum.snapshot).queued.bytes)
              // The CU's own I/O between evaluations: the vacuum's fibers run.
              yield* Effect.promise(() => sleep(0))
            }
          }
        })
      const requestsBefore = hc.requests.length
      yield* take(during.slice(0, half))
      yield* vacuum.flush
      // The sink is stuck on a request the receiver holds; the calls above returned all the same.
      while (hc.requests.length === requestsBefore) yield* Effect.promise(() => sleep(10))
      assert.strictEqual(hc.accepted.length, expectedEvents(healthy).size, "nothing accepted while it hangs")

      // The receiver is gone: the held request breaks, new ones are refused.
      yield* Effect.promise(() => hc.close())
      yield* take(during.slice(half))
      yield* vacuum.flush
      yield* Effect.promise(() => sleep(500))
      const down = yield* vacuum.snapshot
      const heapDuring = heapAfterGc()
      assert.strictEqual(down.discarded.buffer_full + down.discarded.store_failed, 0, "nothing dropped")
      assert.isAtMost(maxQueued, MAX_QUEUED_BYTES)
      assert.strictEqual(down.sinks[0]!.waiting, duringEvents, "the backlog is in the state file")
      assert.isAbove(down.sinks[0]!.retries, 0)
      // The backlog's event data alone is several MB; the heap grew by well under half of it.
      const backlogBytes = [...expectedEvents(during).values()].reduce((n, d) => n + d.length, 0)
      assert.isBelow(heapDuring - heapBefore, backlogBytes / 2, `heap grew ${heapDuring - heapBefore} bytes for a backlog of ${backlogBytes}`)

      // Back, on the same port.
      hc = yield* Effect.promise(() => FakeHoneycomb.start(KEY, port))
      receivers.push(hc)
      assert.isTrue(yield* vacuum.drain("60 seconds"), "drained once back")
      const ids = receivers.flatMap((r) => r.ids)
      assert.strictEqual(ids.length, expected.size, "each event accepted once")
      assert.deepStrictEqual(new Set(ids), new Set(expected.keys()))
      const after = yield* vacuum.snapshot
      assert.strictEqual(after.sinks[0]!.waiting, 0)
      assert.strictEqual(after.sinks[0]!.delivered, expected.size)
      console.info(
        `outage test: ${duringEvents} events during the outage (${backlogBytes} bytes), heap after GC grew ` +
          `${heapDuring - heapBefore} bytes, queue peak ${maxQueued} bytes, ${down.sinks[0]!.retries} retries, ` +
          `${expected.size} delivered once`
      )
    }), { timeout: 120_000 * scale })
})
