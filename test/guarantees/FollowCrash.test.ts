/**
 * Crash, while following: `event-vacuum follow --once` over a CU database
 * (the CU's DDL, WAL mode) of a few thousand evaluations, into the local
 * Honeycomb on 127.0.0.1 (replies a little late, so that a kill can land
 * after the receiver took a batch and before the state file knows), killed
 * with SIGKILL at random moments (while it reads and hands off, while it
 * sends) and run again on the same state until one run ends by itself. At
 * the end every event was accepted, none lost, and the copies are no more
 * than the batches in flight at the kills: the rows a killed run read past
 * its cursor are read again, and the watermarks send none of them twice.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { makeCuDb, saveEvaluation } from "../support/cu.js"
import { cli, copiesOfExample, expectedEvents, random, scale, seed, sleep } from "../support/guarantees.js"
import { FakeHoneycomb } from "../support/honeycomb.js"

const KEY = "follow-crash-test-key-0123"
const BATCH = 40
const CONCURRENCY = 2

describe("crash while following: SIGKILL at random moments, follow --once again on the same state", () => {
  it("every event accepted, none lost, copies no more than the batches in flight at the kills", { timeout: 240_000 * scale }, async () => {
    const kills = 8 * scale
    const theSeed = seed()
    const next = random(theSeed)
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-fcrash-"))
    // The CU stores no dry-runs; what it stores is the record's output without Memory.
    const records = copiesOfExample(25 * scale)
      .filter((r) => r.readOnly !== true)
      .map((r) => {
        const { Memory: _memory, ...output } = r.output as Record<string, unknown>
        return { ...r, output }
      })
    const cu = makeCuDb()
    cu.db.transaction(() => records.forEach((r) => saveEvaluation(cu.db, r)))()
    const expected = expectedEvents(records)

    const hc = await FakeHoneycomb.start(KEY)
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
      HONEYCOMB_DATASET: "follow-crash",
      HONEYCOMB_BATCH_MAX_EVENTS: String(BATCH),
      HONEYCOMB_CONCURRENCY: String(CONCURRENCY)
    }
    const context = `seed ${theSeed} (GUARANTEES_SEED=${theSeed} repeats it)`
    try {
      const killedAfter: Array<number> = []
      let acceptedAtKills = 0
      for (let k = 0; k < kills; k++) {
        const run = cli(["follow", cu.dbUrl, "--once"], env)
        const startedAt = Date.now()
        const requestsBefore = hc.requests.length
        // Every other kill lands while it sends (after its first request); the others anywhere,
        // reading and handing off included.
        const moment = k % 2 === 0
          ? (async () => {
            while (hc.requests.length === requestsBefore && Date.now() - startedAt < 20_000) await sleep(5)
            await sleep(Math.floor(next() * 300))
          })()
          : sleep(200 + Math.floor(next() * 2500))
        const ended = await Promise.race([run.exited.then(() => true), moment.then(() => false)])
        if (!ended) run.kill()
        const exit = await run.exited
        killedAfter.push(ended ? -1 : Date.now() - startedAt)
        if (ended) assert.strictEqual(exit.code, 0, `${context}: run ${k} ended by itself but failed:\n${exit.stderr}`)
        acceptedAtKills = hc.accepted.length
      }
      const last = await cli(["follow", cu.dbUrl, "--once"], env).exited
      assert.strictEqual(last.code, 0, `${context}: the last run failed:\n${last.stderr}`)
      // The last run read no row twice into the sinks: what it read again, the watermarks skipped.
      assert.match(last.stderr, /honeycomb: \d+ delivered, \d+ seen before, 0 waiting, 0 dead-lettered/, last.stderr)

      const ids = hc.ids
      const distinct = new Set(ids)
      const missing = [...expected.keys()].filter((id) => !distinct.has(id))
      const unexpected = [...distinct].filter((id) => !expected.has(id))
      assert.deepStrictEqual({ missing: missing.length, unexpected: unexpected.length }, { missing: 0, unexpected: 0 }, context)
      // A copy is the same event: same id, same data.
      for (const accepted of hc.accepted) {
        assert.deepStrictEqual(accepted.data, JSON.parse(expected.get(String(accepted.data.eventId))!), context)
      }
      const copies = ids.length - distinct.size
      const realKills = killedAfter.filter((ms) => ms >= 0).length
      assert.isAbove(realKills, 0, context)
      assert.isAtMost(copies, realKills * CONCURRENCY * BATCH, `${context}: ${copies} copies for ${realKills} kills`)
      // The kills landed while there was work: the last run only finished what was left.
      assert.isAbove(acceptedAtKills, 0, context)

      const status = await cli(["status", "--state-path", env.EVENT_VACUUM_STATE_PATH], {}).exited
      assert.strictEqual(status.code, 0, status.stderr)
      assert.include(status.stdout, "honeycomb: 0 waiting", status.stdout)
      console.info(
        `follow crash test: ${records.length} rows, ${expected.size} events, ${realKills} kills (after ${killedAfter.join(", ")} ms; ` +
          `-1: it ended by itself), ${hc.requests.length} requests, ${copies} copies (bound ${realKills * CONCURRENCY * BATCH}), ${context}`
      )
    } finally {
      cu.db.close()
      await hc.close()
      fs.rmSync(dir, { recursive: true, force: true })
      fs.rmSync(path.dirname(cu.file), { recursive: true, force: true })
    }
  })
})
