/**
 * The `event-vacuum` commands, run: `run`, `extract`, `status` and
 * `dead-letters list|replay`, each an Effect of what the command line asked
 * (see `commands.ts` for the table, `args.ts` for the reading of it). Every
 * setting comes from the environment and can also be given as a flag
 * (`--state-path` for `EVENT_VACUUM_STATE_PATH`, …); a flag wins.
 *
 * @since 0.1.0
 */
import { Clock, Config, Console, Duration, Effect, Either, Fiber, Layer, Option, Schedule, Stream } from "effect"
import * as fs from "node:fs"
import { DedupeStore } from "../DedupeStore.js"
import * as Sqlite from "../DedupeStore/Sqlite.js"
import * as State from "../internal/state.js"
import * as CuDatabase from "../CuDatabase.js"
import * as CuSqlite from "../CuDatabase/Sqlite.js"
import * as Env from "../Env.js"
import * as Follow from "../Follow.js"
import type { LineCounts } from "../Extractor.js"
import { defaultLimits, rejectedOutcomes } from "../Extractor.js"
import * as Intake from "../internal/intake.js"
import * as Warnings from "../internal/warnings.js"
import * as Setting from "../Setting.js"
import { jsonLine } from "../Transport/Console.js"
import type { SinkSnapshot, Snapshot, VacuumSummary } from "../Vacuum.js"
import * as Vacuum from "../Vacuum.js"
import * as MetricsServer from "../internal/metricsServer.js"
import * as Scrape from "../internal/scrape.js"
import { cliSettings, followSettings, settings } from "./commands.js"
import { bad, blank, CliError, lineChunks, parseRecord, where, writeOut } from "./input.js"
import type { Given } from "./state.js"
import { sinkOf, storeOnly, withFlags } from "./state.js"
import * as Signals from "./signals.js"

export { CliError } from "./input.js"
export { cliSettings, settings } from "./commands.js"
export type { Given } from "./state.js"

/** The command's FILE: `-` (stdin) unless given. */
const fileOf = (given: Given): string => given.args[0] ?? "-"

/** The CLI is for running the vacuum: on unless EVENT_VACUUM_ENABLED says false. */
const enabledForCli = Setting.configOf({ ...Env.settings.enabled, default: Option.some(true) })

const drainTimeout = Setting.configOf(cliSettings.drainTimeout)

/**
 * The vacuum as run and replay use it. They wait for delivery themselves
 * (the drain timeout, or the shutdown timeout after a signal), so closing
 * stores what is queued and does not wait for the sinks a second time.
 */
const callerLayer = Vacuum.layerConfig(Config.map(Setting.config(Vacuum.settings), (values) => ({ ...values, shutdownTimeout: 0 }))).pipe(
  Layer.provideMerge(Layer.merge(State.layerConfig, Env.transportLayer))
)
/**
 * On the vacuum's own thread (the default), as a CU runs it: this thread reads
 * the input and hands records over. The store is opened here too, for what
 * the commands read of it themselves (follow's cursors).
 */
const threadLayer = Layer.merge(Env.layerThread({ [Vacuum.settings.shutdownTimeout.env]: "0 millis" }), State.layerConfig)
const threadForCli = Setting.configOf(Env.settings.thread)
const runningLayer = Layer.unwrapEffect(
  Effect.map(threadForCli, (thread) => (thread === "worker" ? threadLayer : callerLayer))
)
const vacuumLayer = Layer.unwrapEffect(Effect.map(enabledForCli, (enabled) => enabled ? runningLayer : Vacuum.layerDisabled))

/** Where what is left waits: the state file, or nowhere once this run ends. */
const leftFor = Effect.gen(function*() {
  if ((yield* State.stateUrl) !== undefined) return "they stay in the state on PostgreSQL and go on the next run of any instance"
  return (yield* Sqlite.filenameConfig) === ":memory:"
    ? "the state is in memory (EVENT_VACUUM_STATE_PATH=:memory:), so they are lost when this run ends"
    : "they stay in the state file and go on the next run"
})

/**
 * Lines that were not evaluation records make the exit non-zero: whatever
 * events they held were not read. Each was named by its number already.
 */
