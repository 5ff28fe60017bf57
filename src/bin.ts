#!/usr/bin/env node
/**
 * `event-vacuum`, the main job.
 *
 * - `event-vacuum run [FILE|-]`: vacuums evaluation records (one JSON per
 *   line) through the vacuum configured from env (enabled by default here;
 *   SQLite state and the console sink unless told otherwise), waits for
 *   delivery, and prints a summary on stderr.
 * - `event-vacuum extract [FILE|-]`: only extracts, printing each event as
 *   JSON with its evaluation's context; no state, no sinks.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Config, ConfigError, Console, Duration, Effect, Either, Exit, Layer, Stream } from "effect"
import * as fs from "node:fs"
import * as readline from "node:readline"
import * as Env from "./Env.js"
import { decodeSync, logText } from "./Evaluation.js"
import { emptyCounts, extract, lineOutcomes, rejectedOutcomes } from "./Extractor.js"
import type { Snapshot } from "./Vacuum.js"
import { Vacuum } from "./Vacuum.js"

const usage = `usage:
  event-vacuum run [FILE|-]      vacuum evaluation records (one JSON per line) and deliver their events
  event-vacuum extract [FILE|-]  print the events found, as JSON lines, without state or delivery

Settings come from the environment (EVENT_VACUUM_*); see the README. \`run\` is enabled
unless EVENT_VACUUM_ENABLED=false, keeps its state in EVENT_VACUUM_STATE_PATH
(default .event-vacuum/state.db) and prints events on the console by default.`

class CliError {
  readonly _tag = "CliError"
  constructor(readonly message: string) {}
}

/** The input's lines, numbered from 1, read as a stream (bounded memory whatever the size). */
const lines = (file: string): Stream.Stream<readonly [number, string], CliError> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const input = file === "-" ? process.stdin : fs.createReadStream(file)
      if (file !== "-") {
        yield* Effect.async<void, CliError>((resume) => {
          input.once("error", (error: Error) => resume(Effect.fail(new CliError(`cannot read ${file}: ${error.message}`))))
          input.once("open", () => resume(Effect.void))
        })
      }
      const rl = readline.createInterface({ input, crlfDelay: Infinity })
      yield* Effect.addFinalizer(() => Effect.sync(() => rl.close()))
      let n = 0
      return Stream.fromAsyncIterable(rl, (error) => new CliError(`cannot read ${file}: ${String(error)}`)).pipe(
        Stream.map((line) => [++n, line] as const)
      )
    })
  )

/** Parses a line, reporting a bad one with its number; null when it is blank or bad. */
const parseLine = (file: string, n: number, line: string): Effect.Effect<unknown> => {
  if (line.trim() === "") return Effect.succeed(null)
  try {
    return Effect.succeed(JSON.parse(line) as unknown)
  } catch {
    return Effect.as(Console.error(`event-vacuum: ${file}:${n}: not JSON`), null)
  }
}

/** The CLI is for running the vacuum: on unless EVENT_VACUUM_ENABLED says false. */
const enabledForCli = Config.boolean("EVENT_VACUUM_ENABLED").pipe(Config.withDefault(true))

const drainTimeout = Config.duration("EVENT_VACUUM_DRAIN_TIMEOUT").pipe(
  Config.withDefault(Duration.seconds(30)),
  Config.withDescription("How long `run` waits for the sinks to take everything before it gives up.")
)

const summary = (s: Snapshot, badLines: number): string => {
  const rejected = rejectedOutcomes.filter((o) => s.lines[o] > 0).map((o) => `${o}=${s.lines[o]}`)
  const out = [
    `event-vacuum: ${s.evaluations.received + badLines} records (${s.evaluations.invalid + badLines} bad, ` +
    `${s.evaluations.readOnly} read-only skipped), ${s.events.found} events (${s.events.repaired} repaired), ` +
    `lines rejected: ${rejected.length === 0 ? "none" : rejected.join(" ")}`
  ]
  for (const sink of s.sinks) {
    out.push(
      `  ${sink.name}: ${sink.delivered} delivered, ${sink.duplicates} already sent, ${sink.waiting} waiting, ` +
        `${sink.deadLettered} dead-lettered${sink.stopped === undefined ? "" : ` (stopped: ${sink.stopped})`}`
    )
  }
  const lost = s.discarded.buffer_full + s.discarded.store_failed
  if (lost > 0) out.push(`  not stored: ${lost} (buffer_full=${s.discarded.buffer_full} store_failed=${s.discarded.store_failed})`)
  return out.join("\n")
}

