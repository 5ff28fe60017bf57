import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Exit, Layer, Logger } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import * as Env from "../../src/Env.js"
import { crashThread } from "../../src/internal/thread/host.js"
import * as Vacuum from "../../src/Vacuum.js"
import { copiesOfExample } from "../support/guarantees.js"
import { exampleRecords } from "../support/harness.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-thread-"))

/** The vacuum on its own thread, built in the current scope under `env`; its log lines (as the caller's logger sees them) in `logs`. */
const threaded = (env: Record<string, string>, logs: Array<string> = []) =>
  Layer.build(Env.layerThread()).pipe(
    Effect.map((context) => Context.get(context, Vacuum.Vacuum)),
    Effect.withConfigProvider(ConfigProvider.fromMap(new Map(Object.entries(env)))),
    Effect.provide(Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => logs.push(String(message)))))
  )

const fileEnv = (dir: string): Record<string, string> => ({
  EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
  EVENT_VACUUM_TRANSPORTS: "file",
  EVENT_VACUUM_FILE_PATH: path.join(dir, "events.ndjson"),
  EVENT_VACUUM_FLUSH_INTERVAL: "10 millis"
})

const linesOf = (file: string): Array<{ data: { eventId: string } }> =>
  fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : []

describe("the vacuum on its own thread", () => {
  it.live("hands records over, and the events are found, stored and delivered there, each once", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const { found, delivered, outcomes } = yield* Effect.scoped(Effect.gen(function*() {
        const vacuum = yield* threaded(fileEnv(dir))
        const outcomes = new Set(exampleRecords().map((r) => vacuum.unsafeVacuum(r).outcome))
        assert.isTrue(yield* vacuum.drain("10 seconds"))
        const s = yield* vacuum.snapshot
        return { found: s.events.found, delivered: s.sinks[0]!.delivered, outcomes }
      }))
      assert.deepStrictEqual([...outcomes].sort(), ["handed_off", "read_only"])
      assert.strictEqual(found, 121)
      assert.strictEqual(delivered, 121)
      const ids = linesOf(path.join(dir, "events.ndjson")).map((l) => l.data.eventId)
      assert.strictEqual(new Set(ids).size, 121)
      assert.strictEqual(ids.length, 121)
    }))

  it.live("counts on the caller's thread what it decides there: bad records (with the reason), read-only ones, no text", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      yield* Effect.scoped(Effect.gen(function*() {
        const vacuum = yield* threaded(fileEnv(dir))
        const bad = vacuum.unsafeVacuum({ processId: "", ordinate: "x", timestamp: -1, output: {} })
        assert.strictEqual(bad.outcome, "invalid_record")
        assert.include(bad.reason ?? "", "processId")
        const noText = vacuum.unsafeVacuum({ processId: "p", ordinate: "1", timestamp: 1, output: { Output: null } })
        assert.deepStrictEqual(noText, { outcome: "no_text", events: 0, rejectedLines: 0, reason: "no_output" })
        const throwing = vacuum.unsafeVacuum(new Proxy({}, { get: () => { throw new Error("no reading me") } }))
        assert.strictEqual(throwing.outcome, "invalid_record")
        for (const r of exampleRecords()) vacuum.unsafeVacuum(r)
        yield* vacuum.flush
        const s = yield* vacuum.snapshot
        assert.deepStrictEqual(s.evaluations, { received: 137, readOnly: 12, notAllowed: 0, invalid: 2, noText: 1, failed: 4 })
        assert.strictEqual(s.events.found, 121)
      }))
    }))

  it.live("a thread that dies is logged and started again, and is handed what was not stored: every event once", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const logs: Array<string> = []
      const records = copiesOfExample(20)
      const { delivered, found } = yield* Effect.scoped(Effect.gen(function*() {
        const vacuum = yield* threaded(fileEnv(dir), logs)
        // Half of them stored, the other half still crossing when the thread dies.
        const half = records.length / 2
        for (const r of records.slice(0, half)) vacuum.unsafeVacuum(r)
        yield* vacuum.flush
        for (const r of records.slice(half)) vacuum.unsafeVacuum(r)
        ;(vacuum as unknown as Record<typeof crashThread, () => void>)[crashThread]()
        // Calls go on while it is down: they wait in the crossing for the next thread.
        assert.isTrue(yield* vacuum.drain("20 seconds"))
        const s = yield* vacuum.snapshot
        return { delivered: s.sinks[0]!.delivered, found: s.events.found }
      }))
      assert.isTrue(logs.some((l) => l.includes("the vacuum's thread stopped") && l.includes("code 70")), logs.join("\n"))
      assert.isTrue(logs.some((l) => l.includes("the vacuum's thread runs again")), logs.join("\n"))
      const ids = linesOf(path.join(dir, "events.ndjson")).map((l) => l.data.eventId)
      assert.strictEqual(ids.length, 121 * 20)
      assert.strictEqual(new Set(ids).size, 121 * 20)
      // The new thread counts what it found and delivered (what the first claimed included): at most every event.
      assert.isAtMost(delivered, 121 * 20)
      assert.isAtLeast(found, 1)
    }))

  it.live("bounds what crosses by maxQueuedBytes: past it a call drops the record, counting its events", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const logs: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const vacuum = yield* threaded({ ...fileEnv(dir), EVENT_VACUUM_MAX_QUEUED_BYTES: "1" }, logs)
        const summaries = exampleRecords().map((r) => vacuum.unsafeVacuum(r))
        const dropped = summaries.filter((s) => s.outcome === "buffer_full")
        assert.isAbove(dropped.length, 0)
        assert.isTrue(vacuum.unsafeQueueFull())
        yield* vacuum.flush
        assert.isFalse(vacuum.unsafeQueueFull())
        const s = yield* vacuum.snapshot
        const lost = dropped.reduce((n, d) => n + d.events, 0)
        assert.isAbove(lost, 0)
        assert.strictEqual(s.discarded.buffer_full, lost)
        assert.strictEqual(s.events.found + lost, 121)
      }))
      assert.isTrue(logs.some((l) => l.includes("the queue to the store is full")), logs.join("\n"))
    }))

  it.live("holds back what passes the window on the caller's thread, and stores all of it: by a flush, and by a close with no flush", () =>
    Effect.gen(function*() {
      // 100 copies: about 10 MiB of log text, more than the window lets cross at once, handed over with no yield.
      const records = copiesOfExample(100)
      const dir = tempDir()
      const flushed = yield* Effect.scoped(Effect.gen(function*() {
        const vacuum = yield* threaded(fileEnv(dir))
        for (const r of records) vacuum.unsafeVacuum(r)
        yield* vacuum.flush
        return yield* vacuum.snapshot
      }))
      assert.strictEqual(flushed.events.found, 121 * 100)
      assert.strictEqual(flushed.queued.events, 0)
      assert.strictEqual(flushed.discarded.buffer_full, 0)

      const closedDir = tempDir()
      const logs: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        const vacuum = yield* threaded(fileEnv(closedDir), logs)
        for (const r of records) vacuum.unsafeVacuum(r)
      }))
      assert.isFalse(logs.some((l) => l.includes("not stored")), logs.join("\n"))
      // What the close stored is sent by the next vacuum on the same state file: every event, once.
      yield* Effect.scoped(Effect.gen(function*() {
        const vacuum = yield* threaded(fileEnv(closedDir))
        assert.isTrue(yield* vacuum.drain("30 seconds"))
      }))
      const ids = linesOf(path.join(closedDir, "events.ndjson")).map((l) => l.data.eventId)
      assert.strictEqual(new Set(ids).size, 121 * 100)
      assert.strictEqual(ids.length, 121 * 100)
    }), 60_000)

  it.live("a bad setting read on the vacuum's thread fails the start with the same typed error, naming the key", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const exit = yield* Effect.exit(Effect.scoped(threaded({ ...fileEnv(dir), EVENT_VACUUM_TRANSPORTS: "honeycomb" })))
      assert.isTrue(Exit.isFailure(exit))
      const text = Exit.isFailure(exit) ? String(exit.cause) : ""
      assert.include(text, "HONEYCOMB_API_KEY")
      const bad = yield* Effect.exit(Effect.scoped(threaded({ ...fileEnv(dir), EVENT_VACUUM_MAX_QUEUED_BYTES: "lots" })))
      assert.isTrue(Exit.isFailure(bad))
      assert.include(Exit.isFailure(bad) ? String(bad.cause) : "", "EVENT_VACUUM_MAX_QUEUED_BYTES")
    }))

  it.live("the vacuum thread's log lines reach the caller's logger", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const logs: Array<string> = []
      yield* Effect.scoped(Effect.gen(function*() {
        // A sink that cannot be reached: closing says its events stay in the store.
        const vacuum = yield* threaded({
          ...fileEnv(dir),
          EVENT_VACUUM_TRANSPORTS: "honeycomb",
          HONEYCOMB_API_KEY: "key-0123456789",
          HONEYCOMB_DATASET: "d",
          HONEYCOMB_API_HOST: "http://127.0.0.1:9",
          EVENT_VACUUM_SHUTDOWN_TIMEOUT: "200 millis"
        }, logs)
        for (const r of exampleRecords()) vacuum.unsafeVacuum(r)
        yield* vacuum.flush
      }))
      assert.isTrue(logs.some((l) => l.includes("closing with events still waiting for honeycomb")), logs.join("\n"))
    }))

  it("several CU threads in one process, each with its own vacuum on one state file: every event once", async () => {
    const dir = tempDir()
    const env = { ...fileEnv(dir), EVENT_VACUUM_ENABLED: "true" }
    const adapter = new URL("../../dist/Adapter.js", import.meta.url).href
    const records = copiesOfExample(5)
    // Each thread evaluates all of them, as CU workers re-evaluating the same messages would.
    const run = () =>
      new Promise<void>((resolve, reject) => {
        const w = new Worker(
          `const { workerData } = require("node:worker_threads");
           import(workerData.adapter).then(async ({ createVacuum }) => {
             const v = await createVacuum({ env: workerData.env })
             for (const r of workerData.records) v.vacuum(r)
             if (!(await v.drain(20000))) throw new Error("not drained")
             await v.close()
           }).catch((e) => { console.error(e); process.exit(1) })`,
          { eval: true, workerData: { adapter, env, records } }
        )
        w.on("error", reject)
        w.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`CU thread exited ${code}`))))
      })
    await Promise.all([run(), run(), run()])
    const ids = linesOf(path.join(dir, "events.ndjson")).map((l) => l.data.eventId)
    assert.strictEqual(new Set(ids).size, 121 * 5)
    assert.strictEqual(ids.length, 121 * 5)
  })
})
