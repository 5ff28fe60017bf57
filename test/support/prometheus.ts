/**
 * The real Prometheus tools for the metrics tests: `promtool check metrics`
 * on an exposition, and a Prometheus server of the test's own (on
 * 127.0.0.1 only, its storage in a temp dir) that scrapes a run and is
 * asked through its HTTP API, so that what we expose is read the way a
 * user's Prometheus reads it, not by a parser of ours.
 *
 * Both come from Debian's `prometheus` package (2.42 in bookworm), which
 * `.ci/install-prometheus` installs when either is missing.
 *
 * What 2.42 does, as seen here:
 * - `promtool check metrics` reads stdin and writes everything to stderr.
 *   Exit 0: clean (an empty input too). Exit 3: lint problems, one line
 *   each ("x_total no help text", `x counter metrics should have "_total"
 *   suffix`, snake_case, base units). Exit 1: the text does not parse
 *   ("error while linting: text format parsing error in line N: ..."),
 *   and nothing else is said. It does not flag a series given twice.
 * - The server is ready (`/-/ready`) in about 0.1 s, but its scrape manager
 *   takes its targets on a 5 s tick: the first scrape comes about 5 s after
 *   start, then one every scrape interval. A `waitFor` of a first value
 *   wants 10 s or more.
 */
import { spawn } from "node:child_process"
import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { freePort } from "./ports.js"

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** Keeps the last `limit` characters of a stream: enough for an error message, bounded however much it writes. */
const tail = (limit: number) => {
  let text = ""
  return {
    push: (chunk: Buffer | string) => {
      text += chunk.toString()
      if (text.length > limit) text = text.slice(-limit)
    },
    get text() {
      return text
    }
  }
}

// ---------------------------------------------------------------------------
// promtool

export interface PromtoolResult {
  /** Exit 0: no lint problem and it parsed. */
  readonly ok: boolean
  /** 0 clean, 3 lint problems, 1 a parse error (or another failure); -1 if it was killed. */
  readonly exitCode: number
  /** What it said (stdout, then stderr, where 2.42 says everything), trimmed. */
  readonly output: string
}

/**
 * `promtool check metrics` with `text` on stdin, as a child process: never blocks the event loop (a test's HTTP server
 * may be in this process). Killed after `timeoutMs`.
 */
export const promtoolCheck = (text: string, options: { readonly timeoutMs?: number } = {}): Promise<PromtoolResult> =>
  new Promise((resolve, reject) => {
    const child = spawn("promtool", ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] })
    const stdout = tail(1 << 20)
    const stderr = tail(1 << 20)
    child.stdout.on("data", stdout.push)
    child.stderr.on("data", stderr.push)
    // It may exit before reading all of a bad input: its exit says what happened, not our EPIPE.
    child.stdin.on("error", () => undefined)
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000)
    child.once("error", (error) => {
      clearTimeout(timer)
      reject(new Error(`promtool check metrics could not run (is Debian's prometheus package installed?): ${error.message}`))
    })
    child.once("close", (code, signal) => {
      clearTimeout(timer)
      const output = [stdout.text, stderr.text].map((s) => s.trim()).filter((s) => s !== "").join("\n")
      resolve({ ok: code === 0, exitCode: code ?? -1, output: signal === null ? output : `${output}\n(killed by ${signal})`.trim() })
    })
    child.stdin.end(text)
  })

// ---------------------------------------------------------------------------
// The server

export interface Sample {
  readonly metric: Record<string, string>
  /** The sample's value as a number; NaN and ±Inf as such. */
  readonly value: number
}

export interface Target {
  readonly scrapeUrl: string
  /** "up", "down" or "unknown" (not scraped yet). */
  readonly health: string
  /** The last scrape's error, "" when it went well. */
  readonly lastError: string
  /** When it was last scraped (RFC 3339); "0001-01-01T00:00:00Z" before the first time. */
  readonly lastScrape: string
}

