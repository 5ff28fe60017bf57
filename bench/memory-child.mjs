/**
 * Child process of the memory bench, in plain JavaScript on the built
 * library (dist/), so that the RSS measured is the vacuum's and not a
 * TypeScript loader's. It vacuums `N` events' worth of evaluations with the
 * sink down, then brings the sink back and times the drain; prints one JSON
 * line.
 */
import { Context, Effect, Layer, Scope, Exit } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Sqlite from "../dist/DedupeStore/Sqlite.js"
import { allAccepted, Transport, TransportError } from "../dist/Transport.js"
import * as Vacuum from "../dist/Vacuum.js"

const target = Number(process.argv[2] ?? 1_000_000)
const examplePath = new URL("../examples/aos-token-evaluations.ndjson", import.meta.url)
const base = fs.readFileSync(examplePath, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l))
  .filter((r) => r.readOnly !== true)

const sink = {
  name: "bench",
  down: true,
  delivered: 0,
  send(batch) {
    return Effect.suspend(() => {
      if (sink.down) return Effect.fail(new TransportError({ sink: "bench", reason: "Unavailable", description: "503 (bench: down)" }))
      sink.delivered += batch.length
      return Effect.succeed(allAccepted(batch.length))
    })
  }
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-"))
const scope = Effect.runSync(Scope.make())
const layer = Vacuum.layer({ flushInterval: "200 millis", retryBaseDelay: "50 millis", retryMaxDelay: "200 millis" }).pipe(
  Layer.provide(Layer.merge(Sqlite.layer({ filename: path.join(dir, "state.db") }), Layer.succeed(Transport, Transport.of({ sinks: [sink] }))))
)
const vacuum = Context.get(await Effect.runPromise(Layer.buildWithScope(layer, scope)), Vacuum.Vacuum)
const yieldToLoop = () => new Promise((resolve) => setImmediate(resolve))

let events = 0
let evaluations = 0
const started = performance.now()
for (let copy = 0; events < target; copy++) {
  // Records are made as they are vacuumed, so the input does not weigh on the RSS measured.
  for (const r of base) {
    const record = { ...r, ordinate: String(Number(r.ordinate) + copy * 1000), timestamp: r.timestamp + copy * 1e7 }
    // The plain call a JavaScript CU makes through the adapter.
    events += vacuum.unsafeVacuum(record).events
    evaluations++
    // A CU does other work between evaluations; here the loop is the vacuum's now and then.
    if (evaluations % 50 === 0) await yieldToLoop()
  }
}
await Effect.runPromise(vacuum.flush)
const vacuumSeconds = (performance.now() - started) / 1000
const before = await Effect.runPromise(vacuum.snapshot)
const peakWhileDownMB = process.resourceUsage().maxRSS / 1024

sink.down = false
const back = performance.now()
const drained = await Effect.runPromise(vacuum.drain("10 minutes"))
const drainSeconds = (performance.now() - back) / 1000
const after = await Effect.runPromise(vacuum.snapshot)
await Effect.runPromise(Scope.close(scope, Exit.void))
fs.rmSync(dir, { recursive: true, force: true })
console.log(JSON.stringify({
  events,
  evaluations,
  vacuumSeconds,
  stored: before.sinks[0].handedOff,
  waitingWhileDown: before.sinks[0].waiting,
  discarded: before.discarded.buffer_full + before.discarded.store_failed,
  peakWhileDownMB,
  drained,
  drainSeconds,
  delivered: sink.delivered,
  waitingAfter: after.sinks[0].waiting,
  peakOverallMB: process.resourceUsage().maxRSS / 1024
}))
