/**
 * The metrics tests' support, checked against the real tools: promtool
 * passes a clean exposition and flags what 2.42 flags (with its exit code
 * and words), without blocking this process; a Prometheus of ours scrapes
 * a small HTTP server in this process, sees its counter change, says
 * which targets are up and which are down and why, honours the scrape
 * options, fails to start plainly, and leaves nothing behind when stopped.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as net from "node:net"
import * as os from "node:os"
import { promtoolCheck, startPrometheus } from "./support/prometheus.js"
import type { Prometheus } from "./support/prometheus.js"

const VALID = [
  "# HELP ev_selftest_events_total Events seen.",
  "# TYPE ev_selftest_events_total counter",
  "ev_selftest_events_total 3",
  "# HELP ev_selftest_lag_seconds How far behind each process is.",
  "# TYPE ev_selftest_lag_seconds gauge",
  "ev_selftest_lag_seconds{process=\"p1\",sink=\"otlp\"} 0.25",
  "ev_selftest_lag_seconds{process=\"p2\",sink=\"otlp\"} 1.5",
  ""
].join("\n")

/** An exposition whose counter and gauge the test sets, served on 127.0.0.1 at `path`; it counts what it is asked. */
const startExposition = async (path = "/metrics") => {
  const state = { events: 3, lag: 0.25 }
  const requests: Array<{ readonly method: string; readonly url: string; readonly userAgent: string; readonly at: number }> = []
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "", userAgent: req.headers["user-agent"] ?? "", at: Date.now() })
    if (req.method !== "GET" || req.url !== path) {
      res.writeHead(404, { "content-type": "text/plain" })
      return res.end("not here\n")
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" })
    res.end(
      [
        "# HELP ev_selftest_events_total Events seen.",
        "# TYPE ev_selftest_events_total counter",
        `ev_selftest_events_total ${state.events}`,
        "# HELP ev_selftest_lag_seconds How far behind each process is.",
        "# TYPE ev_selftest_lag_seconds gauge",
        `ev_selftest_lag_seconds{process="p1"} ${state.lag}`,
        ""
      ].join("\n")
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  return {
    state,
    requests,
    address: `127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}

/** A port on 127.0.0.1 where nothing listens (it was free a moment ago). */
const closedPort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })

const prometheusDirs = () => new Set(fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("event-vacuum-prometheus-")))

const refused = async (url: string): Promise<boolean> => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) })
    return false
  } catch (error) {
    return /ECONNREFUSED/.test(String((error as Error & { cause?: unknown }).cause))
  }
}

const only = <A>(values: ReadonlyArray<A>): A => {
  assert.strictEqual(values.length, 1, JSON.stringify(values))
  return values[0]!
}

describe("promtoolCheck", () => {
  it("passes a counter with _total and a labelled gauge, each with HELP and TYPE", { timeout: 10_000 }, async () => {
    const result = await promtoolCheck(VALID)
    assert.deepStrictEqual(result, { ok: true, exitCode: 0, output: "" })
  })

  it("flags a metric without HELP (exit 3, one line naming it)", { timeout: 10_000 }, async () => {
    const result = await promtoolCheck("# TYPE ev_selftest_events_total counter\nev_selftest_events_total 3\n")
    assert.deepStrictEqual(result, { ok: false, exitCode: 3, output: "ev_selftest_events_total no help text" })
  })

  it("flags a counter without the _total suffix (exit 3)", { timeout: 10_000 }, async () => {
    const result = await promtoolCheck("# HELP ev_selftest_events Events seen.\n# TYPE ev_selftest_events counter\nev_selftest_events 3\n")
    assert.deepStrictEqual(result, {
      ok: false,
      exitCode: 3,
      output: "ev_selftest_events counter metrics should have \"_total\" suffix"
    })
  })

  it("says every lint problem, one line each", { timeout: 10_000 }, async () => {
    const result = await promtoolCheck(
      [
        "# TYPE ev_selftest_events counter",
        "ev_selftest_events 3",
        "# HELP evLagMilliseconds Lag.",
        "# TYPE evLagMilliseconds gauge",
        "evLagMilliseconds 1",
        "# HELP ev_selftest_lag_milliseconds Lag.",
        "# TYPE ev_selftest_lag_milliseconds gauge",
        "ev_selftest_lag_milliseconds 1",
        ""
      ].join("\n")
    )
    assert.isFalse(result.ok)
    assert.strictEqual(result.exitCode, 3)
    assert.deepStrictEqual(result.output.split("\n").sort(), [
      "ev_selftest_events counter metrics should have \"_total\" suffix",
      "ev_selftest_events no help text",
      "evLagMilliseconds metric names should be written in 'snake_case' not 'camelCase'",
      "ev_selftest_lag_milliseconds use base unit \"seconds\" instead of \"milliseconds\""
    ].sort())
  })

  it("refuses text that does not parse (exit 1, the line and why)", { timeout: 10_000 }, async () => {
    const unclosed = await promtoolCheck("# HELP ev_x_total X.\n# TYPE ev_x_total counter\nev_x_total{process=\"p1\" 3\n")
    assert.isFalse(unclosed.ok)
    assert.strictEqual(unclosed.exitCode, 1)
    assert.match(unclosed.output, /^error while linting: text format parsing error in line 3: /)

    const notANumber = await promtoolCheck("# HELP ev_g G.\n# TYPE ev_g gauge\nev_g lots\n")
    assert.deepStrictEqual(notANumber, {
      ok: false,
      exitCode: 1,
      output: "error while linting: text format parsing error in line 3: expected float as value, got \"lots\""
    })

    // A second TYPE for one name (or a TYPE after its samples) does not parse either.
    const twice = await promtoolCheck("# HELP ev_g G.\n# TYPE ev_g gauge\nev_g 1\n# TYPE ev_g gauge\n")
    assert.strictEqual(twice.exitCode, 1)
    assert.match(twice.output, /second TYPE line for metric name "ev_g"/)
  })

  it("runs without blocking: a server in this process answers while promtool reads a large exposition", { timeout: 30_000 }, async () => {
    const lines = ["# HELP ev_selftest_g A gauge.", "# TYPE ev_selftest_g gauge"]
    for (let i = 0; i < 200_000; i++) lines.push(`ev_selftest_g{i="${i}"} ${i}`)
    const exposition = await startExposition()
    try {
      let promtoolDone = false
      const check = promtoolCheck(lines.join("\n") + "\n").then((r) => {
        promtoolDone = true
        return r
      })
      // Had it run synchronously, it would be done before this first request is even sent.
      const answeredMeanwhile: Array<boolean> = []
      while (!promtoolDone && answeredMeanwhile.length < 1_000) {
        const res = await fetch(`http://${exposition.address}/metrics`)
        await res.text()
        answeredMeanwhile.push(!promtoolDone)
      }
      const result = await check
      assert.deepStrictEqual(result, { ok: true, exitCode: 0, output: "" })
      assert.isTrue(answeredMeanwhile.filter(Boolean).length >= 1, `answered while promtool ran: ${answeredMeanwhile.length}`)
    } finally {
      await exposition.close()
    }
  })
})

