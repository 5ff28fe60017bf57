/**
 * Crash, into Kinesis: `event-vacuum run` into a local Kinesis (kinesalite
 * behind the fault proxy, replies a little late so that a kill can land
 * after Kinesis stored a batch and before the state file knows), killed with
 * SIGKILL at random moments and started again on the same state and input.
 * At the end every event is in the stream, none lost, and the copies are no
 * more than the batches in flight at the kills (Kinesis has no idempotency
 * key: a consumer drops them by eventId, the same on every copy).
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cli, copiesOfExample, killAtRandom, expectedEvents, random, scale, seed, writeNdjson } from "../support/guarantees.js"
import { startKinesalite, startKinesisProxy } from "../support/kinesis.js"

const BATCH = 40
const CONCURRENCY = 2

describe("crash into Kinesis: SIGKILL at random moments, restarted on the same state", () => {
  it("every event in the stream, none lost, copies no more than the batches in flight at the kills", { timeout: 240_000 * scale }, async () => {
    const kills = 4 * scale
    const theSeed = seed()
    const next = random(theSeed)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-kcrash-"))
    const input = path.join(dir, "evaluations.ndjson")
    const records = copiesOfExample(20 * scale)
    writeNdjson(input, records)
    const expected = expectedEvents(records)
    const kinesis = await startKinesalite()
    await kinesis.createStream("crash", 4)
    const proxy = await startKinesisProxy(kinesis)
    proxy.fault = (call) => (call.target === "PutRecords" ? { kind: "late-reply", millis: Math.floor(next() * 50) } : undefined)
    const env = {
      EVENT_VACUUM_TRANSPORTS: "kinesis",
      EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
      EVENT_VACUUM_FLUSH_INTERVAL: "20 millis",
      EVENT_VACUUM_LEASE: "2 seconds",
      EVENT_VACUUM_DRAIN_TIMEOUT: "90 seconds",
      KINESIS_STREAM_NAME: "crash",
      KINESIS_ENDPOINT: proxy.endpoint,
      KINESIS_BATCH_MAX_EVENTS: String(BATCH),
      KINESIS_CONCURRENCY: String(CONCURRENCY),
      AWS_ACCESS_KEY_ID: "AKIDCRASHTEST",
      AWS_SECRET_ACCESS_KEY: "crash-test-secret",
      AWS_REGION: "us-east-1"
    }
    const context = `seed ${theSeed} (GUARANTEES_SEED=${theSeed} repeats it)`
    try {
      const realKills = await killAtRandom({ kills, input, env, requests: () => proxy.putRecordsCalls, next, context })
      const last = await cli(["run", input], env).exited
      assert.strictEqual(last.code, 0, `${context}: the last run failed:\n${last.stderr}`)

      const stored = (await kinesis.readAll("crash")).map((r) => JSON.parse(r.data) as { data: { eventId: string } & Record<string, unknown> })
      const ids = stored.map((s) => s.data.eventId)
      const distinct = new Set(ids)
      const missing = [...expected.keys()].filter((id) => !distinct.has(id))
      assert.deepStrictEqual({ missing: missing.length, unexpected: [...distinct].filter((id) => !expected.has(id)).length }, { missing: 0, unexpected: 0 }, context)
      // A copy is the same event: same id, same data.
      for (const s of stored) assert.deepStrictEqual(s.data, JSON.parse(expected.get(s.data.eventId)!), context)
      const copies = ids.length - distinct.size
      assert.isAtMost(copies, realKills * CONCURRENCY * BATCH, `${context}: ${copies} copies for ${realKills} kills`)
      assert.isAbove(realKills, 0, context)
      const status = await cli(["status", "--state-path", env.EVENT_VACUUM_STATE_PATH], {}).exited
      assert.include(status.stdout, "kinesis: 0 waiting", status.stdout)
      console.info(`kinesis crash test: ${expected.size} events, ${realKills} kills, ${proxy.putRecordsCalls} requests, ${copies} copies (bound ${realKills * CONCURRENCY * BATCH}), ${context}`)
    } finally {
      await proxy.close()
      await kinesis.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
