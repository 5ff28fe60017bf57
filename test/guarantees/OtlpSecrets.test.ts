/**
 * Secrets: the OTLP sink's header values (`OTEL_EXPORTER_OTLP_HEADERS` and
 * its `_LOGS_` form: an API key, and a second secret written URL-encoded),
 * right or wrong, never show. The pipeline runs from the environment through
 * a 503, a dropped connection, a 400 for one record and a partial success,
 * then with a wrong key (the sink stops) and with bad settings beside the
 * key; the CLI runs as operators run it. Then every place text goes is
 * searched for the values, raw and decoded: the logs (messages, causes,
 * annotations), every span (attributes, events, how it ended), the errors,
 * the snapshots, the dead letters, the CLI's output, `status` and the state
 * file (database, WAL and shared memory).
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
import { FakeOtlp } from "../support/otlp.js"
import { recordingTracer, spanText } from "../support/tracer.js"

const KEY = "otlpKEY01SECRETsecretSECRETsecret0123456789"
const WRONG = "otlpKEY01WRONGwrongWRONGwrong9876543210xyz"
/** A second secret, given URL-encoded as the spec writes header values. */
const OTHER = "tenant+SECRET/other=value"
const OTHER_ENCODED = encodeURIComponent(OTHER)

describe("secrets: the OTLP sink's header values", () => {
  it.scopedLive("never appear in logs, errors, spans, summaries, dead letters, CLI output or the state file", () =>
    Effect.gen(function*() {
      const texts: Array<[where: string, text: string]> = []
      const otlp = yield* Effect.promise(() => FakeOtlp.start({ headers: { "x-honeycomb-team": KEY, "x-scope-orgid": OTHER } }))
      yield* Effect.addFinalizer(() => Effect.promise(() => otlp.close()))
      const faults = ["503", "drop"] as const
      let poison: string | undefined
      otlp.fault = (n, records) => {
        const kind = faults[n - 1]
        if (kind === "503") return { kind: "status", status: 503 }
        if (kind === "drop") return { kind: "drop" }
        if (n === 3) return { kind: "partial", rejected: 1, message: "one record too old" }
        // One Transfer event is refused wherever it goes: its batches split down to it, and it is dead-lettered.
        poison ??= records.find((r) => r.attributes.Action === "Transfer")?.attributes.eventId as string | undefined
        return { kind: "reject-record", where: (r) => r.attributes.eventId === poison }
      }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-osecrets-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      const state = path.join(dir, "state.db")

      const logs: Array<string> = []
      const logger = Logger.replace(
        Logger.defaultLogger,
        Logger.make(({ annotations, cause, message }) => {
          logs.push(`${JSON.stringify(message)} ${Cause.pretty(cause)} ${JSON.stringify([...annotations])}`)
        })
      )
      const { spans, tracer } = recordingTracer()
      const env = (key: string, more: Record<string, string> = {}) =>
        Layer.setConfigProvider(ConfigProvider.fromMap(
          new Map(Object.entries({
            EVENT_VACUUM_ENABLED: "true",
            // On the caller's thread: its sends' spans reach this tracer (the CLI runs in this file take the vacuum's own thread).
            EVENT_VACUUM_THREAD: "caller",
            EVENT_VACUUM_TRANSPORTS: "otlp",
            EVENT_VACUUM_STATE_PATH: state,
            EVENT_VACUUM_FLUSH_INTERVAL: "10 millis",
            EVENT_VACUUM_RETRY_BASE_DELAY: "10 millis",
            EVENT_VACUUM_RETRY_MAX_DELAY: "50 millis",
            OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
            OTEL_EXPORTER_OTLP_HEADERS: `x-honeycomb-team=${WRONG},x-scope-orgid=${OTHER_ENCODED}`,
            // The logs form wins over the general one.
            OTEL_EXPORTER_OTLP_LOGS_HEADERS: `x-honeycomb-team=${key}`,
            OTLP_BATCH_MAX_EVENTS: "20",
            ...more
          }))
        ))
      const startVacuum = (key: string) =>
        Effect.gen(function*() {
          const scope = yield* Scope.make()
          const layer = Layer.merge(Env.layer(), Sqlite.layerConfig()).pipe(
            Layer.provide(env(key)),
            Layer.provide(Layer.merge(logger, Layer.setTracer(tracer)))
          )
          const context = yield* Layer.buildWithScope(layer, scope)
          return { vacuum: Context.get(context, Vacuum), store: Context.get(context, DedupeStore), scope }
        })

      // The right key, through every fault.
      const one = yield* startVacuum(KEY)
      for (const r of copiesOfExample(1)) yield* one.vacuum.vacuum(r).pipe(Effect.withTracer(tracer))
      assert.isTrue(yield* one.vacuum.drain("30 seconds"), "drained")
      const first = yield* one.vacuum.snapshot
      assert.isAbove(first.sinks[0]!.retries, 0)
      assert.isAbove(otlp.received.length, 0)
      const dead = yield* one.store.deadLetters()
      assert.isAbove(dead.length, 0)
      texts.push(["snapshot", JSON.stringify(first)], ["dead letters", JSON.stringify(dead)])
      yield* Scope.close(one.scope, Exit.void)

      // A wrong key: the sink stops, with its reason.
      const two = yield* startVacuum(WRONG)
      for (const r of copiesOfExample(1, 1)) two.vacuum.unsafeVacuum(r)
      yield* two.vacuum.flush
      let stopped: string | undefined
      for (let i = 0; i < 500 && stopped === undefined; i++) {
        yield* Effect.promise(() => sleep(20))
        stopped = (yield* two.vacuum.snapshot).sinks[0]!.stopped
      }
      assert.include(stopped, "401")
      texts.push(["snapshot (wrong key)", JSON.stringify(yield* two.vacuum.snapshot)])
      // What an operator's scraper sees: the metrics (reasons as labels) and the health answer.
      const stoppedSnapshot = yield* two.vacuum.snapshot
      texts.push(["metrics (wrong key)", Prometheus.exposition(stoppedSnapshot)], ["health (wrong key)", JSON.stringify(Prometheus.health(stoppedSnapshot))])
      assert.include(Prometheus.exposition(stoppedSnapshot), "401")
      yield* Scope.close(two.scope, Exit.void)

      // Bad settings beside the key: the errors name the setting, not the key.
      for (const more of [
        { OTEL_EXPORTER_OTLP_HEADERS: `x-honeycomb-team ${KEY}` },
        { OTEL_EXPORTER_OTLP_LOGS_HEADERS: `bad name=${KEY}` },
        { OTEL_EXPORTER_OTLP_HEADERS: `x-scope-orgid=${OTHER_ENCODED}%E0%A4%A` },
        { OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }
      ]) {
        const exit = yield* Effect.exit(Layer.build(Env.layer().pipe(Layer.provide(env(KEY, more)))))
        assert.isTrue(Exit.isFailure(exit), JSON.stringify(more))
        if (Exit.isFailure(exit)) texts.push([`error for a bad setting`, Cause.pretty(exit.cause)])
      }

      // The CLI, as operators run it: a wrong key by env, the key by flag with a bad setting, the status.
      const cliEnv = { EVENT_VACUUM_STATE_PATH: state, EVENT_VACUUM_TRANSPORTS: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url }
      const input = path.join(dir, "in.ndjson")
      fs.writeFileSync(input, copiesOfExample(1, 2).map((r) => JSON.stringify(r)).join("\n"))
      const runs = {
        "cli run, wrong key": yield* Effect.promise(() =>
          cli(["run", input, "--log-level", "all"], {
            ...cliEnv,
            OTEL_EXPORTER_OTLP_HEADERS: `x-honeycomb-team=${WRONG},x-scope-orgid=${OTHER_ENCODED}`,
            EVENT_VACUUM_DRAIN_TIMEOUT: "5 seconds"
          }).exited
        ),
        "cli run, key by flag, bad protocol": yield* Effect.promise(() =>
          cli(["run", input, "--otel-exporter-otlp-headers", `x-honeycomb-team=${KEY}`, "--otel-exporter-otlp-protocol", "grpc"], cliEnv).exited
        ),
        "cli status": yield* Effect.promise(() => cli(["status", "--state-path", state], {}).exited),
        "cli dead-letters list": yield* Effect.promise(() => cli(["dead-letters", "list", "--state-path", state], {}).exited)
      }
      assert.strictEqual(runs["cli run, wrong key"].code, 1)
      assert.include(runs["cli run, wrong key"].stderr, "401")
      assert.strictEqual(runs["cli run, key by flag, bad protocol"].code, 1)
      assert.include(runs["cli run, key by flag, bad protocol"].stderr, "OTEL_EXPORTER_OTLP_PROTOCOL")
      assert.match(runs["cli status"].stdout, /otlp: .*; stopped since .*401/)
      for (const [where, r] of Object.entries(runs)) texts.push([`${where}: stdout`, r.stdout], [`${where}: stderr`, r.stderr])

      for (const suffix of ["", "-wal", "-shm"]) {
        if (fs.existsSync(state + suffix)) texts.push([`state file${suffix}`, fs.readFileSync(state + suffix).toString("latin1")])
      }
      texts.push(...logs.map((l, i): [string, string] => [`log ${i}`, l]))
      texts.push(...spans.map((s): [string, string] => [`span ${s.name}`, spanText(s)]))

      // What was searched is what matters: the places the values would have gone are all there.
      assert.isAbove(logs.length, 5)
      assert.isTrue(logs.some((l) => l.includes("401")), "the wrong key's stop is logged")
      assert.isTrue(logs.some((l) => l.includes("dropped 1 of")), "the partial success is logged")
      const requestSpans = spans.filter((s) => s.attributes.has("http.request.header.x-honeycomb-team"))
      assert.isAbove(requestSpans.length, 0)
      assert.isTrue(spans.some((s) => s.exit !== undefined && s.exit !== "success"), "a failed span is searched")
      for (const s of requestSpans) {
        assert.strictEqual(s.attributes.get("http.request.header.x-honeycomb-team"), "<redacted>")
        assert.strictEqual(s.attributes.get("http.request.header.x-scope-orgid"), "<redacted>")
      }
      for (const [where, text] of texts) {
        for (const secret of [KEY, WRONG, OTHER, OTHER_ENCODED, KEY.slice(0, 20), "tenant+SECRET"]) {
          assert.notInclude(text, secret, `${where} shows a secret`)
        }
      }
    }), { timeout: 120_000 })
})
