import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigError, ConfigProvider, Context, Effect, Either, Exit, Layer, Option } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Env from "../src/Env.js"
import * as Vacuum from "../src/Vacuum.js"
import { exampleRecords } from "./support/harness.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-env-"))

const provider = (env: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(env)))

/** Builds the env layer under `env` in the current scope and answers its vacuum. */
const buildVacuum = (env: Record<string, string>) =>
  Layer.build(Env.layer()).pipe(
    Effect.map((context) => Context.get(context, Vacuum.Vacuum)),
    Effect.withConfigProvider(provider(env))
  )

describe("Env.parseTransports", () => {
  it("accepts names separated by commas or semicolons, ignoring case, spaces and empty items", () => {
    assert.deepStrictEqual(Env.parseTransports("console"), Either.right(["console"]))
    assert.deepStrictEqual(Env.parseTransports("Console ; file"), Either.right(["console", "file"]))
    assert.deepStrictEqual(Env.parseTransports("console,,file"), Either.right(["console", "file"]))
    assert.deepStrictEqual(Env.parseTransports(" FILE "), Either.right(["file"]))
  })

  it("rejects an unknown name, naming it", () => {
    const result = Env.parseTransports("console,kafka")
    assert.isTrue(Either.isLeft(result))
    assert.include(Either.getLeft(result).pipe(Option.getOrThrow), "\"kafka\"")
  })

  it("rejects a name given twice", () => {
    const result = Env.parseTransports("console,console")
    assert.isTrue(Either.isLeft(result))
    assert.include(Either.getLeft(result).pipe(Option.getOrThrow), "console")
    assert.isTrue(Either.isLeft(Env.parseTransports("file; FILE")))
  })

  it("rejects a list that names nothing", () => {
    assert.isTrue(Either.isLeft(Env.parseTransports("")))
    assert.isTrue(Either.isLeft(Env.parseTransports(" , ; ")))
  })
})

describe("Env.layer: off", () => {
  it.scoped("is disabled unless EVENT_VACUUM_ENABLED is set, and touches no file", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const statePath = path.join(dir, "state", "s.db")
      const outPath = path.join(dir, "out.ndjson")
      const vacuum = yield* buildVacuum({
        EVENT_VACUUM_STATE_PATH: statePath,
        EVENT_VACUUM_TRANSPORTS: "file",
        EVENT_VACUUM_FILE_PATH: outPath
      })
      const records = exampleRecords().slice(0, 5)
      for (const input of [...records, {}, "not a record", null]) {
        const summary = yield* vacuum.vacuum(input)
        assert.strictEqual(summary.outcome, "disabled")
        assert.strictEqual(summary.events, 0)
      }
      assert.isTrue(yield* vacuum.drain("1 second"))
      const snapshot = yield* vacuum.snapshot
      assert.strictEqual(snapshot.evaluations.received, 0)
      assert.deepStrictEqual(snapshot.sinks, [])
      assert.isFalse(fs.existsSync(statePath))
      assert.isFalse(fs.existsSync(path.dirname(statePath)))
      assert.isFalse(fs.existsSync(outPath))
    }))

  it.scoped("EVENT_VACUUM_ENABLED=false is off too", () =>
    Effect.gen(function*() {
      const statePath = path.join(tempDir(), "s.db")
      const vacuum = yield* buildVacuum({ EVENT_VACUUM_ENABLED: "false", EVENT_VACUUM_STATE_PATH: statePath })
      assert.strictEqual((yield* vacuum.vacuum(exampleRecords()[2])).outcome, "disabled")
      assert.isFalse(fs.existsSync(statePath))
    }))
})