const run = (file: string) =>
  Effect.gen(function*() {
    const vacuum = yield* Vacuum
    let badLines = 0
    yield* lines(file).pipe(
      Stream.runForEach(([n, line]) =>
        Effect.flatMap(parseLine(file, n, line), (json) => {
          if (json === null) {
            if (line.trim() !== "") badLines++
            return Effect.void
          }
          return Effect.flatMap(vacuum.vacuum(json), (result) =>
            result.outcome === "invalid_record"
              ? Console.error(`event-vacuum: ${file}:${n}: ${result.reason}`)
              : Effect.void)
        })
      )
    )
    const done = yield* vacuum.drain(yield* drainTimeout)
    const snapshot = yield* vacuum.snapshot
    yield* Console.error(summary(snapshot, badLines))
    const waiting = snapshot.sinks.reduce((n, s) => n + s.waiting, 0)
    if (!done || waiting > 0) {
      return yield* Effect.fail(
        new CliError(`${waiting} event(s) still waiting for delivery; they stay in the state file and go on the next run`)
      )
    }
  }).pipe(Effect.provide(Layer.unwrapEffect(Effect.map(enabledForCli, (enabled) => Env.layer({ enabled })))))

const extractOnly = (file: string) =>
  Effect.gen(function*() {
    const counts = emptyCounts()
    let records = 0
    let bad = 0
    let readOnly = 0
    let events = 0
    yield* lines(file).pipe(
      Stream.runForEach(([n, line]) =>
        Effect.gen(function*() {
          const json = yield* parseLine(file, n, line)
          if (line.trim() === "") return
          records++
          if (json === null) {
            bad++
            return
          }
          const decoded = decodeSync(json)
          if (Either.isLeft(decoded)) {
            bad++
            return yield* Console.error(`event-vacuum: ${file}:${n}: ${decoded.left.message}`)
          }
          const evaluation = decoded.right
          if (evaluation.readOnly) {
            readOnly++
            return
          }
          const text = logText(evaluation.output)
          if (text._tag === "NoText") return
          const extraction = extract(text.text)
          for (const outcome of lineOutcomes) counts[outcome] += extraction.counts[outcome]
          for (const event of extraction.events) {
            events++
            const time = new Date(event.time ?? evaluation.timestamp).toISOString()
            process.stdout.write(
              `{"time":${JSON.stringify(time)},"processId":${JSON.stringify(evaluation.processId)},"nonce":${
                JSON.stringify(evaluation.ordinate)
              },"cron":${JSON.stringify(evaluation.cron)},"failed":${text.failed},"line":${event.index},"event":${event.json}}\n`
            )
          }
        })
      )
    )
    const rejected = rejectedOutcomes.filter((o) => counts[o] > 0)
    yield* Console.error(
      `event-vacuum: ${records} records (${bad} bad, ${readOnly} read-only skipped), ${events} events (${counts.repaired} repaired), ` +
        `lines rejected: ${rejected.length === 0 ? "none" : rejected.map((o) => `${o}=${counts[o]}`).join(" ")}`
    )
  })

const main = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const [command, file = "-", ...rest] = argv
    if (command === "--help" || command === "-h") return yield* Console.log(usage)
    if (command === undefined || rest.length > 0 || (command !== "run" && command !== "extract")) {
      return yield* Effect.fail(new CliError(`unknown arguments: ${argv.join(" ") || "(none)"}\n${usage}`))
    }
    return yield* command === "run" ? run(file) : extractOnly(file)
  })

main(process.argv.slice(2)).pipe(
  Effect.exit,
  Effect.flatMap((exit) => {
    if (Exit.isSuccess(exit)) return Effect.void
    // One clear line: a CLI error, a bad setting (naming its key), or the store failing to open.
    const failure = Cause.failureOption(exit.cause)
    const message = failure._tag === "Some"
      ? ConfigError.isConfigError(failure.value) ? `bad setting: ${String(failure.value)}` : (failure.value as { message: string }).message
      : Cause.pretty(exit.cause)
    return Effect.zipRight(
      Console.error(`event-vacuum: ${message}`),
      Effect.sync(() => {
        process.exitCode = 1
      })
    )
  }),
  NodeRuntime.runMain({ disableErrorReporting: true })
)