/** A running Prometheus on 127.0.0.1 that scrapes the targets it was given, in a job `event-vacuum`. */
export interface Prometheus {
  /** `http://127.0.0.1:PORT` */
  readonly url: string
  /** Its process id. */
  readonly pid: number
  /** An instant query (`/api/v1/query`): a vector's samples, or a scalar as one sample without labels. */
  readonly query: (expr: string) => Promise<Array<Sample>>
  /** The active targets (`/api/v1/targets?state=active`). */
  readonly targets: () => Promise<Array<Target>>
  /**
   * Asks `expr` until `predicate` holds of its result and answers that result; after `timeoutMs`, throws with the last
   * result (or the last error). The first scrape comes about 5 s after start.
   */
  readonly waitFor: (
    expr: string,
    predicate: (result: Array<Sample>) => boolean,
    timeoutMs: number
  ) => Promise<Array<Sample>>
  /** What it wrote to stderr lately (`--log.level=warn`). */
  readonly stderr: () => string
  /** SIGTERM, SIGKILL if it is not gone within a bound, then its temp dir is removed. Never hangs; a second call is a no-op. */
  readonly stop: () => Promise<void>
}

export interface PrometheusOptions {
  /** The global scrape and evaluation interval: "1s" by default. */
  readonly scrapeInterval?: string
  /** "/metrics" by default. */
  readonly metricsPath?: string
  /** How long to wait for `/-/ready` with 200: 30 s by default. */
  readonly readyTimeoutMs?: number
}


/** JSON strings are YAML strings: no target or path can break the file. */
const configYaml = (targets: ReadonlyArray<string>, scrapeInterval: string, metricsPath: string) =>
  [
    "global:",
    `  scrape_interval: ${JSON.stringify(scrapeInterval)}`,
    `  evaluation_interval: ${JSON.stringify(scrapeInterval)}`,
    "scrape_configs:",
    `  - job_name: "event-vacuum"`,
    `    metrics_path: ${JSON.stringify(metricsPath)}`,
    "    static_configs:",
    `      - targets: [${targets.map((t) => JSON.stringify(t)).join(", ")}]`,
    ""
  ].join("\n")

/** The Prometheus JSON value strings: "1.5", "NaN", "+Inf", "-Inf". */
const parseValue = (s: string): number => (s === "+Inf" ? Infinity : s === "-Inf" ? -Infinity : Number(s))

const STOP_GRACE_MS = 5_000
const KILL_WAIT_MS = 2_000

const exitOf = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once("exit", () => resolve())
  })

interface Started {
  readonly child: ChildProcess
  readonly url: string
  readonly stderr: ReturnType<typeof tail>
}

/** One try on one port: ready, or the reason it is not (with its stderr tail), and nothing left running. */
const startOn = async (dir: string, configFile: string, readyTimeoutMs: number): Promise<Started> => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const stderr = tail(16 * 1024)
  const child = spawn(
    "prometheus",
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn"
    ],
    // Its relative defaults (console templates, ...) resolve inside the temp dir, not in the repository.
    { cwd: dir, stdio: ["ignore", "ignore", "pipe"] }
  )
  child.stderr!.on("data", stderr.push)
  let failure: string | undefined
  // Settles once it is gone, or on a spawn error (then there is no exit to wait for).
  const gone = new Promise<void>((resolve) => {
    child.once("error", (error) => {
      failure ??= `prometheus could not run (is Debian's prometheus package installed?): ${error.message}`
      resolve()
    })
    // "close", not "exit": its stderr has been read to the end by then.
    child.once("close", (code, signal) => {
      failure ??= `prometheus exited (${signal ?? `code ${code}`}) before it was ready`
      resolve()
    })
  })
  const deadline = Date.now() + readyTimeoutMs
  let last = "no answer yet"
  while (failure === undefined && Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1_000) })
      await res.arrayBuffer()
      if (res.status === 200) return { child, url, stderr }
      last = `HTTP ${res.status}`
    } catch (error) {
      last = (error as Error).message
    }
    await sleep(25)
  }
  if (failure === undefined) {
    failure = `prometheus on ${url} not ready after ${readyTimeoutMs} ms (last: ${last})`
    child.kill("SIGKILL")
  }
  // Its last words come with its exit.
  await Promise.race([gone, sleep(KILL_WAIT_MS)])
  throw new Error(`${failure}; its stderr ends:\n${stderr.text.trim() || "(nothing)"}`)
}

