/**
 * The Kinesis sink against a real local Kinesis (kinesalite, in memory, on
 * 127.0.0.1), through the whole vacuum, with the fault proxy in front of it
 * where Kinesis would fail: each event stored exactly once, read back from
 * every shard.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Context, Effect, Either, Layer } from "effect"
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { DedupeStore } from "../../src/DedupeStore.js"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"
import type { OutboundEvent } from "../../src/Enrich.js"
import * as Setting from "../../src/Setting.js"
import type { Sink } from "../../src/Transport.js"
import { Transport } from "../../src/Transport.js"
import * as File from "../../src/Transport/File.js"
import * as Kinesis from "../../src/Transport/Kinesis.js"
import { resolveRegion } from "../../src/internal/settings/kinesis.js"
import * as Vacuum from "../../src/Vacuum.js"
import type { Fault, LocalKinesis, Shard } from "../support/kinesis.js"
import { startKinesalite, startKinesisProxy } from "../support/kinesis.js"
import { captureLogs, event, exampleRecords, record, tempDb } from "../support/harness.js"

const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "test-secret" }

/** A local Kinesis with a stream of `shards` shards, closed with the test. */
const kinesis = (stream: string, shards: number) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const k = await startKinesalite()
      await k.createStream(stream, shards)
      return k
    }),
    (k) => Effect.promise(() => k.close())
  )

/** The fault proxy in front of it, closed with the test. */
const proxied = (k: LocalKinesis) => Effect.acquireRelease(Effect.promise(() => startKinesisProxy(k)), (p) => Effect.promise(() => p.close()))

/** The vacuum on a state file, delivering to the Kinesis sink at `endpoint`; answers it and the sink. */
const vacuumInto = (endpoint: string, options: Partial<Kinesis.Options> = {}, vacuum: Vacuum.Options = {}) =>
  Effect.gen(function*() {
    const sink = yield* Kinesis.make({ streamName: "events", endpoint, credentials, timeout: "2 seconds", flushInterval: "10 millis", ...options })
    const layer = Vacuum.layer({ retryBaseDelay: "10 millis", retryMaxDelay: "50 millis", ...vacuum }).pipe(
      Layer.provide(Layer.merge(Sqlite.layer({ filename: tempDb() }), Layer.succeed(Transport, Transport.of({ sinks: [sink as Sink] }))))
    )
    return { vacuum: Context.get(yield* Layer.build(layer), Vacuum.Vacuum) }
  })

/** Sets (or, with undefined, removes) environment variables for the test, restored after it. */
const withEnv = (vars: Record<string, string | undefined>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const before = Object.fromEntries(Object.keys(vars).map((key) => [key, process.env[key]]))
      for (const [key, value] of Object.entries(vars)) {
        if (value === undefined) delete process.env[key]
        else process.env[key] = value
      }
      return before
    }),
    (before) =>
      Effect.sync(() => {
        for (const [key, value] of Object.entries(before)) {
          if (value === undefined) delete process.env[key]
          else process.env[key] = value
        }
      })
  )

/** The open shard whose hash key range holds the MD5 of `partitionKey`, as Kinesis places a record. */
const shardFor = (shards: ReadonlyArray<Shard>, partitionKey: string): string => {
  const hash = BigInt(`0x${createHash("md5").update(partitionKey, "utf8").digest("hex")}`)
  return shards.find((s) => s.open && s.startingHashKey <= hash && hash <= s.endingHashKey)!.shardId
}

const eventsOf = (records: ReadonlyArray<{ data: string; partitionKey: string; shardId: string }>) =>
  records.map((r) => ({ ...r, event: JSON.parse(r.data) as { time: string; samplerate?: number; data: { processId: string; eventId: string } } }))

const deliverExample = (v: Vacuum.Vacuum["Type"]) =>
  Effect.gen(function*() {
    for (const r of exampleRecords()) v.unsafeVacuum(r)
    return yield* v.drain(60_000)
  })

