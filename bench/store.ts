/**
 * The state store, on each engine: the cost per event of what every event
 * goes through (hand-off, claim, acknowledge), SQLite's file beside
 * PostgreSQL; and a fleet end to end: 1, 2 and 4 `event-vacuum run`
 * processes on one PostgreSQL, each over processes of its own (the example
 * renamed), into the file sink, start to exit.
 */
import { Effect, Layer } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Handoff } from "../src/DedupeStore.js"
import { DedupeStore } from "../src/DedupeStore.js"
import * as Pg from "../src/DedupeStore/Pg.js"
import * as Sqlite from "../src/DedupeStore/Sqlite.js"
import { makeDatabase } from "../test/support/cuPg.js"
import { copiesOfExample, expectedEvents, writeNdjson } from "../test/support/guarantees.js"
import { builtBin, cleanEnv } from "./cli.js"

export interface StoreResult {
  readonly perEvent: { readonly sqlite: number; readonly pg: number }
  readonly events: number
  readonly fleet: ReadonlyArray<{ readonly instances: number; readonly events: number; readonly seconds: number; readonly eventsPerSec: number; readonly cpuBusy: number }>
}

/** Hand-off in groups of 256 evaluations of 10 events, then claim 500 and acknowledge, until empty: µs per event. */
const cycle = (events: number) =>
  Effect.gen(function*() {
    const store = yield* DedupeStore
    const evaluations = Math.ceil(events / 10)
    const start = process.hrtime.bigint()
    for (let g = 0; g < evaluations; g += 256) {
      const group: Array<Handoff> = []
      for (let e = g; e < Math.min(evaluations, g + 256); e++) {
        group.push({
          processId: `P${e % 8}`,
          position: { timestamp: 1_700_000_000_000 + e, ordinate: String(e), cron: null },
          events: Array.from({ length: 10 }, (_, i) => ({ id: `${e}-${i}`, time: 1_700_000_000_000 + e, data: `{"processId":"P${e % 8}","n":${e},"i":${i},"pad":"${"x".repeat(300)}"}` }))
        })
      }
      yield* store.handOff(["s"], group)
    }
    for (;;) {
      const batch = yield* store.claim("s", { owner: "bench", maxEvents: 500, maxBytes: 5e6, leaseMillis: 60_000 })
      if (batch.length === 0) break
      yield* store.acknowledge("s", "bench", batch.map((e) => e.seq))
    }
    return Number(process.hrtime.bigint() - start) / 1e3 / (evaluations * 10)
  })

const exited = (child: ReturnType<typeof spawn>) =>
  new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? 1)))

/** The machine's CPU time so far, busy and in all, over every core (ms). */
const cpuTimes = (): { busy: number; total: number } => {
  let busy = 0
  let total = 0
  for (const { times } of os.cpus()) {
    busy += times.user + times.nice + times.sys + times.irq
    total += times.user + times.nice + times.sys + times.irq + times.idle
  }
  return { busy, total }
}

export const runStoreBench = async (options: { readonly quick: boolean }): Promise<StoreResult> => {
  const events = options.quick ? 5_000 : 50_000
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-store-"))
  const db = makeDatabase("event_vacuum_bench_store")
  try {
    const sqlite = await Effect.runPromise(Effect.provide(cycle(events), Sqlite.layer({ filename: path.join(dir, "s.db") })))
    const pg = await Effect.runPromise(Effect.provide(cycle(events), Pg.layer({ url: db.url }) as Layer.Layer<DedupeStore>))

    // The fleet: each instance its own processes, all on one database.
    const bin = builtBin()
    const fleet: Array<StoreResult["fleet"][number]> = []
    for (const instances of [1, 2, 4]) {
      const fleetDb = makeDatabase("event_vacuum_bench_fleet")
      try {
        let total = 0
        const inputs = Array.from({ length: instances }, (_, i) => {
          const records = copiesOfExample(options.quick ? 10 : 60).map((r) => ({ ...r, processId: `F${i}${String(r.processId).slice(2)}` }))
          total += expectedEvents(records).size
          const file = path.join(dir, `fleet-${instances}-${i}.ndjson`)
          writeNdjson(file, records)
          return file
        })
        const cpuBefore = cpuTimes()
        const start = process.hrtime.bigint()
        const codes = await Promise.all(inputs.map((file, i) =>
          exited(spawn(process.execPath, [bin, "run", file], {
            env: {
              ...cleanEnv(),
              EVENT_VACUUM_STATE_URL: fleetDb.url,
              EVENT_VACUUM_TRANSPORTS: "file",
              EVENT_VACUUM_FILE_PATH: path.join(dir, `out-${instances}-${i}.ndjson`)
            },
            stdio: "ignore"
          }))
        ))
        const seconds = Number(process.hrtime.bigint() - start) / 1e9
        const cpuAfter = cpuTimes()
        const busy = (cpuAfter.busy - cpuBefore.busy) / Math.max(1, cpuAfter.total - cpuBefore.total)
        if (codes.some((c) => c !== 0)) throw new Error(`store bench: a fleet run of ${instances} exited ${codes.join(", ")}`)
        let delivered = 0
        for (let i = 0; i < instances; i++) {
          delivered += fs.readFileSync(path.join(dir, `out-${instances}-${i}.ndjson`), "utf8").split("\n").filter((l) => l !== "").length
        }
        if (delivered !== total) throw new Error(`store bench: the fleet of ${instances} delivered ${delivered} of ${total}`)
        fleet.push({ instances, events: total, seconds, eventsPerSec: total / seconds, cpuBusy: busy })
      } finally {
        fleetDb.drop()
      }
    }
    return { perEvent: { sqlite, pg }, events, fleet }
  } finally {
    db.drop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