const getJson = async (url: string): Promise<unknown> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) })
  const body = await res.text()
  let json: { status?: string; data?: unknown; errorType?: string; error?: string }
  try {
    json = JSON.parse(body)
  } catch {
    throw new Error(`${url}: HTTP ${res.status}, not JSON: ${body.slice(0, 500)}`)
  }
  // Errors come as 400/422/503 with a JSON body that says why.
  if (json.status !== "success") throw new Error(`${url}: HTTP ${res.status}, ${json.errorType}: ${json.error}`)
  return json.data
}

/**
 * Prometheus scraping `targets` (host:port, plain HTTP) every `scrapeInterval` at `metricsPath`, on 127.0.0.1 and a free
 * port, once it answers `/-/ready`. Its config and storage are in a temp dir of its own.
 */
export const startPrometheus = async (
  targets: ReadonlyArray<string>,
  options: PrometheusOptions = {}
): Promise<Prometheus> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-prometheus-"))
  const configFile = path.join(dir, "prometheus.yml")
  fs.writeFileSync(configFile, configYaml(targets, options.scrapeInterval ?? "1s", options.metricsPath ?? "/metrics"))

  let started: Started | undefined
  try {
    // The free port may be taken between our look and its bind: a second port, then a third, before giving up.
    for (let attempt = 1; started === undefined; attempt++) {
      try {
        started = await startOn(dir, configFile, options.readyTimeoutMs ?? 30_000)
      } catch (error) {
        if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error
        fs.rmSync(path.join(dir, "data"), { recursive: true, force: true })
      }
    }
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true })
    throw error
  }
  const { child, url, stderr } = started

  // A test process that ends without stop() leaves no Prometheus behind.
  const onExit = () => {
    child.kill("SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
  }
  process.once("exit", onExit)

  const query = async (expr: string): Promise<Array<Sample>> => {
    const data = (await getJson(`${url}/api/v1/query?${new URLSearchParams({ query: expr })}`)) as {
      resultType: string
      result: unknown
    }
    switch (data.resultType) {
      case "vector":
        return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((r) => ({
          metric: r.metric,
          value: parseValue(r.value[1])
        }))
      case "scalar":
        return [{ metric: {}, value: parseValue((data.result as [number, string])[1]) }]
      default:
        throw new Error(`query ${expr}: a ${data.resultType}, not an instant vector or a scalar`)
    }
  }

  let stopped: Promise<void> | undefined
  return {
    url,
    pid: child.pid!,
    query,
    targets: async () => {
      const data = (await getJson(`${url}/api/v1/targets?state=active`)) as {
        activeTargets: Array<{ scrapeUrl: string; health: string; lastError: string; lastScrape: string }>
      }
      return data.activeTargets.map((t) => ({
        scrapeUrl: t.scrapeUrl,
        health: t.health,
        lastError: t.lastError,
        lastScrape: t.lastScrape
      }))
    },
    waitFor: async (expr, predicate, timeoutMs) => {
      const deadline = Date.now() + timeoutMs
      let last: string = "no answer yet"
      for (;;) {
        try {
          const result = await query(expr)
          if (predicate(result)) return result
          last = `last result ${JSON.stringify(result)}`
        } catch (error) {
          last = `last error ${(error as Error).message}`
        }
        if (Date.now() >= deadline) throw new Error(`waitFor ${expr}: not there after ${timeoutMs} ms; ${last}`)
        await sleep(Math.min(200, Math.max(0, deadline - Date.now())))
      }
    },
    stderr: () => stderr.text,
    stop: () =>
      (stopped ??= (async () => {
        process.off("exit", onExit)
        const exited = exitOf(child)
        child.kill("SIGTERM")
        if (await Promise.race([exited.then(() => true), sleep(STOP_GRACE_MS).then(() => false)]) === false) {
          child.kill("SIGKILL")
          await Promise.race([exited, sleep(KILL_WAIT_MS)])
        }
        fs.rmSync(dir, { recursive: true, force: true })
      })())
  }
}
