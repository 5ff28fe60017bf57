/**
 * Crash: `event-vacuum run` over a large input, into the local Honeycomb on
 * 127.0.0.1, on a real SQLite state file, killed with SIGKILL at random
 * moments and started again on the same state with the same input (a CU
 * restarting evaluates from where it was, and earlier messages again). At the
 * end every event was accepted, none was lost, and the duplicates are no
 * more than the batches in flight at the kills, each carrying the same id and
 * the same data as the first time.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cli, copiesOfExample, expectedEvents, random, scale, seed, sleep, writeNdjson } from "../support/guarantees.js"
import { FakeHoneycomb } from "../support/honeycomb.js"

const KEY = "crash-test-key-0123456789"
const BATCH = 40
const CONCURRENCY = 2

describe("crash: SIGKILL at random moments, restarted on the same state", () => {
  it("every event accepted, none lost, duplicates no more than the batches in flight at the kills", { timeout: 240_000 * scale }, async () => {
    const kills = 8 * scale
    const theSeed = seed()
    const next = random(theSeed)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-crash-"))
    const input = path.join(dir, "evaluations.ndjson")
    const records = copiesOfExample(50 * scale)
    writeNdjson(input, records)
    const expected = expectedEvents(records)

    const hc = await FakeHoneycomb.start(KEY)
    // Every reply comes a little late, after the events are accepted: a kill in
    // between is a batch the receiver has and the state file does not know of.
    hc.fault = () => ({ kind: "late-reply", millis: Math.floor(next() * 50) })
    const env = {
      EVENT_VACUUM_TRANSPORTS: "honeycomb",
      EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
      EVENT_VACUUM_FLUSH_INTERVAL: "20 millis",
      // A killed run's claims expire soon, so the next run can send them.
      EVENT_VACUUM_LEASE: "2 seconds",
      EVENT_VACUUM_DRAIN_TIMEOUT: "90 seconds",
      HONEYCOMB_API_HOST: hc.url,
      HONEYCOMB_API_KEY: KEY,
      HONEYCOMB_DATASET: "crash",
      HONEYCOMB_BATCH_MAX_EVENTS: String(BATCH),
      HONEYCOMB_CONCURRENCY: String(CONCURRENCY)
    }
    const context = `seed ${theSeed} (GUARANTEES_SEED=${theSeed} repeats it)`
    try {
      const killedAfter: Array<number> = []
      let acceptedAtKills = 0
      for (let k = 0; k < kills; k++) {
        const run = cli(["run", input], env)
        const startedAt = Date.now()
        const requestsBefore = hc.requests.length
        // Every other kill waits for this run's first request, then lands while it sends;
        // the others land anywhere (startup and the migration take a good part of a second).
        const whileSending = k % 2 === 0
        const moment = whileSending
          ? (async () => {
            while (hc.requests.length === requestsBefore && Date.now() - startedAt < 20_000) await sleep(5)
            await sleep(Math.floor(next() * 400))
          })()
          : sleep(200 + Math.floor(next() * 3000))
        const ended = await Promise.race([run.exited.then(() => true), moment.then(() => false)])
        if (!ended) run.kill()
        const exit = await run.exited
        killedAfter.push(ended ? -1 : Date.now() - startedAt)
        if (ended) assert.strictEqual(exit.code, 0, `${context}: run ${k} ended by itself but failed:\n${exit.stderr}`)
        acceptedAtKills = hc.accepted.length
      }
      const last = cli(["run", input], env)
      const exit = await last.exited
      assert.strictEqual(exit.code, 0, `${context}: the last run failed:\n${exit.stderr}`)

      const ids = hc.ids
      const distinct = new Set(ids)
      const missing = [...expected.keys()].filter((id) => !distinct.has(id))
      const unexpected = [...distinct].filter((id) => !expected.has(id))
      assert.deepStrictEqual({ missing: missing.length, unexpected: unexpected.length }, { missing: 0, unexpected: 0 }, context)
      assert.strictEqual(distinct.size, expected.size)

      // A re-sent event is the same event: same id, same data.
      for (const accepted of hc.accepted) {
        const { eventId, ...rest } = accepted.data
        assert.deepStrictEqual({ eventId, ...rest }, JSON.parse(expected.get(String(eventId))!), context)
      }
      const duplicates = ids.length - distinct.size
      const realKills = killedAfter.filter((ms) => ms >= 0).length
      assert.isAtMost(duplicates, realKills * CONCURRENCY * BATCH, `${context}: ${duplicates} duplicates for ${realKills} kills`)
      // The last run only finished what was left: the kills did land while there was work.
      assert.isAbove(acceptedAtKills, 0, context)

      // Nothing left behind in the state file.
      const status = cli(["status", "--state-path", env.EVENT_VACUUM_STATE_PATH], {})
      const statusExit = await status.exited
      assert.strictEqual(statusExit.code, 0, statusExit.stderr)
      assert.include(statusExit.stdout, "honeycomb: 0 waiting", statusExit.stdout)
      console.info(
        `crash test: ${expected.size} events, ${realKills} kills (after ${killedAfter.join(", ")} ms; -1: it ended by itself), ` +
          `${hc.requests.length} requests, ${duplicates} duplicates (bound ${realKills * CONCURRENCY * BATCH}), ${context}`
      )
    } finally {
      await hc.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it("on the default lease, a rerun takes over what a killed run held in flight, and delivers it within its drain timeout", { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-crash-"))
    const input = path.join(dir, "evaluations.ndjson")
    const records = copiesOfExample(4)
    writeNdjson(input, records)
    const expected = expectedEvents(records)
    const hc = await FakeHoneycomb.start(KEY)
    // The first run's requests hang: it is killed holding its batches, claimed in the state file.
    hc.fault = () => ({ kind: "slow", millis: 60_000 })
    const env = {
      EVENT_VACUUM_TRANSPORTS: "honeycomb",
      EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
      EVENT_VACUUM_FLUSH_INTERVAL: "20 millis",
      HONEYCOMB_API_HOST: hc.url,
      HONEYCOMB_API_KEY: KEY,
      HONEYCOMB_DATASET: "crash",
      HONEYCOMB_BATCH_MAX_EVENTS: "100"
    }
    try {
      const first = cli(["run", input], env)
      for (let i = 0; i < 600 && hc.requests.length < 2; i++) await sleep(50)
      assert.isAtLeast(hc.requests.length, 1, "the first run sent")
      first.kill()
      await first.exited
      const held = await cli(["status", "--state-path", env.EVENT_VACUUM_STATE_PATH], {}).exited
      assert.match(held.stdout, /honeycomb: \d+ waiting \(\d+ bytes, [1-9]\d* being sent\)/, held.stdout)
      // The rerun, with the default lease and drain timeout: the dead run's claims run out, it takes them over.
      hc.fault = () => undefined
      const rerun = await cli(["run", input], env).exited
      assert.strictEqual(rerun.code, 0, rerun.stderr)
      const status = await cli(["status", "--state-path", env.EVENT_VACUUM_STATE_PATH], {}).exited
      assert.include(status.stdout, "honeycomb: 0 waiting", status.stdout)
      const ids = new Set(hc.accepted.map((a) => a.data.eventId as string))
      assert.deepStrictEqual(ids, new Set(expected.keys()))
    } finally {
      await hc.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