describe("Env.layer: on", () => {
  it.live("delivers the example's events to the file sink and keeps its state in the SQLite file", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      const statePath = path.join(dir, "s.db")
      const outPath = path.join(dir, "out", "out.ndjson")
      const records = exampleRecords().slice(0, 12)

      const { drained, found, snapshot } = yield* Effect.scoped(
        Effect.gen(function*() {
          const vacuum = yield* buildVacuum({
            EVENT_VACUUM_ENABLED: "true",
            EVENT_VACUUM_STATE_PATH: statePath,
            EVENT_VACUUM_TRANSPORTS: "file",
            EVENT_VACUUM_FILE_PATH: outPath,
            EVENT_VACUUM_FLUSH_INTERVAL: "10 millis"
          })
          const summaries = yield* Effect.forEach(records, vacuum.vacuum)
          assert.deepStrictEqual([...new Set(summaries.map((s) => s.outcome))].sort(), ["handed_off", "read_only"])
          const drained = yield* vacuum.drain("10 seconds")
          const snapshot = yield* vacuum.snapshot
          return { drained, found: snapshot.events.found, snapshot }
        })
      )

      assert.isTrue(drained)
      // The first 12 records hold 9 events, one of them in a read-only evaluation, skipped.
      assert.strictEqual(found, 8)
      assert.deepStrictEqual(snapshot.sinks.map((s) => [s.name, s.delivered, s.waiting]), [["file", found, 0]])
      assert.isTrue(fs.existsSync(statePath))
      const lines = fs.readFileSync(outPath, "utf8").split("\n").filter((l) => l.length > 0)
      assert.strictEqual(lines.length, found)
      const parsed = lines.map((l) => JSON.parse(l) as { time: string; data: Record<string, unknown> })
      for (const p of parsed) {
        assert.isFalse(Number.isNaN(Date.parse(p.time)))
        assert.match(String(p.data.processId), /^XPROC[01]_p+$/)
        assert.isString(p.data.eventId)
      }
      assert.strictEqual(new Set(parsed.map((p) => p.data.eventId)).size, found)
    }))
})

describe("Env.layer: a bad setting fails at start-up, naming its key", () => {
  const cases: ReadonlyArray<readonly [string, Record<string, string>]> = [
    ["EVENT_VACUUM_TRANSPORTS", { EVENT_VACUUM_TRANSPORTS: "kafka" }],
    ["EVENT_VACUUM_BATCH_MAX_EVENTS", { EVENT_VACUUM_BATCH_MAX_EVENTS: "0" }],
    ["EVENT_VACUUM_BATCH_MAX_EVENTS", { EVENT_VACUUM_BATCH_MAX_EVENTS: "abc" }],
    ["EVENT_VACUUM_FLUSH_INTERVAL", { EVENT_VACUUM_FLUSH_INTERVAL: "soon" }],
    ["EVENT_VACUUM_ENABLED", { EVENT_VACUUM_ENABLED: "maybe" }],
    ["EVENT_VACUUM_FILE_PATH", { EVENT_VACUUM_TRANSPORTS: "file" }],
    ["HONEYCOMB_API_KEY", { EVENT_VACUUM_TRANSPORTS: "honeycomb", HONEYCOMB_DATASET: "ao" }],
    ["HONEYCOMB_DATASET", { EVENT_VACUUM_TRANSPORTS: "honeycomb", HONEYCOMB_API_KEY: "k" }],
    ["HONEYCOMB_DATASET", { EVENT_VACUUM_TRANSPORTS: "honeycomb", HONEYCOMB_API_KEY: "k", HONEYCOMB_DATASET: "a/b" }],
    ["HONEYCOMB_COMPRESSION", {
      EVENT_VACUUM_TRANSPORTS: "honeycomb",
      HONEYCOMB_API_KEY: "k",
      HONEYCOMB_DATASET: "ao",
      HONEYCOMB_COMPRESSION: "brotli"
    }],
    ["HONEYCOMB_BATCH_MAX_BYTES", {
      EVENT_VACUUM_TRANSPORTS: "honeycomb",
      HONEYCOMB_API_KEY: "k",
      HONEYCOMB_DATASET: "ao",
      HONEYCOMB_BATCH_MAX_BYTES: "6000000"
    }]
  ]

  for (const [key, env] of cases) {
    it.scoped(`${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ")} names ${key}`, () =>
      Effect.gen(function*() {
        const exit = yield* Effect.exit(
          buildVacuum({ EVENT_VACUUM_ENABLED: "true", EVENT_VACUUM_STATE_PATH: ":memory:", ...env })
        )
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isSuccess(exit)) return
        // A typed failure, not a defect.
        const error = Cause.failureOption(exit.cause).pipe(Option.getOrThrow)
        assert.isTrue(ConfigError.isConfigError(error), String(error))
        assert.include(String(error), key)
        assert.include(Cause.pretty(exit.cause), key)
      }))
  }
})