describe("startPrometheus", () => {
  it("scrapes a server every second: sees its counter, then its new value; up and down targets as such", { timeout: 60_000 }, async () => {
    const before = prometheusDirs()
    const exposition = await startExposition()
    const nowhere = `127.0.0.1:${await closedPort()}`
    let prometheus: Prometheus | undefined
    try {
      const started = Date.now()
      prometheus = await startPrometheus([exposition.address, nowhere])
      const readyAfter = Date.now() - started
      assert.match(prometheus.url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.strictEqual(prometheusDirs().size, before.size + 1)

      const first = await prometheus.waitFor("ev_selftest_events_total", (r) => r.length === 1 && r[0]!.value === 3, 20_000)
      const firstScrapeAfter = Date.now() - started
      assert.deepStrictEqual(only(first).metric, {
        __name__: "ev_selftest_events_total",
        instance: exposition.address,
        job: "event-vacuum"
      })

      const lag = only(await prometheus.query("ev_selftest_lag_seconds"))
      assert.deepStrictEqual(lag, {
        metric: { __name__: "ev_selftest_lag_seconds", instance: exposition.address, job: "event-vacuum", process: "p1" },
        value: 0.25
      })

      exposition.state.events = 11
      exposition.state.lag = 1.5
      const changedAt = Date.now()
      const second = await prometheus.waitFor("ev_selftest_events_total", (r) => r.length === 1 && r[0]!.value === 11, 10_000)
      assert.strictEqual(only(second).value, 11)
      const seenAfter = Date.now() - changedAt
      // Scraped every second: the new value is there within a few scrapes.
      assert.isBelow(seenAfter, 5_000)
      assert.strictEqual(only(await prometheus.query("ev_selftest_lag_seconds{process=\"p1\"}")).value, 1.5)

      // PromQL over what it stored: the counter went from 3 to 11.
      const increase = only(await prometheus.query("max_over_time(ev_selftest_events_total[1m]) - min_over_time(ev_selftest_events_total[1m])"))
      assert.strictEqual(increase.value, 8)
      assert.deepStrictEqual(only(await prometheus.query("scalar(ev_selftest_events_total) * 2")), { metric: {}, value: 22 })
      assert.deepStrictEqual(await prometheus.query("ev_selftest_no_such_metric"), [])

      // `up` once both have been scraped: 1 for the server, 0 for the port where nothing listens.
      const up = await prometheus.waitFor("up", (r) => r.length === 2, 10_000)
      assert.deepStrictEqual(
        up.map((s) => [s.metric.instance, s.value]).sort(),
        [[exposition.address, 1], [nowhere, 0]].sort()
      )

      const targets = await prometheus.targets()
      assert.strictEqual(targets.length, 2, JSON.stringify(targets))
      const served = targets.find((t) => t.scrapeUrl === `http://${exposition.address}/metrics`)
      const absent = targets.find((t) => t.scrapeUrl === `http://${nowhere}/metrics`)
      assert.isDefined(served, JSON.stringify(targets))
      assert.isDefined(absent, JSON.stringify(targets))
      assert.strictEqual(served!.health, "up")
      assert.strictEqual(served!.lastError, "")
      assert.isAbove(Date.parse(served!.lastScrape), changedAt - 2_000)
      assert.strictEqual(absent!.health, "down")
      assert.match(absent!.lastError, /connection refused/)

      // Only the job's GETs of /metrics, by Prometheus itself, about once a second.
      assert.isAbove(exposition.requests.length, 1)
      for (const r of exposition.requests) {
        assert.strictEqual(r.method, "GET")
        assert.strictEqual(r.url, "/metrics")
        assert.match(r.userAgent, /^Prometheus\/2\.42\./)
      }
      const gaps = exposition.requests.slice(1).map((r, i) => r.at - exposition.requests[i]!.at)
      for (const gap of gaps) assert.isAbove(gap, 500, JSON.stringify(gaps))

      const url = prometheus.url
      const stopping = Date.now()
      await prometheus.stop()
      const stoppedIn = Date.now() - stopping
      await prometheus.stop()
      prometheus = undefined
      assert.isTrue(await refused(`${url}/-/ready`))
      assert.deepStrictEqual(prometheusDirs(), before)
      console.log(`Prometheus: ready in ${readyAfter} ms, first scrape seen ${firstScrapeAfter} ms after start, stopped in ${stoppedIn} ms`)
    } finally {
      await prometheus?.stop()
      await exposition.close()
    }
  })

  it("scrapes at the metrics path and interval it is given", { timeout: 60_000 }, async () => {
    const exposition = await startExposition("/vacuum/metrics")
    const prometheus = await startPrometheus([exposition.address], { metricsPath: "/vacuum/metrics", scrapeInterval: "2s" })
    try {
      await prometheus.waitFor("ev_selftest_events_total", (r) => r.length === 1 && r[0]!.value === 3, 20_000)
      // Two more scrapes, to see the spacing.
      const deadline = Date.now() + 15_000
      while (exposition.requests.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
      assert.isAtLeast(exposition.requests.length, 3)
      for (const r of exposition.requests) assert.strictEqual(r.url, "/vacuum/metrics")
      const gaps = exposition.requests.slice(1).map((r, i) => r.at - exposition.requests[i]!.at)
      for (const gap of gaps) assert.isTrue(gap > 1_500 && gap < 3_000, JSON.stringify(gaps))
      const target = only(await prometheus.targets())
      assert.deepStrictEqual(
        { scrapeUrl: target.scrapeUrl, health: target.health, lastError: target.lastError },
        { scrapeUrl: `http://${exposition.address}/vacuum/metrics`, health: "up", lastError: "" }
      )
    } finally {
      await prometheus.stop()
      await exposition.close()
    }
  })

  it("a target that answers 404 is down with the status as its error", { timeout: 60_000 }, async () => {
    // The server serves /metrics; Prometheus asks for /elsewhere.
    const exposition = await startExposition()
    const prometheus = await startPrometheus([exposition.address], { metricsPath: "/elsewhere" })
    try {
      const deadline = Date.now() + 20_000
      let targets = await prometheus.targets()
      while (targets[0]?.health !== "down" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200))
        targets = await prometheus.targets()
      }
      const target = only(targets)
      assert.strictEqual(target.health, "down")
      assert.strictEqual(target.lastError, "server returned HTTP status 404 Not Found")
      assert.deepStrictEqual(await prometheus.query("ev_selftest_events_total"), [])
      assert.deepStrictEqual((await prometheus.query("up")).map((s) => s.value), [0])
    } finally {
      await prometheus.stop()
      await exposition.close()
    }
  })

  it("stop does not hang on a Prometheus that ignores SIGTERM: SIGKILL after 5 s, the temp dir removed", { timeout: 30_000 }, async () => {
    const before = prometheusDirs()
    const prometheus = await startPrometheus([])
    // A stopped process keeps SIGTERM pending; only SIGKILL ends it.
    process.kill(prometheus.pid, "SIGSTOP")
    const stopping = Date.now()
    await prometheus.stop()
    const took = Date.now() - stopping
    assert.isTrue(took >= 4_900 && took < 8_000, `stop took ${took} ms`)
    assert.throws(() => process.kill(prometheus.pid, 0), /ESRCH/)
    assert.deepStrictEqual(prometheusDirs(), before)
  })

  it("a config it refuses: a plain error with its stderr, no process and no temp dir left", { timeout: 30_000 }, async () => {
    const before = prometheusDirs()
    let error: Error | undefined
    try {
      const prometheus = await startPrometheus(["127.0.0.1:9"], { scrapeInterval: "soon" })
      await prometheus.stop()
    } catch (e) {
      error = e as Error
    }
    assert.isDefined(error)
    assert.match(error!.message, /^prometheus exited \(code 2\) before it was ready; its stderr ends:\n/)
    assert.match(error!.message, /Error loading config/)
    assert.match(error!.message, /not a valid duration string: \\"soon\\"/)
    assert.deepStrictEqual(prometheusDirs(), before)
  })

  it("a query it cannot parse is an error saying why", { timeout: 30_000 }, async () => {
    const prometheus = await startPrometheus([])
    try {
      let error: Error | undefined
      await prometheus.query("sum(").catch((e: Error) => {
        error = e
      })
      assert.isDefined(error)
      assert.match(error!.message, /HTTP 400, bad_data: invalid parameter "query": .*parse error/)
      const waited = await prometheus.waitFor("up", () => false, 600).then(() => undefined, (e: Error) => e)
      assert.isDefined(waited)
      assert.match(waited!.message, /^waitFor up: not there after 600 ms; last result \[\]$/)
    } finally {
      await prometheus.stop()
    }
  })
})