const refuseBadLines = (bad: number): Effect.Effect<void, CliError> =>
  bad === 0 ? Effect.void : new CliError({
    description: `${bad} line(s) were not evaluation records (each is named above); the events they may hold were not read`
  })

/** The first line of a summary: records, events, rejected lines. */
const recordsLine = (
  evaluations: { readonly received: number; readonly invalid: number; readonly readOnly: number; readonly notAllowed?: number },
  events: { readonly found: number; readonly repaired: number },
  lines: LineCounts,
  badLines: number
): string => {
  const rejected = rejectedOutcomes.filter((o) => lines[o] > 0).map((o) => `${o}=${lines[o]}`)
  return `event-vacuum: ${evaluations.received + badLines} records (${evaluations.invalid + badLines} bad, ` +
    `${evaluations.readOnly} read-only skipped${
      (evaluations.notAllowed ?? 0) > 0 ? `, ${evaluations.notAllowed} of processes not allowed` : ""
    }), ${events.found} events (${events.repaired} repaired), ` +
    `lines rejected: ${rejected.length === 0 ? "none" : rejected.join(" ")}`
}

/**
 * Vacuums every record of the input with `take` (the plain call: no fiber
 * and no span a record), a chunk of lines at a time, then runs `afterChunk`
 * (the run flushes to the store there, so memory holds at most a chunk).
 * Reports lines that are not JSON or not records by number, counting in
 * `tally.bad` the lines that are not JSON (so far, if it is interrupted).
 */
const vacuumInput = (
  file: string,
  take: (record: unknown) => VacuumSummary,
  afterChunk: Effect.Effect<void>,
  tally: { bad: number },
  /** When the vacuum cannot take more now, what to wait for first (the run flushes). */
  backpressure?: { readonly full: () => boolean; readonly wait: Effect.Effect<void> }
): Effect.Effect<void, CliError> =>
  Effect.gen(function*() {
    let n = 0
    yield* lineChunks(file).pipe(
      Stream.runForEach((lines) =>
        Effect.gen(function*() {
          let complaints = ""
          for (const line of lines) {
            if (backpressure?.full() === true) yield* backpressure.wait
            n++
            const json = parseRecord(line)
            if (json === blank) continue
            if (json === bad) {
              tally.bad++
              complaints += `event-vacuum: ${where(file, n)}: not JSON\n`
              continue
            }
            const result = take(json)
            if (result.outcome === "invalid_record") complaints += `event-vacuum: ${where(file, n)}: ${result.reason}\n`
          }
          if (complaints.length > 0) process.stderr.write(complaints)
          yield* afterChunk
        })
      )
    )
  })

/**
 * The summary `run` prints: records, events, rejected lines, and per sink.
 *
 * @since 0.1.0
 */
/** What a sink's lists and budget left out, when they did: evaluations not taken, events sampled, and who is over budget. */
const selected = (sink: SinkSnapshot): string => {
  let out = ""
  if (sink.notAllowed > 0) out += `, ${sink.notAllowed} evaluations of processes it does not take`
  if (sink.sampled > 0) out += `, ${sink.sampled} sampled`
  if (sink.overBudget.length > 0) {
    const top = sink.overBudget.slice(0, 3).map((p) => `${p.processId} 1 in ${p.sampleRate}`)
    out += ` (over budget now: ${top.join(", ")}${sink.overBudget.length > 3 ? `, and ${sink.overBudget.length - 3} more` : ""})`
  }
  return out
}

export const summary = (s: Snapshot, badLines: number): string => {
  const out = [recordsLine(s.evaluations, s.events, s.lines, badLines)]
  for (const sink of s.sinks) {
    out.push(
      `  ${sink.name}: ${sink.delivered} delivered, ${sink.duplicates} seen before, ${sink.waiting} waiting, ` +
        `${sink.deadLettered} dead-lettered${selected(sink)}${
          sink.stopped !== undefined ? ` (stopped: ${sink.stopped})` : sink.lastError !== undefined ? ` (failing: ${sink.lastError})` : ""
        }`
    )
  }
  const lost = s.discarded.buffer_full + s.discarded.store_failed
  if (lost > 0) {
    out.push(`  not stored: ${lost} (buffer_full=${s.discarded.buffer_full} store_failed=${s.discarded.store_failed})`)
  }
  return out.join("\n")
}

