/**
 * Child process of the memory bench, in plain JavaScript on the built
 * library (dist/), so that the RSS measured is the vacuum's and not a
 * TypeScript loader's. It vacuums `N` events' worth of evaluations as a
 * JavaScript CU does, through `Env.layer()` (the vacuum on its own thread,
 * the SQLite state file, the Honeycomb sink), with the sink down: a
 * receiver in this process answering every request 503. The feed outruns
 * the store, so it waits whenever the queue to the store is at its bound
 * (as the CLI's input does): every event is stored. Then the receiver
 * accepts every event and the drain is timed. Prints one JSON line.
 */
import { Effect, Exit, Layer, Scope, Context, Either } from "effect"
import * as fs from "node:fs"
import * as http from "node:http"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import { reservedKeys } from "../dist/Enrich.js"
import * as Env from "../dist/Env.js"
import { decodeSync, logText } from "../dist/Evaluation.js"
import { defaultLimits, extract } from "../dist/Extractor.js"
import * as Vacuum from "../dist/Vacuum.js"

const target = Number(process.argv[2] ?? 1_000_000)
const examplePath = new URL("../examples/aos-token-evaluations.ndjson", import.meta.url)
const base = fs.readFileSync(examplePath, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l))
  .filter((r) => r.readOnly !== true)
// Events each record holds: the call hands records over (its summary says 0), so the count is made here.
const eventsIn = base.map((r) => {
  const e = decodeSync(r)
  if (Either.isLeft(e)) throw e.left
  const text = logText(e.right.output)
  return text._tag === "Text" ? extract(text.text, defaultLimits, reservedKeys).events.length : 0
})

// The receiver: 503 while down; once up, 202 for every event of a batch.
let down = true
let delivered = 0
const server = http.createServer((req, res) => {
  const chunks = []
  req.on("data", (c) => chunks.push(c))
  req.on("end", () => {
    if (down) {
      res.writeHead(503).end()
      return
    }
    const body = Buffer.concat(chunks)
    const raw = req.headers["content-encoding"] === "gzip" ? zlib.gunzipSync(body) : body
    const n = JSON.parse(raw.toString("utf8")).length
    delivered += n
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(Array.from({ length: n }, () => ({ status: 202 }))))
  })
})
await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve))

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-"))
Object.assign(process.env, {
  EVENT_VACUUM_ENABLED: "true",
  EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
  EVENT_VACUUM_TRANSPORTS: "honeycomb",
  HONEYCOMB_API_HOST: `http://127.0.0.1:${server.address().port}`,
  HONEYCOMB_API_KEY: "bench-key",
  HONEYCOMB_DATASET: "bench",
  EVENT_VACUUM_FLUSH_INTERVAL: "200 millis",
  EVENT_VACUUM_RETRY_BASE_DELAY: "50 millis",
  EVENT_VACUUM_RETRY_MAX_DELAY: "200 millis"
})
const scope = Effect.runSync(Scope.make())
const vacuum = Context.get(await Effect.runPromise(Layer.buildWithScope(Env.layer(), scope)), Vacuum.Vacuum)
// For scale: both runtimes (this one and the vacuum's thread) loaded and started, no event yet.
const startedMB = process.memoryUsage().rss / 2 ** 20
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve))

let events = 0
let evaluations = 0
const started = performance.now()
for (let copy = 0; events < target; copy++) {
  // Records are made as they are vacuumed, so the input does not weigh on the RSS measured.
  for (let i = 0; i < base.length; i++) {
    const r = base[i]
    const record = { ...r, ordinate: String(Number(r.ordinate) + copy * 1000), timestamp: r.timestamp + copy * 1e7 }
    // A feed faster than the store (this loop is) waits at the bound, as the CLI's input does,
    // so that every event is stored and the peak is what the bounds hold, not what was dropped.
    if (vacuum.unsafeQueueFull()) await Effect.runPromise(vacuum.flush)
    // The plain call a JavaScript CU makes through the adapter.
    vacuum.unsafeVacuum(record)
    events += eventsIn[i]
    evaluations++
    // A CU does other work between evaluations; here the loop is the vacuum's now and then.
    if (evaluations % 50 === 0) await yieldToLoop()
  }
}
await Effect.runPromise(vacuum.flush)
const vacuumSeconds = (performance.now() - started) / 1000
const before = await Effect.runPromise(vacuum.snapshot)
const peakWhileDownMB = process.resourceUsage().maxRSS / 1024

down = false
const back = performance.now()
const drained = await Effect.runPromise(vacuum.drain("10 minutes"))
const drainSeconds = (performance.now() - back) / 1000
const after = await Effect.runPromise(vacuum.snapshot)
await Effect.runPromise(Scope.close(scope, Exit.void))
server.close()
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({
  events,
  found: before.events.found,
  evaluations,
  vacuumSeconds,
  stored: before.sinks[0].handedOff,
  waitingWhileDown: before.sinks[0].waiting,
  discarded: before.discarded.buffer_full + before.discarded.store_failed,
  startedMB,
  peakWhileDownMB,
  drained,
  drainSeconds,
  delivered,
  waitingAfter: after.sinks[0].waiting,
  peakOverallMB: process.resourceUsage().maxRSS / 1024
}))