describe("Kinesis sink", () => {
  it.scopedLive("the example's events, read back from every shard: each exactly once, as the file sink writes them, a process's on one shard in order", () =>
    Effect.gen(function*() {
      const k = yield* kinesis("events", 4)
      const { vacuum } = yield* vacuumInto(k.endpoint)
      assert.isTrue(yield* deliverExample(vacuum))
      const stored = eventsOf(yield* Effect.promise(() => k.readAll("events")))
      assert.strictEqual(stored.length, 121)
      assert.strictEqual(new Set(stored.map((s) => s.event.data.eventId)).size, 121)
      // The partition key is the process id: each process's events on one shard, in their order.
      for (const s of stored) assert.strictEqual(s.partitionKey, s.event.data.processId)
      const byProcess = new Map<string, Set<string>>()
      for (const s of stored) byProcess.set(s.partitionKey, (byProcess.get(s.partitionKey) ?? new Set()).add(s.shardId))
      assert.strictEqual(byProcess.size, 2)
      for (const shards of byProcess.values()) assert.strictEqual(shards.size, 1)
      // Spread by process: each on the shard its key's MD5 falls in, and the two processes' shards differ.
      const shards = yield* Effect.promise(() => k.shards("events"))
      for (const s of stored) assert.strictEqual(s.shardId, shardFor(shards, s.partitionKey), s.partitionKey)
      assert.strictEqual(new Set([...byProcess.keys()].map((key) => shardFor(shards, key))).size, 2)
      assert.strictEqual(new Set(stored.map((s) => s.shardId)).size, 2)
      assert.strictEqual((yield* vacuum.snapshot).sinks[0]!.delivered, 121)
      // Data is the file sink's line: time and data, nothing else here (no sample rate).
      assert.deepStrictEqual(Object.keys(stored[0]!.event), ["time", "data"])
    }), { timeout: 60_000 })

  const faults: ReadonlyArray<[string, (n: number) => Fault | undefined]> = [
    ["per-record throughput exceeded, again and again", (n) => (n <= 6 ? { kind: "records", throttled: (r) => r.index % 3 === 0 } : undefined)],
    ["per-record InternalFailure", (n) => (n <= 2 ? { kind: "records", failed: [0, 1, 2] } : undefined)],
    ["whole-request 500", (n) => (n <= 2 ? { kind: "error", error: "InternalFailure" } : undefined)],
    ["whole-request throttling", (n) => (n <= 2 ? { kind: "error", error: "ProvisionedThroughputExceededException" } : undefined)],
    ["limit exceeded", (n) => (n === 1 ? { kind: "error", error: "LimitExceededException" } : undefined)],
    ["KMS throttling", (n) => (n === 1 ? { kind: "error", error: "KMSThrottlingException" } : undefined)],
    ["a reply slower than the timeout", (n) => (n === 1 ? { kind: "slow", millis: 3_000 } : undefined)],
    ["a dropped connection", (n) => (n <= 2 ? { kind: "drop" } : undefined)]
  ]
  for (const [what, fault] of faults) {
    it.scopedLive(`under ${what}: every event stored once`, () =>
      Effect.gen(function*() {
        const k = yield* kinesis("events", 2)
        const proxy = yield* proxied(k)
        proxy.fault = (call) => (call.target === "PutRecords" ? fault(call.n) : undefined)
        // Small batches: the faults hit several requests, the others go through beside them.
        const { vacuum } = yield* vacuumInto(proxy.endpoint, { maxBatchEvents: 20 }, { maxEventAttempts: 2 })
        assert.isTrue(yield* deliverExample(vacuum))
        const stored = eventsOf(yield* Effect.promise(() => k.readAll("events")))
        assert.strictEqual(new Set(stored.map((s) => s.event.data.eventId)).size, 121)
        assert.strictEqual(stored.length, 121)
        const sink = (yield* vacuum.snapshot).sinks[0]!
        assert.strictEqual(sink.delivered, 121)
        assert.strictEqual(sink.deadLettered, 0)
        assert.isAbove(sink.retries, 0)
      }), { timeout: 60_000 })
  }

  const stops: ReadonlyArray<[Fault & { kind: "error" }, string]> = [
    [{ kind: "error", error: "ResourceNotFoundException" }, "no such stream (check KINESIS_STREAM_NAME and KINESIS_REGION)"],
    [{ kind: "error", error: "AccessDeniedException" }, "access denied: the credentials may not put records to this stream"],
    [{ kind: "error", error: "KMSAccessDeniedException" }, "access denied to the stream's KMS key"],
    [{ kind: "error", error: "UnrecognizedClientException" }, "the credentials are not valid (the access key is not known)"]
  ]
  for (const [fault, cause] of stops) {
    it.scopedLive(`${fault.error}: the sink stops with one line naming the cause, and keeps its events`, () =>
      Effect.gen(function*() {
        const k = yield* kinesis("events", 1)
        const proxy = yield* proxied(k)
        proxy.fault = (call) => (call.target === "PutRecords" ? fault : undefined)
        const logs = captureLogs()
        const { vacuum } = yield* vacuumInto(proxy.endpoint).pipe(Effect.provide(logs.layer))
        assert.isTrue(yield* deliverExample(vacuum))
        const sink = (yield* vacuum.snapshot).sinks[0]!
        assert.include(sink.stopped ?? "", cause)
        assert.strictEqual(sink.waiting, 121)
        assert.strictEqual(sink.delivered, 0)
        assert.strictEqual(proxy.recordsForwarded, 0)
        const said = logs.logged.filter((l) => l.includes("stopped"))
        assert.strictEqual(said.length, 1)
        assert.include(said[0]!, `sink kinesis stopped: ${cause}`)
      }).pipe(Effect.provide(captureLogs().layer)), { timeout: 60_000 })
  }

  it.scopedLive("expired credentials: fetched anew, then the batch is sent again", () =>
    Effect.gen(function*() {
      const k = yield* kinesis("events", 1)
      const proxy = yield* proxied(k)
      proxy.fault = (call) => (call.target === "PutRecords" && call.n === 1 ? { kind: "error", error: "ExpiredTokenException" } : undefined)
      let fetched = 0
      const provider = async () => {
        fetched++
        return { ...credentials, sessionToken: `token-${fetched}` }
      }
      const { vacuum } = yield* vacuumInto(proxy.endpoint, { credentials: provider })
      assert.isTrue(yield* deliverExample(vacuum))
      assert.strictEqual(new Set(eventsOf(yield* Effect.promise(() => k.readAll("events"))).map((s) => s.event.data.eventId)).size, 121)
      assert.isAtLeast(fetched, 2)
    }), { timeout: 60_000 })

  for (const [what, skew] of [["ahead", 10 * 60_000], ["behind", -10 * 60_000]] as const) {
    it.scopedLive(`Kinesis's clock 10 minutes ${what} of ours: the signature refused once, the clock offset learned and kept, every event stored once`, () =>
      Effect.gen(function*() {
        const k = yield* kinesis("events", 2)
        const proxy = yield* proxied(k)
        proxy.clockSkewMillis = skew
        const { vacuum } = yield* vacuumInto(proxy.endpoint, { maxBatchEvents: 20 })
        for (const r of exampleRecords()) vacuum.unsafeVacuum(r)
        assert.isTrue(yield* vacuum.drain(20_000), "drained")
        const stored = eventsOf(yield* Effect.promise(() => k.readAll("events")))
        assert.strictEqual(stored.length, 121)
        assert.strictEqual(new Set(stored.map((s) => s.event.data.eventId)).size, 121)
        const sink = (yield* vacuum.snapshot).sinks[0]!
        assert.isUndefined(sink.stopped)
        assert.strictEqual(sink.delivered, 121)
        // Refused before the offset was known, then never again: each send's clock is Kinesis's.
        assert.isAbove(proxy.clockRefusals, 0)
        assert.isAtMost(proxy.clockRefusals, 2)
      }), { timeout: 60_000 })
  }

  it.scopedLive("a signature expired while another batch is in flight: that batch's connection is kept, nothing sent twice, nothing lost", () =>
    Effect.gen(function*() {
      const k = yield* kinesis("events", 2)
      const proxy = yield* proxied(k)
      let release!: () => void
      const released = new Promise<void>((resolve) => (release = resolve))
      // Let go after the refreshed retry, or (if the sink never sends again) after a while, so the test ends.
      const fallback = setTimeout(() => release(), 10_000)
      yield* Effect.addFinalizer(() => Effect.sync(() => clearTimeout(fallback)))
      let heldOpen = false
      let expiredWhileHeld = false
      let fetched = 0
      proxy.fault = (call) => {
        if (call.target !== "PutRecords") return undefined
        if (call.n === 1) {
          heldOpen = true
          void released.then(() => (heldOpen = false))
          return { kind: "held", until: released }
        }
        if (call.n === 2) {
          expiredWhileHeld = heldOpen
          return { kind: "error", error: "InvalidSignatureException" }
        }
        release()
        return undefined
      }
      const provider = async () => {
        fetched++
        return credentials
      }
      const { vacuum } = yield* vacuumInto(proxy.endpoint, { maxBatchEvents: 20, concurrency: 2, timeout: "30 seconds", credentials: provider })
      assert.isTrue(yield* deliverExample(vacuum))
      assert.isTrue(expiredWhileHeld, "the expired signature came back while the first batch was in flight")
      const stored = eventsOf(yield* Effect.promise(() => k.readAll("events")))
      assert.strictEqual(new Set(stored.map((s) => s.event.data.eventId)).size, 121)
      assert.strictEqual(stored.length, 121, "no event stored twice")
      assert.strictEqual(proxy.repliesLost, 0, "the batch in flight got its answer")
      assert.strictEqual((yield* vacuum.snapshot).sinks[0]!.delivered, 121)
      // The credentials were fetched anew for the retry.
      assert.isAtLeast(fetched, 2)
    }), { timeout: 60_000 })

  it.scopedLive("the standard chain's credentials endpoint briefly down (a container role): retried, said once, then every event stored", () =>
    Effect.gen(function*() {
      const k = yield* kinesis("events", 1)
      let up = false
      let asked = 0
      const endpoint = yield* Effect.acquireRelease(
        Effect.promise(() =>
          new Promise<http.Server>((resolve) => {
            const server = http.createServer((_req, res) => {
              asked++
              if (!up) {
                res.writeHead(503, { "content-type": "text/plain" })
                return void res.end("Service Unavailable")
              }
              res.writeHead(200, { "content-type": "application/json" })
              res.end(JSON.stringify({
                AccessKeyId: "AKIDCONTAINERROLE",
                SecretAccessKey: "container-role-secret",
                Token: "container-role-token",
                Expiration: new Date(Date.now() + 3_600_000).toISOString()
              }))
            })
            server.listen(0, "127.0.0.1", () => resolve(server))
          })
        ),
        (server) => Effect.promise(() => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))))
      )
      const port = (endpoint.address() as AddressInfo).port
      // Only the container provider can answer: no keys, no profile files, no web identity.
      yield* withEnv({
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/role`,
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
        AWS_CONTAINER_AUTHORIZATION_TOKEN: undefined,
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_SESSION_TOKEN: undefined,
        AWS_PROFILE: undefined,
        AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
        AWS_SHARED_CREDENTIALS_FILE: path.join(os.tmpdir(), "event-vacuum-no-such-credentials"),
        AWS_CONFIG_FILE: path.join(os.tmpdir(), "event-vacuum-no-such-config")
      })
      const logs = captureLogs()
      const { vacuum } = yield* vacuumInto(k.endpoint, { credentials: undefined, timeout: "30 seconds" }).pipe(Effect.provide(logs.layer))
      for (const r of exampleRecords()) vacuum.unsafeVacuum(r)
      // Down until the sink has failed on it at least once.
      for (let i = 0; i < 1_500; i++) {
        const sink = (yield* vacuum.snapshot).sinks[0]!
        if (sink.lastError !== undefined || sink.stopped !== undefined) break
        yield* Effect.sleep("20 millis")
      }
      assert.isAbove(asked, 0)
      up = true
      assert.isTrue(yield* vacuum.drain(60_000), "drained")
      const sink = (yield* vacuum.snapshot).sinks[0]!
      assert.isUndefined(sink.stopped)
      assert.strictEqual(sink.delivered, 121)
      assert.strictEqual(new Set(eventsOf(yield* Effect.promise(() => k.readAll("events"))).map((s) => s.event.data.eventId)).size, 121)
      const said = logs.logged.filter((l) => l.includes("cannot send"))
      assert.strictEqual(said.length, 1, said.join("\n"))
      assert.include(said[0]!, "could not get AWS credentials")
      assert.isFalse(logs.logged.some((l) => l.includes("stopped")))
    }), { timeout: 90_000 })

  it.scopedLive("an event too large for a record is dead-lettered unsent; the others go", () =>
    Effect.gen(function*() {
      const k = yield* kinesis("events", 1)
      const sizes = exampleRecords().length
      assert.isAbove(sizes, 0)
      // A record limit the example's largest events pass: those are refused, the rest stored.
      const { vacuum } = yield* vacuumInto(k.endpoint, { maxRecordBytes: 700 })
      assert.isTrue(yield* deliverExample(vacuum))
      const stored = eventsOf(yield* Effect.promise(() => k.readAll("events")))
      const sink = (yield* vacuum.snapshot).sinks[0]!
      assert.isAbove(sink.deadLettered, 0)
      assert.strictEqual(stored.length + sink.deadLettered, 121)
      for (const s of stored) assert.isAtMost(Buffer.byteLength(s.data) + Buffer.byteLength(s.partitionKey), 700)
    }), { timeout: 60_000 })

  it.scopedLive("KINESIS_PARTITION_KEY as a dotted path: each record keyed by the value there (a field of that whole name first, the process id where there is none), on the shard its key hashes to", () =>
    Effect.gen(function*() {
      const k = yield* kinesis("events", 4)
      const lines = (...events: ReadonlyArray<Record<string, unknown>>) => events.map((e) => event(e))
      const records = [
        record({ processId: "PROC_A", ordinate: 1, timestamp: 1_727_000_000_000, lines: lines({ n: 1, user: { id: "alice" } }, { n: 2, user: { id: "bob" } }) }),
        record({ processId: "PROC_B", ordinate: 1, timestamp: 1_727_000_000_001, lines: lines({ n: 3, user: { id: "alice" } }, { n: 4, "user.id": "carol", user: { id: "not-this" } }) }),
        record({ processId: "PROC_C", ordinate: 1, timestamp: 1_727_000_000_002, lines: lines({ n: 5 }, { n: 6, user: { id: 42 } }, { n: 7, user: "flat" }) })
      ]
      const expected = new Map<number, string>([[1, "alice"], [2, "bob"], [3, "alice"], [4, "carol"], [5, "PROC_C"], [6, "42"], [7, "PROC_C"]])
      const { vacuum } = yield* vacuumInto(k.endpoint, { partitionKey: "user.id" })
      for (const r of records) vacuum.unsafeVacuum(r)
      assert.isTrue(yield* vacuum.drain(30_000))
      const stored = (yield* Effect.promise(() => k.readAll("events"))).map((r) => ({ ...r, n: (JSON.parse(r.data) as { data: { n: number } }).data.n }))
      assert.deepStrictEqual(stored.map((r) => r.n).sort(), [1, 2, 3, 4, 5, 6, 7])
      const shards = yield* Effect.promise(() => k.shards("events"))
      for (const r of stored) {
        assert.strictEqual(r.partitionKey, expected.get(r.n), `event ${r.n}`)
        assert.strictEqual(r.shardId, shardFor(shards, r.partitionKey), `event ${r.n}'s shard`)
      }
      // The setting takes names and dotted paths, and says what it wants otherwise.
      assert.isTrue(Either.isRight(Kinesis.settings.partitionKey.parse("user.id")))
      assert.isTrue(Either.isRight(Kinesis.settings.partitionKey.parse("Action")))
      assert.isTrue(Either.isLeft(Kinesis.settings.partitionKey.parse("")))
      for (const bad of ["a..b", ".a", "a.", "a b"]) {
        const parsed = Kinesis.settings.partitionKey.parse(bad)
        assert.isTrue(Either.isLeft(parsed), bad)
        if (Either.isLeft(parsed)) assert.include(parsed.left, "dotted path")
      }
    }), { timeout: 60_000 })

  it.scopedLive("Kinesis beside the file sink in one vacuum: each gets every event once, on its own watermark, whatever the other does", () =>
    Effect.gen(function*() {
      const k = yield* kinesis("events", 2)
      const proxy = yield* proxied(k)
      // Kinesis fails its first requests while the file sink delivers.
      proxy.fault = (call) => (call.target === "PutRecords" && call.n <= 3 ? { kind: "error", error: "InternalFailure" } : undefined)
      const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-kfile-")), "events.ndjson")
      const kinesisSink = yield* Kinesis.make({ streamName: "events", endpoint: proxy.endpoint, credentials, timeout: "2 seconds", flushInterval: "10 millis" })
      const fileSink = yield* File.make({ path: file }).pipe(Effect.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))
      const context = yield* Layer.build(
        Vacuum.layer({ retryBaseDelay: "10 millis", retryMaxDelay: "50 millis", flushInterval: "10 millis" }).pipe(
          Layer.provideMerge(Layer.merge(
            Sqlite.layer({ filename: tempDb() }),
            Layer.succeed(Transport, Transport.of({ sinks: [kinesisSink as Sink, fileSink] }))
          ))
        )
      )
      const vacuum = Context.get(context, Vacuum.Vacuum)
      const store = Context.get(context, DedupeStore)
      const fileEvents = () =>
        fs.readFileSync(file, "utf8").split("\n").filter((l) => l.length > 0).map((l) => (JSON.parse(l) as { data: { eventId: string } }).data.eventId)
      const kinesisEvents = () => Effect.map(Effect.promise(() => k.readAll("events")), (r) => eventsOf(r).map((s) => s.event.data.eventId))

      assert.isTrue(yield* deliverExample(vacuum))
      const [inStream, inFile] = [yield* kinesisEvents(), fileEvents()]
      assert.strictEqual(inStream.length, 121)
      assert.strictEqual(inFile.length, 121)
      assert.deepStrictEqual([...new Set(inStream)].sort(), [...new Set(inFile)].sort())
      assert.strictEqual(new Set(inStream).size, 121)
      const [ks, fsink] = (yield* vacuum.snapshot).sinks
      assert.strictEqual(ks!.name, "kinesis")
      assert.strictEqual(fsink!.name, "file")
      assert.strictEqual(ks!.delivered, 121)
      assert.strictEqual(fsink!.delivered, 121)
      assert.isAbove(ks!.retries, 0)
      assert.strictEqual(fsink!.retries, 0)
      // A watermark per sink and process.
      const marks = yield* store.watermarks()
      assert.deepStrictEqual([...new Set(marks.map((m) => m.sink))].sort(), ["file", "kinesis"])
      assert.strictEqual(marks.filter((m) => m.sink === "kinesis").length, 2)
      assert.strictEqual(marks.filter((m) => m.sink === "file").length, 2)

      // The same evaluations again: nothing more to either; each counts its own duplicates.
      assert.isTrue(yield* deliverExample(vacuum))
      const again = (yield* vacuum.snapshot).sinks
      assert.strictEqual(again[0]!.duplicates, 121)
      assert.strictEqual(again[1]!.duplicates, 121)
      assert.strictEqual((yield* kinesisEvents()).length, 121)
      assert.strictEqual(fileEvents().length, 121)
    }), { timeout: 60_000 })

  it.effect("record and request limits: 1 MiB and 5 MiB by default, up to 10 MiB each; a record limit over the request limit refused in one line naming both", () =>
    Effect.gen(function*() {
      const MiB = 1024 * 1024
      const defaults = yield* Setting.decode(Kinesis.settings, { streamName: "s" }, "test")
      assert.strictEqual(defaults.maxRecordBytes, MiB)
      assert.strictEqual(defaults.maxBatchBytes, 5 * MiB)
      for (const setting of [Kinesis.settings.maxBatchBytes, Kinesis.settings.maxRecordBytes]) {
        assert.deepStrictEqual(setting.parse(String(10 * MiB)), Either.right(10 * MiB))
        assert.isTrue(Either.isLeft(setting.parse(String(10 * MiB + 1))), `${setting.env} over 10 MiB`)
      }
      yield* Effect.scoped(Kinesis.make({ streamName: "s", maxBatchBytes: 10 * MiB, maxRecordBytes: 10 * MiB }))
      const over = yield* Effect.flip(Effect.scoped(Kinesis.make({ streamName: "s", maxBatchBytes: 5 * MiB, maxRecordBytes: 6 * MiB })))
      assert.notInclude(over.message, "\n")
      assert.include(over.message, `KINESIS_MAX_RECORD_BYTES (${6 * MiB}) is more than KINESIS_BATCH_MAX_BYTES (${5 * MiB})`)
      // Configured from env as operators do: the same one line.
      const fromEnv = yield* Effect.flip(
        Layer.build(Kinesis.layerConfig()).pipe(
          Effect.withConfigProvider(ConfigProvider.fromMap(
            new Map([["KINESIS_STREAM_NAME", "s"], ["KINESIS_BATCH_MAX_BYTES", String(8 * MiB)], ["KINESIS_MAX_RECORD_BYTES", String(9 * MiB)]])
          )),
          Effect.scoped
        )
      )
      assert.include(fromEnv.message, `KINESIS_MAX_RECORD_BYTES (${9 * MiB}) is more than KINESIS_BATCH_MAX_BYTES (${8 * MiB})`)
    }))

  it.scopedLive("limits raised past 5 MiB: a record under them goes to Kinesis (not dead-lettered unsent); with the defaults it does not", () =>
    Effect.gen(function*() {
      const k = yield* kinesis("events", 1)
      const proxy = yield* proxied(k)
      const big: OutboundEvent = {
        id: "big",
        time: Date.UTC(2024, 0, 1),
        data: JSON.stringify({ processId: "XPROC0", eventId: "big", blob: "x".repeat(5_500_000) })
      }
      const raised = yield* Kinesis.make({
        streamName: "events",
        endpoint: proxy.endpoint,
        credentials,
        maxBatchBytes: 10 * 1024 * 1024,
        maxRecordBytes: 6 * 1024 * 1024
      })
      // kinesalite keeps the old limits and refuses it: what matters here is that it was sent.
      yield* Effect.either(raised.send([big]))
      assert.strictEqual(proxy.recordsForwarded, 1)
      const usual = yield* Kinesis.make({ streamName: "events", endpoint: proxy.endpoint, credentials })
      const [status] = yield* usual.send([big])
      assert.strictEqual(status!._tag, "Refused")
      assert.include((status as { reason: string }).reason, "over the 1048576-byte record limit (KINESIS_MAX_RECORD_BYTES)")
      assert.strictEqual(proxy.recordsForwarded, 1)
    }), { timeout: 60_000 })

  it.effect("settings: the stream is required, a bad region or endpoint is named, the region falls back to AWS_REGION, then us-east-1", () =>
    Effect.gen(function*() {
      const missing = yield* Effect.flip(Effect.scoped(Kinesis.make({} as Kinesis.Options)))
      assert.include(missing.message, "streamName: is missing")
      const region = yield* Effect.flip(Effect.scoped(Kinesis.make({ streamName: "s", region: "mars" })))
      assert.include(region.message, "region: expected a region such as eu-west-1, or auto")
      const endpoint = yield* Effect.flip(Effect.scoped(Kinesis.make({ streamName: "s", endpoint: "ftp://x" })))
      assert.include(endpoint.message, "endpoint: expected an http(s) URL, or aws")
      const record = yield* Effect.flip(Effect.scoped(Kinesis.make({ streamName: "s", maxBatchBytes: 1000, maxRecordBytes: 2000 })))
      assert.include(record.message, "KINESIS_MAX_RECORD_BYTES (2000) is more than KINESIS_BATCH_MAX_BYTES (1000)")
      assert.strictEqual(resolveRegion("auto", { AWS_REGION: "eu-west-1" }), "eu-west-1")
      assert.strictEqual(resolveRegion("auto", {}), "us-east-1")
      assert.strictEqual(resolveRegion("ap-south-1", { AWS_REGION: "eu-west-1" }), "ap-south-1")
      assert.isTrue(Either.isLeft(Kinesis.settings.maxBatchEvents.parse("501")))
    }))
})