/**
 * Events left for a later run: what waits in the outboxes, held by another
 * instance or not. A batch claimed by a run that died looks the same as one
 * another instance is sending: both count until they are delivered.
 */
const undelivered = (s: Snapshot): number => s.sinks.reduce((n, sink) => n + sink.waiting, 0)

/**
 * Drains, then, within the same timeout, waits for what else waits in the
 * outboxes: what another instance on the same state file stored and has not
 * sent yet, or a dead run's batches once their lease ends (this run's
 * delivery takes them over), unless a sink has stopped. Answers whether this
 * run drained, and the snapshot to report.
 */
const drainAndSettle = (vacuum: Vacuum.Vacuum["Type"], timeout: Duration.Duration) =>
  Effect.gen(function*() {
    const deadline = (yield* Clock.currentTimeMillis) + Duration.toMillis(timeout)
    const done = yield* vacuum.drain(timeout)
    let snapshot = yield* vacuum.snapshot
    while (
      done && undelivered(snapshot) > 0 && snapshot.sinks.every((k) => k.stopped === undefined) &&
      (yield* Clock.currentTimeMillis) < deadline
    ) {
      yield* Effect.sleep("100 millis")
      snapshot = yield* vacuum.snapshot
    }
    return { done, snapshot }
  })

/**
 * How a run that read records ends: stopped by a signal (saying whether all
 * was delivered), events not stored, or events left waiting, each one line
 * and a non-zero exit; else nothing.
 */
const verdict = (signal: NodeJS.Signals | undefined, done: boolean, snapshot: Snapshot) =>
  Effect.gen(function*() {
    const waiting = undelivered(snapshot)
    if (signal !== undefined) {
      return yield* new CliError({
        description: `stopped by ${signal}; ${
          waiting === 0 ? "every event read was delivered" : `${waiting} event(s) still waiting: ${yield* leftFor}`
        }`
      })
    }
    const lost = snapshot.discarded.buffer_full + snapshot.discarded.store_failed
    if (lost > 0) {
      return yield* new CliError({
        description: `${lost} event(s) were not stored (buffer_full=${snapshot.discarded.buffer_full} ` +
          `store_failed=${snapshot.discarded.store_failed}); run again once the cause is fixed: nothing moved past them`
      })
    }
    if (!done || waiting > 0) {
      return yield* new CliError({ description: `${waiting} event(s) still waiting for delivery; ${yield* leftFor}` })
    }
  })

/** On a terminal, a progress line on stderr, rewritten in place. */
const progress = (vacuum: Vacuum.Vacuum["Type"]) =>
  Effect.gen(function*() {
    const s = yield* vacuum.snapshot
    const delivered = s.sinks.map((k) => `${k.name} ${k.delivered}`).join(", ")
    process.stderr.write(`\r\x1b[2Kevent-vacuum: ${s.evaluations.received} records, ${s.events.found} events; delivered: ${delivered}`)
  }).pipe(Effect.repeat(Schedule.spaced("250 millis")), Effect.asVoid)

/**
 * Before the state file is opened: the vacuum is on, every setting given
 * reads (a required one may be missing here: its sink says so if it is
 * used), and the input can be read.
 */
const preflight = (file: string) =>
  Effect.gen(function*() {
    if (!(yield* enabledForCli)) {
      return yield* new CliError({ description: "the vacuum is disabled (EVENT_VACUUM_ENABLED=false): nothing was read" })
    }
    for (const s of settings) if (s !== Env.settings.enabled) yield* Config.option(Setting.configOf(s))
    if (file === "-") return
    yield* Effect.try({
      try: () => fs.closeSync(fs.openSync(file, "r")),
      catch: (error) => new CliError({ description: `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}` })
    })
  })

/**
 * `--metrics-address`: the run's metrics and health on an endpoint of their
 * own, for as long as the scope (the run) lasts; one line says where.
 */
