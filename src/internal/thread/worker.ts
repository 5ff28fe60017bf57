/**
 * The vacuum's own thread: everything after the caller's thread has read a
 * record. It builds the store, the sinks and the vacuum from the settings it
 * is given (as the caller's thread would have), then takes batches in the
 * order they come: each evaluation's events are extracted, enriched and
 * queued for the writer, and once a batch's evaluations are in the store
 * (or counted as lost), the shared counter moves past it. Requests
 * (snapshot, flush, drain, replay, close) are answered by the vacuum; its
 * log lines go to the caller's thread, to be logged by the caller's logger.
 *
 * @internal
 */
import { Cause, ConfigProvider, Deferred, Effect, Exit, FiberSet, Layer, Logger, LogLevel, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import { parentPort } from "node:worker_threads"
import * as Env from "../../Env.js"
import * as Setting from "../../Setting.js"
import * as Vacuum from "../../Vacuum.js"
import { onOwnThread } from "../compress.js"
import { settings as EnvSettings } from "../settings/env.js"
import * as State from "../state.js"
import type { FromWorker, Op, ToWorker, WorkerData } from "./protocol.js"
import { ACKED, HELD, toWire, WINDOW } from "./protocol.js"
import { unpack } from "./records.js"

/**
 * The thread's own nice value, where the system lets a thread have one (Linux: setpriority on its
 * thread id): under contention the CU's threads win, and the vacuum uses the CPU they leave.
 */
const lowerPriority = (nice: number) => {
  try {
    const tid = Number(fs.readlinkSync("/proc/thread-self").split("/").at(-1))
    if (Number.isInteger(tid) && tid > 0) os.setPriority(tid, nice)
  } catch {
    // Not Linux, or no /proc: the thread runs at the process's priority.
  }
}
onOwnThread()

const port = parentPort!
const send = (message: FromWorker) => port.postMessage(message)

const show = (u: unknown): string => {
  if (typeof u === "string") return u
  if (u instanceof Error) return `${u.name}: ${u.message}`
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

/** Log lines go over as text, to the caller's logger; their level and annotations with them. */
const forwarding = Logger.make(({ annotations, cause, logLevel, message }) => {
  const parts = (Array.isArray(message) ? message : [message]).map(show)
  if (!Cause.isEmpty(cause)) parts.push(Cause.pretty(cause))
  const notes: Array<readonly [string, string]> = []
  for (const [k, v] of annotations) notes.push([k, show(v)])
  send({ t: "log", level: logLevel._tag, message: parts, annotations: notes })
})

const program = (data: WorkerData) => Effect.gen(function*() {
  const shared = new Int32Array(data.shared)
  lowerPriority(yield* Setting.configOf(EnvSettings.threadNice))
  const scope = yield* Scope.make()
  const options = yield* Setting.config(Vacuum.settings)
  // The store and the sinks live in the vacuum's scope: closing it closes them, after the vacuum's own close.
  const parts = yield* Layer.buildWithScope(Layer.merge(State.layerConfig, Env.transportLayer), scope).pipe(
    // What waits here is bounded on the caller's thread, by maxQueuedBytes over everything handed over and
    // not yet stored: nothing it let cross is dropped here for the same bound.
    Effect.flatMap((context) =>
      Effect.provide(Vacuum.makeParts({ ...options, maxQueuedBytes: Number.MAX_SAFE_INTEGER }, data.owner), context)
    ),
    Scope.extend(scope),
    Effect.tapErrorCause(() => Scope.close(scope, Exit.void))
  )
  const { intake, queue, vacuum, warnings } = parts
  // A thread before this one died: what it had claimed is sent now, not once its leases run out.
  if (data.gone.length > 0) {
    const names = data.gone.flatMap((gone) => parts.owners.map((own) => gone + own.slice(data.owner.length)))
    const released = yield* Effect.orElseSucceed(parts.store.releaseOwners(names), () => 0)
    if (released > 0) yield* Effect.logInfo(`event-vacuum: ${released} event(s) the stopped thread was sending are sent again`)
  }
  const run = yield* FiberSet.makeRuntime<never>()
  /** The close request's id: the vacuum's own close runs here, outside the requests' fibers. */
  const closing = yield* Deferred.make<number>()

  // Batches whose evaluations are queued, by the count of evaluations queued once each was taken.
  const waiting: Array<{ readonly items: number; readonly end: number }> = []
  let settled = 0
  /** Where the last batch taken ends: what this thread holds and has not stored is `taken - acked`. */
  let taken = 0
  /** Flushes waiting for the text up to their `end` to be stored. */
  const flushes: Array<{ readonly end: number; readonly done: () => void }> = []
  const reached = (end: number) => ((Atomics.load(shared, ACKED) - end) | 0) >= 0
  /** The text up to `end` is stored: the caller's thread hears it by the counter, and by `room` if it holds batches back. */
  const acknowledge = (end: number) => {
    Atomics.store(shared, ACKED, end)
    if (
      Atomics.load(shared, HELD) === 1 && ((taken - end) | 0) <= WINDOW / 2 &&
      Atomics.compareExchange(shared, HELD, 1, 0) === 1
    ) send({ t: "room" })
    for (let i = 0; i < flushes.length;) {
      if (reached(flushes[i]!.end)) flushes.splice(i, 1)[0]!.done()
      else i++
    }
  }
  queue.onSettled((count) => {
    settled = count
    let end: number | undefined
    while (waiting.length > 0 && waiting[0]!.items <= count) end = waiting.shift()!.end
    if (end !== undefined) acknowledge(end)
  })
  /** Waits until the text up to `end` is stored (or counted as lost), stopping the writer's linger meanwhile. */
  const storedTo = (end: number): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (reached(end)) return Effect.void
      const stored = Effect.async<void>((resume) => {
        flushes.push({ end, done: () => resume(Effect.void) })
      })
      // What arrives later (held back for the window) is stored within the linger; the flush rings for what is queued.
      return Effect.raceFirst(stored, Effect.zipRight(vacuum.flush, Effect.never))
    })

  const take = (batch: readonly [number, string]) => {
    const [end, text] = batch
    taken = end
    unpack(text, (evaluation, log, failed) => intake.takeText(evaluation, log, failed, warnings.logLater))
    const items = queue.offeredCount
    if (items <= settled && waiting.length === 0) acknowledge(end)
    else waiting.push({ items, end })
  }

  const answer = (req: Op): Effect.Effect<unknown, unknown> => {
    switch (req.op) {
      case "snapshot":
        return vacuum.snapshot
      case "flush":
        return storedTo(req.end)
      case "drain":
        // Within the caller's timeout, which bounds both waits.
        return Effect.zipRight(storedTo(req.end), vacuum.drain(req.millis))
      case "replay":
        return vacuum.replayDeadLetters({ sink: req.sink, seqs: req.seqs })
      case "close":
        return Effect.void
      case "exit":
        return Effect.sync(() => process.exit(req.code))
    }
  }

  port.on("message", (message: ToWorker) => {
    if (Array.isArray(message)) return take(message as readonly [number, string])
    const { id, req } = message as Extract<ToWorker, { t: "req" }>
    if (req.op === "close") return Deferred.unsafeDone(closing, Exit.succeed(id))
    run(
      answer(req).pipe(
        Effect.exit,
        Effect.map((exit) =>
          send(
            Exit.isSuccess(exit)
              ? { t: "res", id, ok: true, value: exit.value }
              : { t: "res", id, ok: false, error: toWire(Cause.squash(exit.cause)) }
          )
        )
      )
    )
  })
  send({ t: "ready" })
  const id = yield* Deferred.await(closing)
  // The vacuum's own close: what is queued is stored, the sinks get their shutdown time.
  yield* Scope.close(scope, Exit.void)
  send({ t: "res", id, ok: true, value: undefined })
  port.close()
}).pipe(Effect.scoped)

/** The thread waits for its settings: it may have been started (its modules loaded) before they were known. */
port.once("message", (init: ToWorker) => {
  const data = (init as Extract<ToWorker, { t: "init" }>).data
  const level = LogLevel.allLevels.find((l) => l._tag === data.logLevel) ?? LogLevel.Info
  Effect.runFork(
    program(data).pipe(
      Effect.catchAllCause((cause) => Effect.sync(() => send({ t: "failed", error: toWire(Cause.squash(cause)) }))),
      Effect.withConfigProvider(ConfigProvider.fromMap(new Map(data.config))),
      Effect.provide(Logger.replace(Logger.defaultLogger, forwarding)),
      Logger.withMinimumLogLevel(level)
    )
  )
})
