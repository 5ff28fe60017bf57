/**
 * The commands that only look at the state file (`status`, `dead-letters
 * list`): they load the store and nothing of delivery.
 *
 * @internal
 */
import { ConfigProvider, Console, Effect, Layer } from "effect"
import * as fs from "node:fs"
import type { SinkStats, SinkTrouble } from "../DedupeStore.js"
import { DedupeStore } from "../DedupeStore.js"
import * as Sqlite from "../DedupeStore/Sqlite.js"
import * as State from "../internal/state.js"
import type { Invocation } from "./args.js"
import { CliError } from "./input.js"

/** A command as the parser read it. */
export type Given = Extract<Invocation, { readonly _tag: "Command" }>

/** Runs `effect` with the settings given as flags over the environment. */
export const withFlags = <A, E, R>(given: Given, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  if (given.settings.size === 0) return effect
  // The environment with the flags on top, as one provider: an error names one key, once.
  const merged = new Map<string, string>()
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined) merged.set(key, value)
  for (const [key, value] of given.settings) merged.set(key, value)
  return Effect.withConfigProvider(effect, ConfigProvider.fromMap(merged))
}

/** The store alone, on the state file: for looking and replaying, no sinks. */
export const storeOnly = Layer.unwrapEffect(
    Effect.gen(function*() {
      if ((yield* State.stateUrl) !== undefined) return State.layerConfig
      const filename = yield* Sqlite.filenameConfig
      if (filename !== ":memory:" && !fs.existsSync(filename)) {
        return yield* new CliError({ description: `no state file at ${filename} (set EVENT_VACUUM_STATE_PATH or --state-path)` })
      }
      return Sqlite.layer({ filename })
    })
  )

export const status = (given: Given) =>
  withFlags(given, Effect.gen(function*() {
    const json = given.options.has("json")
    const store = yield* DedupeStore
    if (given.options.has("processes")) return yield* processes(given)
    const marks = yield* store.watermarks()
    const stats = yield* store.stats
    const over = yield* store.processes({ overBudget: true, limit: 1000 })
    if (json) {
      for (const w of marks) yield* Console.log(JSON.stringify({ watermark: w }))
      for (const s of stats) yield* Console.log(JSON.stringify({ sink: s }))
      for (const p of over) yield* Console.log(JSON.stringify({ overBudget: p }))
      return
    }
    const sinks = [...new Set([...marks.map((w) => w.sink), ...stats.map((s) => s.sink)])].sort()
    if (sinks.length === 0) return yield* Console.log("nothing handed off yet")
    for (const sink of sinks) {
      const s = stats.find((x) => x.sink === sink)
      yield* Console.log(
        `${sink}: ${s?.waiting ?? 0} waiting (${s?.waitingBytes ?? 0} bytes, ${s?.inFlight ?? 0} being sent), ` +
          `${s?.deadLetters ?? 0} dead letters${condition(s)}`
      )
      for (const p of over.filter((o) => o.sink === sink)) {
        yield* Console.log(
          `  over budget: ${p.processId} sampled 1 in ${p.sampleRate} (as of ${new Date(p.updatedAt).toISOString()}), ` +
            `${p.sampled} of ${p.events} events dropped by sampling`
        )
      }
      for (const w of marks.filter((m) => m.sink === sink)) {
        const crons = w.crons.filter((c) => c !== "")
        yield* Console.log(
          `  ${w.processId}: up to ${new Date(w.timestamp).toISOString()} nonce ${w.ordinate}` +
            `${crons.length > 0 ? ` (crons ${crons.join(", ")})` : ""}`
        )
      }
    }
  }).pipe(Effect.provide(storeOnly)))

/** Bytes for people: `812 B`, `12.3 kB`, `4.5 MB`. */
const bytesText = (n: number): string =>
  n < 1000 ? `${n} B` : n < 1e6 ? `${(n / 1e3).toFixed(1)} kB` : n < 1e9 ? `${(n / 1e6).toFixed(1)} MB` : `${(n / 1e9).toFixed(1)} GB`

/**
 * `status --processes`: the top processes by events (or `--by bytes`), each
 * sink's share under each. An evaluation counts at its first hand-off, not
 * again when evaluated again; one the vacuum's lists left out is never
 * handed off, so it counts each time.
 */
const processes = (given: Given) =>
  Effect.gen(function*() {
    const store = yield* DedupeStore
    const by = given.options.get("by") === "bytes" ? "bytes" : "events"
    const limit = Number(given.options.get("limit") ?? 20)
    const rows = yield* store.processes({ by, limit })
    if (given.options.has("json")) {
      for (const r of rows) yield* Console.log(JSON.stringify(r))
      return
    }
    const top = rows.filter((r) => r.sink === "")
    if (top.length === 0) return yield* Console.log("no process seen yet")
    yield* Console.log(`the ${top.length} process(es) with the most ${by} in this state, each evaluation counted at its first hand-off:`)
    for (const p of top) {
      const refused = p.notAllowed > 0 ? `; ${p.notAllowed} evaluations not allowed (counted each time evaluated)` : ""
      yield* Console.log(`${p.processId}  ${p.evaluations} evaluations with events, ${p.events} events, ${bytesText(p.bytes)}${refused}`)
      for (const k of rows.filter((r) => r.sink !== "" && r.processId === p.processId)) {
        const kept = k.events - k.sampled
        const parts = [
          ...(k.notAllowed > 0 ? [`${k.notAllowed} evaluations not taken`] : []),
          ...(k.evaluations > 0 ? [`${kept} of ${k.events} events kept`] : []),
          ...(k.sampled > 0 ? [`${k.sampled} sampled`] : []),
          ...(k.sampleRate > 1 ? [`over budget: 1 in ${k.sampleRate} now`] : [])
        ]
        yield* Console.log(`  ${k.sink}: ${parts.join(", ")}`)
      }
    }
  })

/** Why a sink does not deliver, in the words of the run's summary, and since when. */
const condition = (s: SinkStats | undefined): string => {
  const since = (t: SinkTrouble) => `since ${new Date(t.since).toISOString()}: ${t.cause}`
  if (s?.stopped !== undefined) return `; stopped ${since(s.stopped)}`
  if (s?.failing !== undefined) return `; failing ${since(s.failing)}`
  return ""
}

/** The `--sink` given, if any. */
export const sinkOf = (given: Given): string | undefined => {
  const sink = given.options.get("sink")
  return typeof sink === "string" ? sink : undefined
}

export const list = (given: Given) =>
  withFlags(
    given,
    Effect.gen(function*() {
      const json = given.options.has("json")
      const limit = Number(given.options.get("limit") ?? 100)
      const store = yield* DedupeStore
      const dead = yield* store.deadLetters({ sink: sinkOf(given), limit })
      if (dead.length === 0 && !json) return yield* Console.log("no dead letters")
      for (const d of dead) {
        yield* Console.log(
          json
            ? JSON.stringify({ seq: d.seq, sink: d.sink, id: d.id, time: new Date(d.time).toISOString(), reason: d.reason, attempts: d.attempts, data: JSON.parse(d.data) })
            : `#${d.seq} ${d.sink} ${new Date(d.time).toISOString()} ${d.reason}\n  ${d.data.length > 300 ? d.data.slice(0, 300) + "…" : d.data}`
        )
      }
    }).pipe(Effect.provide(storeOnly))
  )