const metricsEndpoint = (vacuum: Vacuum.Vacuum["Type"]) =>
  Effect.gen(function*() {
    const address = yield* Setting.configOf(cliSettings.metricsAddress)
    if (address === "none") return
    const parsed = MetricsServer.parseAddress(address)
    if (typeof parsed === "string") return yield* new CliError({ description: `EVENT_VACUUM_METRICS_ADDRESS: ${parsed}` })
    const scraper = yield* Scrape.make(vacuum.snapshot)
    const endpoint = yield* MetricsServer.serve(parsed, scraper).pipe(
      Effect.mapError((e) => new CliError({ description: `EVENT_VACUUM_METRICS_ADDRESS: ${e.message}` }))
    )
    yield* Console.error(`event-vacuum: metrics on ${endpoint.url}/metrics, health on ${endpoint.url}/health`)
  })

const run = (given: Given) => {
  const file = fileOf(given)
  return withFlags(
    given,
    Effect.zipRight(preflight(file), Signals.handled((stopped) => Effect.scoped(Effect.gen(function*() {
      // Every setting is read before any work: a bad one stops the run before it prints anything.
      const timeout = yield* drainTimeout
      const shutdownTimeout = yield* Setting.configOf(Vacuum.settings.shutdownTimeout)
      // No progress line where the console sink prints its events on the same terminal.
      const sharesTerminal = process.stdout.isTTY && (yield* Setting.configOf(Env.settings.transports)).includes("console")
      const vacuum = yield* Vacuum.Vacuum
      yield* metricsEndpoint(vacuum)
      const ticker = process.stderr.isTTY && !sharesTerminal ? yield* Effect.fork(progress(vacuum)) : undefined
      const tally = { bad: 0 }
      // On the caller's thread a chunk is stored before the next is read (memory holds at most a chunk);
      // the vacuum's own thread stores while this one reads, bounded by maxQueuedBytes.
      const ownThread = (yield* threadForCli) === "worker"
      const read = vacuumInput(file, vacuum.unsafeVacuum, ownThread ? Effect.yieldNow() : vacuum.flush, tally, {
        full: vacuum.unsafeQueueFull,
        wait: vacuum.flush
      })
      // A signal stops reading, or the wait for delivery; what was read is then stored and sent
      // within the shutdown timeout.
      const outcome = yield* Effect.raceFirst(
        Effect.map(Effect.zipRight(read, drainAndSettle(vacuum, timeout)), Option.some),
        Effect.as(stopped, Option.none())
      )
      const signal = Signals.received()
      const { done, snapshot } = Option.isSome(outcome)
        ? outcome.value
        : { done: yield* vacuum.drain(shutdownTimeout), snapshot: yield* vacuum.snapshot }
      if (ticker !== undefined) {
        yield* Fiber.interrupt(ticker)
        process.stderr.write("\r\x1b[2K")
      }
      yield* Console.error(summary(snapshot, tally.bad))
      yield* verdict(signal, done, snapshot)
      yield* refuseBadLines(tally.bad + snapshot.evaluations.invalid)
    }))).pipe(Effect.provide(vacuumLayer)))
  )
}

/** `--since`: ISO 8601 or epoch milliseconds. */
const sinceOf = (given: Given): Effect.Effect<number | undefined, CliError> => {
  const text = given.options.get("since")
  if (typeof text !== "string") return Effect.succeed(undefined)
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text)
  return Number.isFinite(ms)
    ? Effect.succeed(ms)
    : new CliError({ description: `--since takes a time (ISO 8601, such as 2024-09-22T10:00:00Z, or epoch ms), got ${JSON.stringify(text)}` })
}

