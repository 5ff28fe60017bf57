/**
 * The vacuum's metrics and health, with the real tools: the exposition after
 * the example agrees with the snapshot and passes `promtool check metrics`;
 * a sink that is down shows waiting events and a degraded health, one that
 * stopped says why; and `event-vacuum run --metrics-address` is scraped by a
 * real Prometheus on 127.0.0.1 while it runs, answers only GET /metrics and
 * GET /health, and a client that never finishes its request does not hold
 * the run open.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import * as Prometheus from "../src/Prometheus.js"
import { TransportError } from "../src/Transport.js"
import { copiesOfExample, expectedEvents, sleep } from "./support/guarantees.js"
import { exampleRecords, memory, RecordingSink, start } from "./support/harness.js"
import { promtoolCheck, startPrometheus } from "./support/prometheus.js"

/** The exposition's samples: `name{labels}` → value. */
const samples = (text: string): Map<string, number> => {
  const out = new Map<string, number>()
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue
    const at = line.lastIndexOf(" ")
    out.set(line.slice(0, at), Number(line.slice(at + 1)))
  }
  return out
}

const live = { flushInterval: "10 millis", storeLinger: 0, retryBaseDelay: "10 millis", retryMaxDelay: "50 millis" } as const

describe("metrics and health", () => {
  it.scopedLive("after the example, the exposition agrees with the snapshot and passes promtool; a sink that is down is degraded, with waiting events", () =>
    Effect.gen(function*() {
      const up = new RecordingSink("up")
      const down = new RecordingSink("down")
      down.behaviour = () => Effect.fail(new TransportError({ sink: "down", reason: "Unavailable", description: "503: try later" }))
      const v = yield* start(memory(), [up, down], live)
      const records = exampleRecords()
      for (const r of records) v.vacuum.unsafeVacuum(r)
      yield* v.vacuum.flush
      while (up.ids.length < expectedEvents(records).size) yield* Effect.promise(() => sleep(10))
      while ((yield* v.vacuum.snapshot).sinks[1]!.lastError === undefined) yield* Effect.promise(() => sleep(10))
      const snapshot = yield* v.vacuum.snapshot
      const text = Prometheus.exposition(snapshot)

      const check = yield* Effect.promise(() => promtoolCheck(text))
      assert.isTrue(check.ok, check.output)
      const m = samples(text)
      const p = Prometheus.prefix
      assert.strictEqual(m.get(`${p}component_received_evaluations_total`), records.length)
      assert.strictEqual(m.get(`${p}component_received_evaluations_total`), snapshot.evaluations.received)
      assert.strictEqual(m.get(`${p}component_skipped_evaluations_total{reason="read_only"}`), snapshot.evaluations.readOnly)
      assert.isAbove(snapshot.evaluations.readOnly, 0)
      assert.strictEqual(m.get(`${p}component_received_events_total`), snapshot.events.found)
      for (const [outcome, n] of Object.entries(snapshot.lines)) {
        assert.strictEqual(m.get(`${p}component_log_lines_total{outcome="${outcome}"}`), n, outcome)
      }
      assert.isAbove(snapshot.lines.repaired, 0)
      assert.strictEqual(m.get(`${p}component_sent_events_total{sink="up"}`), up.ids.length)
      assert.strictEqual(m.get(`${p}component_sent_events_total{sink="down"}`), 0)
      assert.strictEqual(m.get(`${p}buffer_events{sink="down"}`), up.ids.length)
      assert.strictEqual(m.get(`${p}buffer_events{sink="up"}`), 0)
      assert.strictEqual(m.get(`${p}sink_failing{sink="down"}`), 1)
      assert.strictEqual(m.get(`${p}sink_failing{sink="up"}`), 0)
      assert.strictEqual(m.get(`${p}sink_stopped{sink="down",reason=""}`), 0)
      assert.isAbove(m.get(`${p}component_errors_total{sink="down"}`)!, 0)
      assert.isAbove(m.get(`${p}buffer_oldest_event_age_seconds{sink="down"}`)!, 0)
      assert.isAbove(m.get(`${p}sink_last_delivery_timestamp_seconds{sink="up"}`)!, Date.now() / 1000 - 60)
      assert.strictEqual(m.get(`${p}sink_last_delivery_timestamp_seconds{sink="down"}`), 0)
      assert.strictEqual(m.get(`${p}store_up`), 1)
      for (const name of m.keys()) assert.isTrue(name.startsWith(p), name)

      const health = Prometheus.health(snapshot)
      assert.strictEqual(health.status, "degraded")
      assert.deepStrictEqual(health.sinks.map((s) => [s.name, s.status]), [["up", "ok"], ["down", "degraded"]])
      assert.include(health.sinks[1]!.reason, "503: try later")
    }), { timeout: 30_000 })

  it.scopedLive("a stopped sink: health stopped, its reason a label (escaped, and promtool still passes)", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("hc")
      sink.behaviour = () =>
        Effect.fail(new TransportError({ sink: "hc", reason: "Rejected", description: `401: the key "x\\y" was\nrefused` }))
      const v = yield* start(memory(), [sink], live)
      for (const r of copiesOfExample(1)) v.vacuum.unsafeVacuum(r)
      yield* v.vacuum.flush
      while ((yield* v.vacuum.snapshot).sinks[0]!.stopped === undefined) yield* Effect.promise(() => sleep(10))
      const snapshot = yield* v.vacuum.snapshot
      const text = Prometheus.exposition(snapshot)
      const check = yield* Effect.promise(() => promtoolCheck(text))
      assert.isTrue(check.ok, check.output)
      assert.include(text, `${Prometheus.prefix}sink_stopped{sink="hc",reason="sink hc: Rejected: 401: the key \\"x\\\\y\\" was\\nrefused"} 1`)
      const health = Prometheus.health(snapshot)
      assert.strictEqual(health.status, "stopped")
      assert.strictEqual(health.sinks[0]!.reason, `sink hc: Rejected: 401: the key "x\\y" was\nrefused`)
    }), { timeout: 30_000 })

  it("event-vacuum run --metrics-address: a real Prometheus scrapes it while it runs and finds every event sent; only GET /metrics and /health; a client that never finishes does not hold it open", { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-metrics-"))
    const records = copiesOfExample(20)
    const expected = expectedEvents(records)
    const child = spawn(process.execPath, ["dist/cli/bin.js", "run", "-", "--metrics-address", "127.0.0.1:0"], {
      env: {
        PATH: process.env.PATH,
        EVENT_VACUUM_TRANSPORTS: "file",
        EVENT_VACUUM_FILE_PATH: path.join(dir, "out.ndjson"),
        EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db")
      },
      stdio: ["pipe", "pipe", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)))
    let prometheus: Awaited<ReturnType<typeof startPrometheus>> | undefined
    let idle: net.Socket | undefined
    try {
      // The records, then stdin held open: the run goes on while Prometheus looks.
      child.stdin.write(records.map((r) => JSON.stringify(r)).join("\n") + "\n")
      let url: string | undefined
      for (let i = 0; i < 400 && url === undefined; i++) {
        url = /metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(stderr)?.[1]
        await sleep(25)
      }
      assert.isDefined(url, stderr)
      prometheus = await startPrometheus([url!.replace("http://", "")], { scrapeInterval: "1s" })
      const sent = await prometheus.waitFor(
        `${Prometheus.prefix}component_sent_events_total{sink="file"}`,
        (r) => r.length === 1 && r[0]!.value === expected.size,
        60_000
      )
      assert.strictEqual(sent[0]!.metric.job, "event-vacuum")
      const targets = await prometheus.targets()
      assert.deepStrictEqual(targets.map((t) => [t.health, t.lastError]), [["up", ""]])

      const metrics = await fetch(`${url}/metrics`)
      assert.strictEqual(metrics.status, 200)
      assert.strictEqual(metrics.headers.get("content-type"), Prometheus.contentType)
      const check = await promtoolCheck(await metrics.text())
      assert.isTrue(check.ok, check.output)
      const health = await fetch(`${url}/health`)
      assert.strictEqual(health.status, 200)
      const said = (await health.json()) as Prometheus.Health
      assert.strictEqual(said.status, "ok")
      assert.deepStrictEqual(said.sinks.map((s) => [s.name, s.status]), [["file", "ok"]])
      assert.strictEqual((await fetch(`${url}/`)).status, 404)
      assert.strictEqual((await fetch(`${url}/metrics`, { method: "POST", body: "x" })).status, 405)

      // A client that starts a request and never finishes it, then the end of the input.
      idle = net.connect(Number(new URL(url!).port), "127.0.0.1")
      // The run ends it: reset or closed, either is an answer, not an error of the test's.
      idle.on("error", () => undefined)
      const idleClosed = new Promise<void>((resolve) => idle!.once("close", () => resolve()))
      await new Promise((resolve) => idle!.once("connect", resolve))
      idle.write("GET /metrics HTTP/1.1\r\nHost: x\r\n")
      const endedAt = Date.now()
      child.stdin.end()
      assert.strictEqual(await exited, 0, stderr)
      assert.isBelow(Date.now() - endedAt, 4_000, "the run waited on the idle client")
      // And the run closed the idle client's connection as it ended.
      await idleClosed
      // Closed with the run.
      const refused = await fetch(`${url}/health`).then(() => false, () => true)
      assert.isTrue(refused, "the endpoint outlived the run")
    } finally {
      idle?.destroy()
      child.kill("SIGKILL")
      await prometheus?.stop()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
