/**
 * Secrets: the Honeycomb key, right or wrong, never shows. The whole
 * pipeline runs from the environment, as an operator runs it, through
 * retries, refusals, a dropped connection, garbage replies, a refused key
 * and bad settings; then every place text goes is searched for the keys:
 * the logs (messages, causes, annotations), every span (attributes, events,
 * how it ended), the errors, the snapshots, the dead letters, the CLI's
 * output (`status` after a stopped and after a failing sink among it) and
 * the state file (database, WAL and shared memory).
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
import { FakeHoneycomb } from "../support/honeycomb.js"
import { recordingTracer, spanText } from "../support/tracer.js"

const KEY = "hcaik_01SECRETsecretSECRETsecret0123456789"
const WRONG = "hcaik_01WRONGwrongWRONGwrong9876543210"

describe("secrets: the Honeycomb key", () => {
  it.scopedLive("never appears in logs, errors, spans, summaries, dead letters, CLI output or the state file", () =>
    Effect.gen(function*() {
      const texts: Array<[where: string, text: string]> = []
      const hc = yield* Effect.promise(() => FakeHoneycomb.start(KEY))
      yield* Effect.addFinalizer(() => Effect.promise(() => hc.close()))
      // One of each fault, then normal answers; the Transfer events are refused for good.
      const faults = ["status", "drop", "garbage", "single-error", "short-array"] as const
      hc.fault = (n) => {
        const kind = faults[n - 1]
        if (kind === "status") return { kind, status: 500 }
        if (kind === "single-error") return { kind, error: "internal error" }
        if (kind !== undefined) return { kind }
        return { kind: "per-event", refuse: (d) => (d.Action === "Transfer" ? "Event has too many columns." : undefined) }
      }
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-secrets-"))
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
            EVENT_VACUUM_TRANSPORTS: "honeycomb",
            EVENT_VACUUM_STATE_PATH: state,
            EVENT_VACUUM_FLUSH_INTERVAL: "10 millis",
            EVENT_VACUUM_RETRY_BASE_DELAY: "10 millis",
            EVENT_VACUUM_RETRY_MAX_DELAY: "50 millis",
            HONEYCOMB_API_KEY: key,
            HONEYCOMB_API_HOST: hc.url,
            HONEYCOMB_DATASET: "secrets",
            HONEYCOMB_BATCH_MAX_EVENTS: "20",
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

      // Bad settings next to the key: the errors name the setting, not the key.
      for (const more of [{ HONEYCOMB_DATASET: "a/b" }, { HONEYCOMB_COMPRESSION: "bogus" }, { HONEYCOMB_API_HOST: "not a url" }]) {
        const exit = yield* Effect.exit(Layer.build(Env.layer().pipe(Layer.provide(env(KEY, more)))))
        assert.isTrue(Exit.isFailure(exit), JSON.stringify(more))
        if (Exit.isFailure(exit)) texts.push([`error for ${JSON.stringify(more)}`, Cause.pretty(exit.cause)])
      }

      // The CLI, as operators run it: a wrong key, a bad setting by flag, the status.
      const cliEnv = { EVENT_VACUUM_STATE_PATH: state, HONEYCOMB_API_HOST: hc.url, HONEYCOMB_DATASET: "secrets", EVENT_VACUUM_TRANSPORTS: "honeycomb" }
      const input = path.join(dir, "in.ndjson")
      fs.writeFileSync(input, copiesOfExample(1, 2).map((r) => JSON.stringify(r)).join("\n"))
      const runs = {
        "cli run, wrong key": yield* Effect.promise(() => cli(["run", input], { ...cliEnv, HONEYCOMB_API_KEY: WRONG, EVENT_VACUUM_DRAIN_TIMEOUT: "5 seconds" }).exited),
        "cli run, bad dataset flag": yield* Effect.promise(() =>
          cli(["run", input, "--honeycomb-api-key", KEY, "--honeycomb-dataset", "a/b"], cliEnv).exited
        ),
        "cli status": yield* Effect.promise(() => cli(["status", "--state-path", state], {}).exited),
        "cli dead-letters list": yield* Effect.promise(() => cli(["dead-letters", "list", "--state-path", state], {}).exited)
      }
      assert.strictEqual(runs["cli run, wrong key"].code, 1)
      assert.include(runs["cli run, wrong key"].stderr, "401")
      assert.strictEqual(runs["cli run, bad dataset flag"].code, 1)
      // The status says why the sink stopped, from the state file.
      assert.match(runs["cli status"].stdout, /honeycomb: .*; stopped since .*401/)

      // The right key, and a sink that fails at every attempt: the status says why.
      hc.fault = () => ({ kind: "status", status: 503 })
      const failing = {
        "cli run, sink failing": yield* Effect.promise(() =>
          cli(["run", input], { ...cliEnv, HONEYCOMB_API_KEY: KEY, EVENT_VACUUM_DRAIN_TIMEOUT: "2 seconds" }).exited
        ),
        "cli status, sink failing": yield* Effect.promise(() => cli(["status", "--state-path", state], {}).exited),
        "cli status --json, sink failing": yield* Effect.promise(() => cli(["status", "--json", "--state-path", state], {}).exited)
      }
      assert.strictEqual(failing["cli run, sink failing"].code, 1)
      assert.match(failing["cli status, sink failing"].stdout, /honeycomb: .*; failing since .*503/)
      assert.include(failing["cli status --json, sink failing"].stdout, `"failing":{"cause":`)
      for (const [where, r] of Object.entries({ ...runs, ...failing })) {
        texts.push([`${where}: stdout`, r.stdout], [`${where}: stderr`, r.stderr])
      }

      for (const suffix of ["", "-wal", "-shm"]) {
        if (fs.existsSync(state + suffix)) texts.push([`state file${suffix}`, fs.readFileSync(state + suffix).toString("latin1")])
      }
      texts.push(...logs.map((l, i): [string, string] => [`log ${i}`, l]))
      texts.push(...spans.map((s): [string, string] => [`span ${s.name}`, spanText(s)]))

      // What was searched is what matters: the places the key would have gone are all there.
      assert.isAbove(logs.length, 5)
      assert.isTrue(logs.some((l) => l.includes("401")), "the wrong key's stop is logged")
      const requestSpans = spans.filter((s) => s.attributes.has("http.request.header.x-honeycomb-team"))
      assert.isAbove(requestSpans.length, 0)
      assert.isTrue(spans.some((s) => s.exit !== undefined && s.exit !== "success"), "a failed span is searched")
      for (const s of requestSpans) assert.strictEqual(s.attributes.get("http.request.header.x-honeycomb-team"), "<redacted>")
      for (const [where, text] of texts) {
        assert.notInclude(text, KEY, where)
        assert.notInclude(text, WRONG, where)
      }
    }), { timeout: 120_000 })
})