const follow = (given: Given) =>
  withFlags(
    given,
    Effect.gen(function*() {
      yield* preflight("-")
      const cuDb = given.args[0] ?? (yield* Setting.configOf(followSettings.cuDb))
      const timeout = yield* Setting.configOf(followSettings.cuDbTimeout)
      // The CU's database before the state file: a wrong name opens nothing.
      // PostgreSQL's client loads only for a postgres:// URL.
      const pg = CuDatabase.isPostgresUrl(cuDb) ? yield* Effect.promise(() => import("../CuDatabase/Pg.js")) : undefined
      const source = pg !== undefined ? pg.sourceOf(cuDb) : CuSqlite.resolveFile(cuDb)
      if (source === undefined) {
        return yield* new CliError({ description: `EVENT_VACUUM_CU_DB: no CU database at ${cuDb} (nor ${cuDb}.sqlite)` })
      }
      const cuLayer = pg !== undefined ? pg.layer({ url: cuDb, timeout }) : CuSqlite.layer({ filename: cuDb, timeout })
      const since = yield* sinceOf(given)
      const poll = yield* Setting.configOf(followSettings.cuDbPoll)
      const once = given.options.has("once")
      return yield* Signals.handled((stopped) =>
        Effect.scoped(Effect.gen(function*() {
          const drain = yield* drainTimeout
          const shutdownTimeout = yield* Setting.configOf(Vacuum.settings.shutdownTimeout)
          const sharesTerminal = process.stdout.isTTY && (yield* Setting.configOf(Env.settings.transports)).includes("console")
          const vacuum = yield* Vacuum.Vacuum
          yield* metricsEndpoint(vacuum)
          let counts: Follow.Counts = { rows: 0, badRows: 0, invalid: 0, processes: 0 }
          const rows = yield* Effect.flatMap(CuDatabase.CuDatabase, (cu) => cu.count)
          if (rows === 0) {
            yield* Console.error(
              `event-vacuum: the evaluations table of ${source} is empty: a CU writes none with DISABLE_PROCESS_EVALUATION_CACHE set ` +
                `(or has evaluated nothing yet)`
            )
          }
          if (process.stderr.isTTY && !sharesTerminal) yield* Effect.fork(followProgress(vacuum, rows, () => counts))
          const reading = Follow.follow({
            once,
            poll,
            since,
            processes: given.lists.get("process"),
            onBadRow: (id, reason) => Effect.sync(() => process.stderr.write(`event-vacuum: ${id}: ${reason}\n`)),
            onProgress: (c) => Effect.sync(() => (counts = c))
          }).pipe(Effect.tap((c) => (counts = c)))
          // Following ends by a signal, or a read that fails; --once when it has read everything
          // and waited for delivery.
          const outcome = yield* Effect.raceFirst(
            Effect.map(Effect.either(Effect.zipRight(reading, drainAndSettle(vacuum, drain))), Option.some),
            Effect.as(stopped, Option.none())
          )
          const signal = Signals.received()
          const { done, snapshot } = Option.isSome(outcome) && Either.isRight(outcome.value)
            ? outcome.value.right
            : { done: yield* vacuum.drain(shutdownTimeout), snapshot: yield* vacuum.snapshot }
          if (process.stderr.isTTY) process.stderr.write("\r\x1b[2K")
          yield* Console.error(
            `event-vacuum: followed ${source}: ${counts.rows} rows of ${counts.processes} processes, ` +
              `${counts.badRows} with an output that is not JSON\n${summary(snapshot, 0)}`
          )
          // What stopped the reading is said last, after what it had done.
          if (Option.isSome(outcome) && Either.isLeft(outcome.value)) return yield* outcome.value.left
          yield* verdict(signal, done, snapshot)
          if (counts.badRows + counts.invalid > 0) {
            return yield* new CliError({
              description: `${counts.badRows + counts.invalid} row(s) could not be read as evaluations (each is named above)`
            })
          }
        }))
      ).pipe(
        Effect.provide(runningLayer),
        // The CU's database opens first: one that cannot be read opens no state.
        Effect.provide(cuLayer)
      )
    })
  )

/** On a terminal, following's progress line on stderr, rewritten in place. */
const followProgress = (vacuum: Vacuum.Vacuum["Type"], total: number, counts: () => Follow.Counts) =>
  Effect.gen(function*() {
    const s = yield* vacuum.snapshot
    const c = counts()
    const delivered = s.sinks.map((k) => `${k.name} ${k.delivered}`).join(", ")
    process.stderr.write(
      `\r\x1b[2Kevent-vacuum: ${c.rows} of ${total} rows, ${c.processes} processes, ${s.events.found} events; delivered: ${delivered}`
    )
  }).pipe(Effect.repeat(Schedule.spaced("250 millis")), Effect.asVoid)

