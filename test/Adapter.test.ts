import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { createVacuum } from "../src/Adapter.js"
import { exampleRecords } from "./support/harness.js"
import { promtoolCheck } from "./support/prometheus.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-adapter-"))

describe("Adapter: a promise-based vacuum for a JavaScript CU", () => {
  it("is off unless enabled, and then touches no file", async () => {
    const dir = tempDir()
    const v = await createVacuum({ env: { EVENT_VACUUM_STATE_PATH: path.join(dir, "s.db") } })
    assert.strictEqual(v.vacuum(exampleRecords()[0]).outcome, "disabled")
    await v.close()
    assert.deepStrictEqual(fs.readdirSync(dir), [])
  })

  it("vacuums synchronously, delivers, closes, and a second instance on the same state sends nothing again", async () => {
    const dir = tempDir()
    const out = path.join(dir, "events.ndjson")
    const env = {
      EVENT_VACUUM_ENABLED: "true",
      EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
      EVENT_VACUUM_TRANSPORTS: "file",
      EVENT_VACUUM_FILE_PATH: out,
      EVENT_VACUUM_FLUSH_INTERVAL: "10 millis"
    }
    const first = await createVacuum({ env })
    const summaries = exampleRecords().map((r) => first.vacuum(r))
    // On the vacuum's own thread (the default) the call only hands the record over; the events are found there.
    assert.deepStrictEqual([...new Set(summaries.map((s) => s.outcome))].sort(), ["handed_off", "read_only"])
    assert.isTrue(await first.drain(10_000))
    assert.strictEqual((await first.snapshot()).events.found, 121)
    await first.close()
    assert.strictEqual(first.vacuum(exampleRecords()[0]).outcome, "closed")
    assert.strictEqual(fs.readFileSync(out, "utf8").split("\n").filter(Boolean).length, 121)

    const second = await createVacuum({ env })
    exampleRecords().forEach((r) => second.vacuum(r))
    assert.isTrue(await second.drain(10_000))
    const snap = await second.snapshot()
    assert.deepInclude(snap.sinks[0]!, { name: "file", delivered: 0, duplicates: 121 })
    await second.close()
    assert.strictEqual(fs.readFileSync(out, "utf8").split("\n").filter(Boolean).length, 121)
  })

  it("answers metrics for the CU's /metrics route and its health; a disabled one answers them too", async () => {
    const dir = tempDir()
    const v = await createVacuum({
      env: {
        EVENT_VACUUM_ENABLED: "true",
        EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
        EVENT_VACUUM_TRANSPORTS: "file",
        EVENT_VACUUM_FILE_PATH: path.join(dir, "events.ndjson"),
        EVENT_VACUUM_FLUSH_INTERVAL: "10 millis"
      }
    })
    exampleRecords().forEach((r) => v.vacuum(r))
    assert.isTrue(await v.drain(10_000))
    const text = await v.metrics()
    assert.include(text, `event_vacuum_component_sent_events_total{sink="file"} 121\n`)
    assert.include(text, `event_vacuum_component_received_evaluations_total ${exampleRecords().length}\n`)
    const check = await promtoolCheck(text)
    assert.isTrue(check.ok, check.output)
    assert.deepStrictEqual(await v.health(), { status: "ok", store: { status: "ok" }, sinks: [{ name: "file", status: "ok", waiting: 0 }] })
    await v.close()

    const off = await createVacuum({ env: {} })
    const quiet = await off.metrics()
    assert.include(quiet, "event_vacuum_component_received_evaluations_total 0\n")
    assert.isTrue((await promtoolCheck(quiet)).ok)
    assert.strictEqual((await off.health()).status, "ok")
    await off.close()
  })

  it("never throws into the CU: a bad record is a summary", async () => {
    const v = await createVacuum({ enabled: true, env: { EVENT_VACUUM_STATE_PATH: ":memory:", EVENT_VACUUM_TRANSPORTS: "file", EVENT_VACUUM_FILE_PATH: path.join(tempDir(), "o") } })
    assert.strictEqual(v.vacuum({ nonsense: true }).outcome, "invalid_record")
    assert.strictEqual(v.vacuum(undefined).outcome, "invalid_record")
    await v.close()
  })

  it("rejects a bad setting at creation, naming the key", async () => {
    let message = ""
    try {
      await createVacuum({ env: { EVENT_VACUUM_ENABLED: "true", EVENT_VACUUM_STATE_PATH: ":memory:", EVENT_VACUUM_SEND_TIMEOUT: "soon" } })
    } catch (error) {
      message = String(error)
    }
    assert.include(message, "EVENT_VACUUM_SEND_TIMEOUT")
  })
})
