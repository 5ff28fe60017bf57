/**
 * Crash, over OTLP: `event-vacuum run` into the local OTLP/HTTP receiver
 * (replies a little late, so that a kill can land after the receiver kept a
 * batch and before the state file knows), killed with SIGKILL at random
 * moments and started again on the same state and input. At the end every
 * event has arrived, as it should read, none lost, and the copies are no more
 * than the batches in flight at the kills (OTLP has no idempotency key: a
 * backend drops them by eventId, the same on every copy).
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cli, copiesOfExample, killAtRandom, expectedOutbound, random, scale, seed, writeNdjson } from "../support/guarantees.js"
import { FakeOtlp } from "../support/otlp.js"

const BATCH = 40
const CONCURRENCY = 2

describe("crash over OTLP: SIGKILL at random moments, restarted on the same state", () => {
  it("every event arrived, none lost, copies no more than the batches in flight at the kills", { timeout: 240_000 * scale }, async () => {
    const kills = 4 * scale
    const theSeed = seed()
    const next = random(theSeed)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-ocrash-"))
    const input = path.join(dir, "evaluations.ndjson")
    const records = copiesOfExample(20 * scale)
    writeNdjson(input, records)
    const expected = expectedOutbound(records)
    const otlp = await FakeOtlp.start({ headers: { "x-honeycomb-team": "crash-key" } })
    otlp.fault = () => ({ kind: "late-reply", millis: Math.floor(next() * 50) })
    const env = {
      EVENT_VACUUM_TRANSPORTS: "otlp",
      EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
      EVENT_VACUUM_FLUSH_INTERVAL: "20 millis",
      EVENT_VACUUM_LEASE: "2 seconds",
      EVENT_VACUUM_DRAIN_TIMEOUT: "90 seconds",
      OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
      OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=crash-key",
      OTLP_BATCH_MAX_EVENTS: String(BATCH),
      OTLP_CONCURRENCY: String(CONCURRENCY)
    }
    const context = `seed ${theSeed} (GUARANTEES_SEED=${theSeed} repeats it)`
    try {
      const realKills = await killAtRandom({ kills, input, env, requests: () => otlp.requests.length, next, context })
      const last = await cli(["run", input], env).exited
      assert.strictEqual(last.code, 0, `${context}: the last run failed:\n${last.stderr}`)

      const ids = otlp.received.map((r) => r.attributes.eventId as string)
      const distinct = new Set(ids)
      const missing = [...expected.keys()].filter((id) => !distinct.has(id))
      assert.deepStrictEqual({ missing: missing.length, unexpected: [...distinct].filter((id) => !expected.has(id)).length }, { missing: 0, unexpected: 0 }, context)
      // A copy is the same event: same id, same time, same processId and nonce.
      for (const r of otlp.received) {
        const event = expected.get(r.attributes.eventId as string)!
        const fields = JSON.parse(event.data) as { processId: string; nonce: number }
        assert.strictEqual(r.timeUnixNano, (BigInt(event.time) * 1_000_000n).toString(), context)
        assert.deepStrictEqual([r.attributes.processId, r.attributes.nonce], [fields.processId, BigInt(fields.nonce)], context)
      }
      const copies = ids.length - distinct.size
      assert.isAtMost(copies, realKills * CONCURRENCY * BATCH, `${context}: ${copies} copies for ${realKills} kills`)
      assert.isAbove(realKills, 0, context)
      const status = await cli(["status", "--state-path", env.EVENT_VACUUM_STATE_PATH], {}).exited
      assert.include(status.stdout, "otlp: 0 waiting", status.stdout)
      console.info(`otlp crash test: ${expected.size} events, ${realKills} kills, ${otlp.requests.length} requests, ${copies} copies (bound ${realKills * CONCURRENCY * BATCH}), ${context}`)
    } finally {
      await otlp.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