const extract = (given: Given) =>
  Effect.scoped(Effect.gen(function*() {
    const file = fileOf(given)
    // The vacuum's own intake, with the output where the store would be: each event as the
    // file sink writes it, context and id included.
    let out = ""
    const intake = Intake.make({ skipReadOnly: true, limits: defaultLimits }, {
      offer: (item) => {
        for (const event of item.events) out += jsonLine(event) + "\n"
        return true
      }
    }, yield* Warnings.make())
    const tally = { bad: 0 }
    yield* vacuumInput(file, (record) => intake.take(record, () => {}), Effect.suspend(() => {
      const text = out
      out = ""
      return writeOut(text)
    }), tally)
    const c = intake.counts()
    yield* Console.error(recordsLine(c, c, c.lines, tally.bad))
    yield* refuseBadLines(tally.bad + c.invalid)
  }))

const replay = (given: Given) => {
  const seqs = given.args.map(Number)
  const sink = Option.fromNullable(sinkOf(given))
  return withFlags(
      given,
      Effect.gen(function*() {
        const timeout = yield* drainTimeout
        // What would be replayed, checked first: each asked-for letter exists, and each one's sink
        // is configured here (a letter put back for a sink nobody runs would only wait).
        const configured = yield* Setting.configOf(Env.settings.transports)
        const wanted = yield* Effect.flatMap(DedupeStore, (store) =>
          store.deadLetters({ sink: Option.getOrUndefined(sink), limit: Number.MAX_SAFE_INTEGER })).pipe(
            Effect.map((dead) => seqs.length === 0 ? dead : dead.filter((d) => seqs.includes(d.seq))),
            Effect.provide(storeOnly)
          )
        const missing = seqs.filter((seq) => !wanted.some((d) => d.seq === seq))
        if (missing.length > 0) {
          return yield* new CliError({
            description: `no dead letter ${missing.map((s) => `#${s}`).join(", ")}${
              Option.isSome(sink) ? ` for sink ${sink.value}` : ""
            } (see dead-letters list); nothing was replayed`
          })
        }
        if (wanted.length === 0) {
          return yield* new CliError({
            description: `no dead letters${Option.isSome(sink) ? ` for sink ${sink.value}` : ""} to replay`
          })
        }
        const elsewhere = [...new Set(wanted.map((d) => d.sink))].filter((s) => !(configured as ReadonlyArray<string>).includes(s))
        if (elsewhere.length > 0) {
          return yield* new CliError({
            description: `dead letters of ${elsewhere.join(", ")}: not a configured sink here (EVENT_VACUUM_TRANSPORTS is ${
              configured.join(",")
            }); nothing was replayed`
          })
        }
        const vacuum = yield* Vacuum.Vacuum
        const replayed = yield* vacuum.replayDeadLetters({
          sink: Option.getOrUndefined(sink),
          seqs: seqs.length > 0 ? seqs : undefined
        })
        yield* Console.error(`event-vacuum: ${replayed} dead letter(s) back in the outbox; sending`)
        const { done, snapshot } = yield* drainAndSettle(vacuum, timeout)
        yield* Console.error(summary(snapshot, 0))
        const waiting = undelivered(snapshot)
        if (!done || waiting > 0) return yield* new CliError({ description: `${waiting} event(s) still waiting for delivery` })
      }).pipe(Effect.provide(vacuumLayer))
    )
}

/**
 * The command the parser read, as an Effect.
 *
 * @since 0.2.0
 */
export const runGiven = (given: Given) => {
  switch (given.command.path.join(" ")) {
    case "run":
      return run(given)
    case "extract":
      return extract(given)
    case "follow":
      return follow(given)
    case "dead-letters replay":
      return replay(given)
    default:
      return new CliError({ description: `no command ${given.command.path.join(" ")}` })
  }
}
