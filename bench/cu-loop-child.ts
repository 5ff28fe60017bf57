/**
 * Child process of the CU-loop bench: a JavaScript CU's own loop on the
 * built library (dist/Adapter.js, the adapter a JS CU imports). Each record
 * is "evaluated" by `workMicros` of busy work, handed to the adapter's
 * `vacuum()`, then the loop yields (`setImmediate`) as a CU yields between
 * evaluations. Prints one JSON line: the loop's time, then how long the
 * drain took after it.
 *
 * argv: mode (off | healthy | down), the receiver's URL, events, workMicros,
 * and optionally `cadence` with a call count: instead of the loop, calls
 * spaced by 20 ms of other work (allocation and JSON, which evicts the
 * caches as a CU's evaluation does), each call timed alone.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { deliveryFeed } from "./delivery-feed.js"

const [mode = "healthy", url = "", eventsArg = "42700", workArg = "100", kind = "loop", callsArg = "500"] = process.argv.slice(2)
// The built library, as a JS CU imports it (typed by its source; dist/ exists only after the build).
const { createVacuum } = (await import(new URL("../dist/Adapter.js", import.meta.url).href)) as typeof import("../src/Adapter.js")
const feed = deliveryFeed(Number(eventsArg))
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-cu-"))
const vacuum = await createVacuum({
  env: {
    EVENT_VACUUM_ENABLED: mode === "off" ? "false" : "true",
    EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
    EVENT_VACUUM_TRANSPORTS: "honeycomb",
    HONEYCOMB_API_HOST: url,
    HONEYCOMB_API_KEY: "bench-key-0123456789abcdef",
    HONEYCOMB_DATASET: "bench",
    EVENT_VACUUM_LOG_LEVEL: "error"
  }
})

const spin = (micros: number) => {
  const end = performance.now() + micros / 1000
  while (performance.now() < end);
}
const tick = () => new Promise<void>((resolve) => setImmediate(resolve))

/** 20 ms of a CU's other work: objects made, turned to JSON and back, dropped. */
let sink = 0
const otherWork = (millis: number) => {
  const end = performance.now() + millis
  while (performance.now() < end) {
    const o = Array.from({ length: 200 }, (_, i) => ({ i, s: `v${i}`, n: [i, i * 2] }))
    sink += JSON.parse(JSON.stringify(o)).length
  }
}

if (kind === "cadence") {
  const calls = Number(callsArg)
  const micros: Array<number> = []
  for (let i = 0; i < calls; i++) {
    otherWork(20)
    const record = feed.records[i % feed.records.length]
    const start = performance.now()
    vacuum.vacuum(record)
    micros.push((performance.now() - start) * 1000)
    await tick()
  }
  await vacuum.close()
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify({ mode, calls, micros, sink }))
} else {
  const work = Number(workArg)
  const start = performance.now()
  for (const record of feed.records) {
    spin(work)
    vacuum.vacuum(record)
    await tick()
  }
  const loopMillis = performance.now() - start
  const drainStart = performance.now()
  // With the sink down nothing drains: the events wait in the state file, as they would.
  const drained = mode === "healthy" ? await vacuum.drain(120_000) : false
  const drainMillis = performance.now() - drainStart
  const snapshot = await vacuum.snapshot()
  await vacuum.close()
  fs.rmSync(dir, { recursive: true, force: true })
  console.log(JSON.stringify({
    mode,
    records: feed.records.length,
    events: feed.events,
    loopMillis,
    drainMillis,
    drained,
    notStored: snapshot.discarded.buffer_full + snapshot.discarded.store_failed
  }))
}
