/**
 * Secrets: the AWS credentials of the Kinesis sink never show. The CLI runs
 * into a local Kinesis as an operator runs it (credentials from the
 * standard AWS variables), through a throttled request, a dropped
 * connection, expired credentials and refused ones, with verbose logs; then
 * everything it said, `status`, `dead-letters list` and the state file
 * (database, WAL and shared memory) are searched for the secret key and the
 * session token. And in this process, from the environment as a CU runs it,
 * through the same faults and an expired signature, then refused
 * credentials: every log (messages, causes, annotations), every span
 * (attributes, events, how it ended), the snapshots, the dead letters, the
 * Prometheus metrics text and the health answer.
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, ConfigProvider, Context, Effect, Exit, Layer, Logger, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DedupeStore } from "../../src/DedupeStore.js"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"
import * as Env from "../../src/Env.js"
import * as Prometheus from "../../src/Prometheus.js"
import { Vacuum } from "../../src/Vacuum.js"
import { cli, copiesOfExample, sleep } from "../support/guarantees.js"
import { startKinesalite, startKinesisProxy } from "../support/kinesis.js"
import { recordingTracer, spanText } from "../support/tracer.js"

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETSECRET"
const TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENtokenTOKENtoken"

describe("secrets: the Kinesis sink's AWS credentials", () => {
  it("never appear in logs, errors, summaries, the status, dead letters or the state file", { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-ksecrets-"))
    const kinesis = await startKinesalite()
    await kinesis.createStream("secrets", 2)
    const proxy = await startKinesisProxy(kinesis)
    try {
      const input = path.join(dir, "in.ndjson")
      fs.writeFileSync(input, copiesOfExample(1).map((r) => JSON.stringify(r)).join("\n"))
      const state = path.join(dir, "state.db")
      const env = {
        EVENT_VACUUM_TRANSPORTS: "kinesis",
        EVENT_VACUUM_STATE_PATH: state,
        EVENT_VACUUM_FLUSH_INTERVAL: "10 millis",
        EVENT_VACUUM_RETRY_BASE_DELAY: "10 millis",
        EVENT_VACUUM_RETRY_MAX_DELAY: "50 millis",
        KINESIS_STREAM_NAME: "secrets",
        KINESIS_ENDPOINT: proxy.endpoint,
        KINESIS_BATCH_MAX_EVENTS: "20",
        KINESIS_MAX_RECORD_BYTES: "700",
        AWS_ACCESS_KEY_ID: "AKIDSECRETSTEST",
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_SESSION_TOKEN: TOKEN,
        AWS_REGION: "eu-west-1"
      }
      // Throttled, dropped, expired, then through: delivered (the largest events dead-lettered by size).
      const early = ["ProvisionedThroughputExceededException", "drop", "ExpiredTokenException"] as const
      proxy.fault = (call) => {
        if (call.target !== "PutRecords") return undefined
        const kind = early[call.n - 1]
        if (kind === undefined) return undefined
        return kind === "drop" ? { kind: "drop" } : { kind: "error", error: kind }
      }
      const ok = await cli(["run", input, "--log-level", "all"], env).exited
      assert.strictEqual(ok.code, 0, ok.stderr)
      assert.include(ok.stderr, "kinesis: ")
      assert.isAbove((await kinesis.readAll("secrets")).length, 0)
      // Refused credentials: the sink stops, naming the cause.
      proxy.fault = (call) => (call.target === "PutRecords" ? { kind: "error", error: "UnrecognizedClientException" } : undefined)
      fs.writeFileSync(input, copiesOfExample(1, 1).map((r) => JSON.stringify(r)).join("\n"))
      const refused = await cli(["run", input, "--log-level", "all"], env).exited
      assert.strictEqual(refused.code, 1)
      assert.include(refused.stderr, "the credentials are not valid")
      const status = await cli(["status", "--state-path", state], {}).exited
      assert.match(status.stdout, /kinesis: .*; stopped since .*the credentials are not valid/)
      const dead = await cli(["dead-letters", "list", "--state-path", state], {}).exited
      assert.include(dead.stdout, "record limit")

      const texts: Array<[string, string]> = [
        ["run", ok.stdout + ok.stderr],
        ["run, refused", refused.stdout + refused.stderr],
        ["status", status.stdout + status.stderr],
        ["dead letters", dead.stdout + dead.stderr]
      ]
      for (const suffix of ["", "-wal", "-shm"]) {
        if (fs.existsSync(state + suffix)) texts.push([`state file${suffix}`, fs.readFileSync(state + suffix).toString("latin1")])
      }
      for (const [where, text] of texts) {
        for (const secret of [SECRET, TOKEN, SECRET.slice(0, 16), TOKEN.slice(0, 16)]) {
          assert.notInclude(text, secret, `${where} shows a secret`)
        }
      }
    } finally {
      await proxy.close()
      await kinesis.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })

  it.scopedLive("never appear in logs, spans, snapshots, dead letters, the metrics text or the health answer of a vacuum in this process", () =>
    Effect.gen(function*() {
      const texts: Array<[where: string, text: string]> = []
      const kinesis = yield* Effect.acquireRelease(Effect.promise(() => startKinesalite()), (k) => Effect.promise(() => k.close()))
      yield* Effect.promise(() => kinesis.createStream("secrets", 2))
      const proxy = yield* Effect.acquireRelease(Effect.promise(() => startKinesisProxy(kinesis)), (p) => Effect.promise(() => p.close()))
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-ksecrets-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const state = path.join(dir, "state.db")
      // The SDK's standard chain reads the process's environment: the keys are there, and only there.
      const aws: Record<string, string | undefined> = {
        AWS_ACCESS_KEY_ID: "AKIDSECRETSTEST",
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_SESSION_TOKEN: TOKEN,
        AWS_REGION: "eu-west-1",
        AWS_PROFILE: undefined,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const before = Object.fromEntries(Object.keys(aws).map((key) => [key, process.env[key]]))
          for (const [key, value] of Object.entries(aws)) value === undefined ? delete process.env[key] : (process.env[key] = value)
          return before
        }),
        (before) =>
          Effect.sync(() => {
            for (const [key, value] of Object.entries(before)) value === undefined ? delete process.env[key] : (process.env[key] = value)
          })
      )
      const logs: Array<string> = []
      const logger = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ annotations, cause, message }) => {
          logs.push(`${JSON.stringify(message)} ${Cause.pretty(cause)} ${JSON.stringify([...annotations])}`)
        })
      )
      const { spans, tracer } = recordingTracer()
      const env = Layer.setConfigProvider(ConfigProvider.fromMap(
        new Map(Object.entries({
          EVENT_VACUUM_ENABLED: "true",
          // On the caller's thread: its sends' spans reach this tracer (the CLI runs in this file take the vacuum's own thread).
          EVENT_VACUUM_THREAD: "caller",
          EVENT_VACUUM_TRANSPORTS: "kinesis",
          EVENT_VACUUM_STATE_PATH: state,
          EVENT_VACUUM_FLUSH_INTERVAL: "10 millis",
          EVENT_VACUUM_RETRY_BASE_DELAY: "10 millis",
          EVENT_VACUUM_RETRY_MAX_DELAY: "50 millis",
          KINESIS_STREAM_NAME: "secrets",
          KINESIS_ENDPOINT: proxy.endpoint,
          KINESIS_BATCH_MAX_EVENTS: "20",
          KINESIS_MAX_RECORD_BYTES: "700"
        }))
      ))
      const startVacuum = Effect.gen(function*() {
        const scope = yield* Scope.make()
        const layer = Layer.merge(Env.layer(), Sqlite.layerConfig()).pipe(
          Layer.provide(env),
          Layer.provide(Layer.merge(logger, Layer.setTracer(tracer)))
        )
        const context = yield* Layer.buildWithScope(layer, scope)
        return { vacuum: Context.get(context, Vacuum), store: Context.get(context, DedupeStore), scope }
      })

      // Throttled, dropped, expired credentials, an expired signature, then through.
      const early = ["ProvisionedThroughputExceededException", "drop", "ExpiredTokenException", "InvalidSignatureException"] as const
      proxy.fault = (call) => {
        if (call.target !== "PutRecords") return undefined
        const kind = early[call.n - 1]
        if (kind === undefined) return undefined
        return kind === "drop" ? { kind: "drop" } : { kind: "error", error: kind }
      }
      const one = yield* startVacuum
      for (const r of copiesOfExample(1)) yield* one.vacuum.vacuum(r).pipe(Effect.withTracer(tracer))
      assert.isTrue(yield* one.vacuum.drain("30 seconds"), "drained")
      const first = yield* one.vacuum.snapshot
      assert.isAbove(first.sinks[0]!.retries, 3)
      assert.isAbove((yield* Effect.promise(() => kinesis.readAll("secrets"))).length, 0)
      const dead = yield* one.store.deadLetters()
      assert.isAbove(dead.length, 0)
      texts.push(["snapshot", JSON.stringify(first)], ["dead letters", JSON.stringify(dead)])
      texts.push(["metrics", Prometheus.exposition(first)], ["health", JSON.stringify(Prometheus.health(first))])
      yield* Scope.close(one.scope, Exit.void)

      // Refused credentials: the sink stops, with its reason, in the snapshot, the metrics and the health answer.
      proxy.fault = (call) => (call.target === "PutRecords" ? { kind: "error", error: "UnrecognizedClientException" } : undefined)
      const two = yield* startVacuum
      for (const r of copiesOfExample(1, 1)) two.vacuum.unsafeVacuum(r)
      yield* two.vacuum.flush
      let stopped: string | undefined
      for (let i = 0; i < 500 && stopped === undefined; i++) {
        yield* Effect.promise(() => sleep(20))
        stopped = (yield* two.vacuum.snapshot).sinks[0]!.stopped
      }
      assert.include(stopped, "the credentials are not valid")
      const refused = yield* two.vacuum.snapshot
      const metrics = Prometheus.exposition(refused)
      const health = Prometheus.health(refused)
      assert.include(metrics, "the credentials are not valid")
      assert.strictEqual(health.status, "stopped")
      texts.push(["snapshot (refused)", JSON.stringify(refused)], ["metrics (refused)", metrics], ["health (refused)", JSON.stringify(health)])
      yield* Scope.close(two.scope, Exit.void)

      texts.push(...logs.map((l, i): [string, string] => [`log ${i}`, l]))
      texts.push(...spans.map((s): [string, string] => [`span ${s.name}`, spanText(s)]))
      // What was searched is what matters: the places the values would have gone are all there.
      assert.isTrue(logs.some((l) => l.includes("expired")), "the expired credentials are logged")
      assert.isTrue(logs.some((l) => l.includes("the credentials are not valid")), "the stop is logged")
      const sends = spans.filter((s) => s.name === "event-vacuum.send")
      assert.isAbove(sends.length, 0)
      assert.isTrue(sends.some((s) => s.exit !== undefined && s.exit !== "success" && s.exit.includes("expired")), "a failed send's span is searched")
      for (const [where, text] of texts) {
        for (const secret of [SECRET, TOKEN, SECRET.slice(0, 16), TOKEN.slice(0, 16)]) {
          assert.notInclude(text, secret, `${where} shows a secret`)
        }
      }
    }), { timeout: 120_000 })
})
