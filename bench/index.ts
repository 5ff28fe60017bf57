/**
 * `npm run bench [-- --quick]`: measures, in one run on this machine, where
 * the vacuum stands against its anchors and targets (DESIGN.md). Prints
 * tables and writes bench/results.json. Quick mode keeps CI's run under a
 * minute; its numbers keep the bench working, they are not the judgement.
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { runCliBench, runFollowBench, runStartupBench } from "./cli.js"
import { runCuLoopBench } from "./cu-loop.js"
import { runKinesisBench } from "./kinesis.js"
import { runOtlpBench } from "./otlp.js"
import { runStoreBench } from "./store.js"
import { printDeliveryTable, runDeliveryBench } from "./delivery.js"
import { runLatencyBench } from "./latency.js"
import { runParseBench } from "./parse.js"
import { printThroughputTable, runThroughputBench } from "./throughput.js"

const here = path.dirname(fileURLToPath(import.meta.url))
const quick = process.argv.includes("--quick")
const fmt = (n: number, digits = 1) => n.toFixed(digits)
const verdict = (met: boolean) => (met ? "met" : "NOT met")

const table = (rows: ReadonlyArray<readonly [string, string, string]>) => {
  const width = Math.max(...rows.map((r) => r[0].length))
  for (const [name, value, note] of rows) console.log(`  ${name.padEnd(width)}  ${value.padStart(14)}  ${note}`)
}

console.log(
  `ao-event-vacuum bench${quick ? " (quick)" : ""}: node ${process.version}, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "unknown cpu"}`
)

// Parsing.
const parse = runParseBench({ quick })
console.log(`\nParsing: the example's log texts replicated to ${fmt(parse.corpusMB)} MB (best of rounds)`)
table([
  ["seed algorithm (split + JSON.parse every line)", `${fmt(parse.mbPerSec.seed)} MB/s`, `${parse.events.seed} events`],
  ["floor (JSON.parse of the event lines only)", `${fmt(parse.mbPerSec.floor)} MB/s`, `${parse.events.floor} events`],
  ["ours (extract)", `${fmt(parse.mbPerSec.ours)} MB/s`, `${parse.events.ours} events`],
  ["ours / seed (target >= 5x)", `${fmt(parse.mbPerSec.ours / parse.mbPerSec.seed, 2)}x`, verdict(parse.mbPerSec.ours >= 5 * parse.mbPerSec.seed)],
  ["ours / floor (target >= 50%)", `${fmt((100 * parse.mbPerSec.ours) / parse.mbPerSec.floor, 0)}%`, verdict(parse.mbPerSec.ours >= 0.5 * parse.mbPerSec.floor)]
])
console.log("  (the seed and the floor cannot parse aos's non-strict events; ours recovers them)")

// The CU-facing call.
const latency = await runLatencyBench({ quick })
console.log(
  `\nThe CU-facing call on plain records, ${latency.effect.healthy.evaluations} evaluations` +
    ` (${latency.effect.healthy.events} events), SQLite state file`
)
const us = (n: number) => `${fmt(n, 1)} µs`
const callers = [["Effect CU, yield* vacuum(e) in its fiber", latency.effect], ["JS CU, the adapter's plain call", latency.plain]] as const
table(callers.flatMap(([who, r]) => [
  [`${who}, healthy sink: p50 / max`, us(r.healthy.p50us), `max ${us(r.healthy.maxUs)}`],
  [`${who}, healthy sink: p99 (target < 100 µs)`, us(r.healthy.p99us), verdict(r.healthy.p99us < 100)],
  [`${who}, sink down: p50 / max`, us(r.down.p50us), `max ${us(r.down.maxUs)}`],
  [`${who}, sink down: p99 (target < 100 µs)`, us(r.down.p99us), verdict(r.down.p99us < 100)]
] as const))
const notStored = callers.reduce((n, [, r]) => n + r.healthy.discarded + r.down.discarded, 0)
console.log(`  events not stored (buffer full or store failed): ${notStored}`)

// The CU's own loop, and the call at a CU's cadence.
const cuLoop = await runCuLoopBench({ quick })
console.log(
  `\nThe CU's own loop: a JS CU over ${cuLoop.loop.off.records} records (${cuLoop.loop.off.events} events), ${cuLoop.workMicros} µs of work` +
    " per evaluation and a yield between them, through the adapter into a loopback Honeycomb receiver (best of rounds)"
)
const seconds = (n: number) => `${fmt(n, 2)} s`
table([
  ["vacuum off", seconds(cuLoop.loop.off.loopSeconds), ""],
  ["vacuum on, healthy sink", seconds(cuLoop.loop.healthy.loopSeconds), `then ${fmt(cuLoop.loop.healthy.drainSeconds, 2)} s to drain; ${cuLoop.accepted} accepted once`],
  ["vacuum on, sink down (every request 503)", seconds(cuLoop.loop.down.loopSeconds), `${cuLoop.loop.down.notStored} not stored`],
  ["added per event, healthy (target <= 5 µs)", us(cuLoop.addedPerEventUs.healthy), verdict(cuLoop.addedPerEventUs.healthy <= 5)],
  ["added per event, sink down (target <= 5 µs)", us(cuLoop.addedPerEventUs.down), verdict(cuLoop.addedPerEventUs.down <= 5)],
  ["anchor: the seed, the same loop (DESIGN.md, round 2)", "745.0 µs", "and 12% of its events never arrived"]
])
console.log(`The call at a CU's cadence: 20 ms of other work between calls, ${cuLoop.cadence.healthy.calls} calls, each timed alone`)
table((["healthy", "down"] as const).flatMap((mode) => [
  [`${mode === "healthy" ? "healthy sink" : "sink down"}: p50 / max`, us(cuLoop.cadence[mode].p50us), `max ${us(cuLoop.cadence[mode].maxUs)}`],
  [`${mode === "healthy" ? "healthy sink" : "sink down"}: p99 (target < 100 µs)`, us(cuLoop.cadence[mode].p99us), verdict(cuLoop.cadence[mode].p99us < 100)]
] as const))

// Delivery, ours against libhoney.
console.log("")
const delivery = await runDeliveryBench({ quick })
printDeliveryTable(delivery)

// Throughput as an operator feels it: the CLI from its start to its exit, beside libhoney timed the same way.
const throughput = await runThroughputBench({ quick })
printThroughputTable(throughput)

// Memory: a child process on the built library (plain node, no TypeScript loader in the RSS), with
// node's default heap sizing. (A run with the old space capped at 128 MB no longer ends: with the
// vacuum on its own thread, the caller's isolate holds what crosses, up to maxQueuedBytes.)
interface MemoryResult {
  readonly events: number
  readonly vacuumSeconds: number
  readonly discarded: number
  readonly startedMB: number
  readonly peakWhileDownMB: number
  readonly drainSeconds: number
  readonly delivered: number
  readonly waitingAfter: number
}
const memoryEvents = quick ? 100_000 : 1_000_000
const runMemory = (flags: ReadonlyArray<string>): MemoryResult => {
  const child = spawnSync(process.execPath, [...flags, path.join(here, "memory-child.mjs"), String(memoryEvents)], {
    encoding: "utf8",
    maxBuffer: 1 << 20
  })
  if (child.status !== 0) throw new Error(`memory bench failed: ${child.stderr}`)
  return JSON.parse(child.stdout.trim().split("\n").pop()!) as MemoryResult
}
const memory = runMemory([])
const baseline = spawnSync(
  process.execPath,
  ["-e", `import(${JSON.stringify(path.join(here, "..", "dist", "Vacuum.js"))}).then(() => console.log(process.resourceUsage().maxRSS / 1024))`],
  { encoding: "utf8" }
)
const baselineMB = Number(baseline.stdout.trim())
console.log(`\nMemory: ${memory.events.toLocaleString("en-US")} events vacuumed with the sink down, then the sink back (plain node on dist/, Env.layer: the vacuum on its own thread, the Honeycomb sink answering 503)`)
table([
  ["peak RSS while the sink is down (target < 200 MB)", `${fmt(memory.peakWhileDownMB, 0)} MB`, verdict(memory.peakWhileDownMB < 200)],
  ["RSS of node with the library loaded, for scale", `${fmt(baselineMB, 0)} MB`, ""],
  ["RSS once the vacuum and its thread are started, no event yet", `${fmt(memory.startedMB, 0)} MB`, "two runtimes"],
  ["time to vacuum them (store writes included)", `${fmt(memory.vacuumSeconds)} s`, `${fmt(memory.events / memory.vacuumSeconds / 1000)}k events/s`],
  ["events not stored", String(memory.discarded), ""],
  ["time to drain once the sink is back", `${fmt(memory.drainSeconds)} s`, `${fmt(memory.delivered / memory.drainSeconds / 1000)}k events/s`],
  ["delivered / left waiting", `${memory.delivered} / ${memory.waitingAfter}`, ""]
])

// The CLI as a user feels it: the built bin under plain node, from its start to its exit.
const cli = runCliBench({ quick })
console.log(`\nThe CLI: node ${cli.bin} as a child process, start to exit (best of ${cli.rounds})`)
table([
  [`CLI extract, ${fmt(cli.extract.bytes / 1e6)} MB of records, start to exit`, `${fmt(cli.extract.mbPerSec)} MB/s`, `${fmt(cli.extract.seconds)} s`],
  ["  the same in events", `${fmt(cli.extract.eventsPerSec / 1000)}k events/s`, `${cli.extract.events} events`],
  [`CLI run into the file sink, ${cli.run.events} events, start to exit`, `${fmt(cli.run.eventsPerSec / 1000)}k events/s`, `${fmt(cli.run.seconds)} s`]
])

// The sidecar: follow --once over a CU database, start to exit, on each engine a CU keeps it in;
// then following a CU database while a writer process inserts at a steady rate.
const followed: Array<Awaited<ReturnType<typeof runFollowBench>>> = []
for (const engine of ["SQLite", "PostgreSQL"] as const) followed.push(await runFollowBench({ quick, engine }))
console.log(`\nfollow --once over a CU database of ${followed[0]!.rows} evaluations (${followed[0]!.events} events), the CU's DDL, into the file sink, start to exit`)
table(followed.flatMap((f) => [
  [`${f.engine}: rows read`, `${fmt(f.rowsPerSec / 1000)}k rows/s`, `${fmt(f.seconds)} s`],
  [`${f.engine}: events delivered`, `${fmt(f.eventsPerSec / 1000)}k events/s`, `beside CLI run into the file sink: ${fmt(cli.run.eventsPerSec / 1000)}k events/s`],
  [`${f.engine}: the follower's peak RSS`, `${fmt(f.peakRssMB, 0)} MB`, "node and module loading included"]
]))
const live = followed[0]!.live
console.log(
  `follow while a writer process inserts ${fmt(live.rowsPerSec, 0)} rows/s for ${fmt(live.writeSeconds, 1)} s (${live.rows} rows, ${live.events} events), ` +
    `its default poll (${live.pollMs} ms) and flush interval (${live.flushMs} ms): lag from a row's commit to its event in the file`
)
table(followed.flatMap((f) => [
  [`${f.engine}: lag p50 / max`, `${fmt(f.live.lagP50Ms, 0)} ms`, `max ${fmt(f.live.lagMaxMs, 0)} ms`],
  [`${f.engine}: kept up (no event later than poll + flush + 1 s)`, f.live.keptUp ? "yes" : "NO", `peak RSS ${fmt(f.live.peakRssMB, 0)} MB`]
]))

// The Kinesis sink: the CLI into a local Kinesis, start to exit, beside the seed's one PutRecord per event.
const kinesis = await runKinesisBench({ quick })
console.log(`\nKinesis: event-vacuum run into a local Kinesis (kinesalite in a child process, 4 shards), ${kinesis.events} events, start to exit`)
table([
  ["ours: PutRecords batches, start to exit", `${fmt(kinesis.eventsPerSec / 1000)}k events/s`, `${fmt(kinesis.seconds)} s`],
  [`the seed's way: one PutRecord per event, awaited (${kinesis.seed.events} events, same SDK)`, `${fmt(kinesis.seed.eventsPerSec / 1000)}k events/s`, `${fmt(kinesis.seed.seconds)} s`],
  ["ours / the seed's", `${fmt(kinesis.eventsPerSec / kinesis.seed.eventsPerSec)}x`, ""],
  ["bytes per event: record data + partition key / as sent (base64, framed)", `${fmt(kinesis.recordBytes, 0)} / ${fmt(kinesis.wireBytes, 0)}`, ""]
])

// The OTLP sink, end to end in each protocol beside our Honeycomb sink, and its encoding's own cost.
const otlp = await runOtlpBench({ quick })
console.log(`\nOTLP: event-vacuum run into a local OTLP/HTTP receiver (decoding with the official schema), ${otlp.protobuf.events} events, start to exit, gzipped`)
table([
  ["OTLP http/protobuf: events/s, start to exit", `${fmt(otlp.protobuf.eventsPerSec / 1000)}k events/s`, `${fmt(otlp.protobuf.seconds)} s, ${fmt(otlp.protobuf.wireBytesPerEvent, 0)} wire bytes per event`],
  ["OTLP http/json: events/s, start to exit", `${fmt(otlp.json.eventsPerSec / 1000)}k events/s`, `${fmt(otlp.json.seconds)} s, ${fmt(otlp.json.wireBytesPerEvent, 0)} wire bytes per event`],
  ["beside it, our Honeycomb sink into the local Honeycomb", `${fmt(otlp.honeycomb.eventsPerSec / 1000)}k events/s`, `${fmt(otlp.honeycomb.seconds)} s, ${fmt(otlp.honeycomb.wireBytesPerEvent, 0)} wire bytes per event`],
  ["encoding, http/protobuf: per event (build + encode)", `${fmt(otlp.encode.protobuf.micros, 2)} µs`, `${fmt(otlp.encode.protobuf.rawBytes, 0)} bytes, ${fmt(otlp.encode.protobuf.gzipBytes, 0)} gzipped`],
  ["encoding, http/json: per event (build + encode)", `${fmt(otlp.encode.json.micros, 2)} µs`, `${fmt(otlp.encode.json.rawBytes, 0)} bytes, ${fmt(otlp.encode.json.gzipBytes, 0)} gzipped`]
])

// The state store on each engine, and a fleet of instances on one PostgreSQL.
const store = await runStoreBench({ quick })
console.log(`\nThe state store: hand-off + claim + acknowledge, ${store.events} events of ~340 bytes; a fleet of event-vacuum run on one PostgreSQL`)
table([
  ["SQLite file: per event", `${fmt(store.perEvent.sqlite, 2)} µs`, ""],
  ["PostgreSQL (127.0.0.1): per event", `${fmt(store.perEvent.pg, 2)} µs`, `${fmt(store.perEvent.pg / store.perEvent.sqlite)}x SQLite's`],
  ...store.fleet.map((f): [string, string, string] => [
    `fleet of ${f.instances} on one PostgreSQL, ${f.events} events, start to exit`,
    `${fmt(f.eventsPerSec / 1000)}k events/s`,
    `${fmt(f.seconds)} s, the machine's ${os.cpus().length} cores ${fmt(f.cpuBusy * 100, 0)}% busy`
  ])
])

// What a command costs before it does anything: the modules it loads.
const startup = runStartupBench({ quick })
const ms = (seconds: number) => `${fmt(seconds * 1000, 0)} ms`
console.log(`\nStartup, start to exit (best of ${startup.rounds}), beside bare node (node -e 0: ${ms(startup.bareNode)})`)
table([
  ["event-vacuum --help", ms(startup.help), `${ms(startup.help - startup.bareNode)} over bare node`],
  ["event-vacuum run --help", ms(startup.runHelp), `${ms(startup.runHelp - startup.bareNode)} over bare node`],
  ["event-vacuum status (a small state file)", ms(startup.status), `${ms(startup.status - startup.bareNode)} over bare node`],
  ["import the Adapter, createVacuum(), close: disabled", ms(startup.adapterDisabled), `${ms(startup.adapterDisabled - startup.bareNode)} over bare node`],
  ["  the same, enabled (SQLite in memory, console sink)", ms(startup.adapterEnabled), `${ms(startup.adapterEnabled - startup.bareNode)} over bare node`]
])

const results = {
  throughput,
  date: new Date().toISOString(),
  quick,
  node: process.version,
  parse,
  latency,
  cuLoop,
  delivery,
  memory: { ...memory, baselineMB },
  cli,
  startup,
  follow: followed,
  kinesis,
  otlp,
  store
}
const out = path.join(here, "results.json")
fs.writeFileSync(out, JSON.stringify(results, null, 2) + "\n")
console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
