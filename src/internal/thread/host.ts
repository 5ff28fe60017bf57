/**
 * The vacuum on a thread of its own, as the caller's thread sees it: a
 * `Vacuum` whose call only reads the record (decoding it, skipping a
 * read-only one, finding its log text) and appends it to a batch. A batch
 * crosses when it is large or has lingered (`storeLinger`), as one string;
 * everything after (extraction, the store, the sinks) runs on the vacuum's
 * thread (see `worker.ts`).
 *
 * The caller's thread keeps each batch until the vacuum's thread says, by a
 * shared counter, that its evaluations are in the store. What waits so is
 * bounded by `maxQueuedBytes`, like the queue to the store: at the bound,
 * calls drop (counted, logged). Of it, at most a window (`WINDOW`, 4 MiB) is
 * with the vacuum's thread at a time: the rest is held here (where it is kept
 * anyway) until that thread says there is room, so the text is not held twice.
 * If the vacuum's thread dies, the death is logged, a new one is started (with
 * backoff while it cannot start), and it is handed every batch not yet stored:
 * the watermarks make that safe, as a re-evaluation is.
 *
 * @internal
 */
import { Duration, Effect, Either, Exit, FiberRef, FiberSet, LogLevel, Queue, Schedule } from "effect"
import type { Scope } from "effect"
import type { Worker } from "node:worker_threads"
import { DedupeStoreError } from "../../DedupeStore.js"
import { reservedKeys } from "../../Enrich.js"
import type { EvaluationFields } from "../../Evaluation.js"
import { decodeSync, logText, readPlain } from "../../Evaluation.js"
import { extract } from "../../Extractor.js"
import * as Metrics from "../../Metrics.js"
import { reason } from "../intake.js"
import type { Settings, Snapshot, VacuumSummary } from "../../Vacuum.js"
import { Vacuum } from "../../Vacuum.js"
import * as Warnings from "../warnings.js"
import type { FromWorker, Op, ThreadError, ToWorker, WorkerData } from "./protocol.js"
import { ACKED, fromWire, HELD, isDefect, WINDOW } from "./protocol.js"
import * as Prestart from "./prestart.js"
import { pack } from "./records.js"

const CLOSED: VacuumSummary = { outcome: "closed", events: 0, rejectedLines: 0 }
const READ_ONLY: VacuumSummary = { outcome: "read_only", events: 0, rejectedLines: 0 }
const HANDED_OFF: VacuumSummary = { outcome: "handed_off", events: 0, rejectedLines: 0 }

/**
 * A batch crosses at this many characters of text without waiting for its linger. Measured:
 * posting costs about 0.25 µs an evaluation in batches of 64 KiB, 2 µs in batches of 256 KiB
 * (a large string is flattened and serialized into a buffer that grows by copies).
 */
const BATCH_CHARS = 64 * 1024
/** The most text the crossing holds, whatever `maxQueuedBytes` says: its counter wraps at 2^32. */
const MAX_CROSSING = 2 ** 30

/** Restarts of the vacuum's thread: soon at first, then every 10 seconds at most. */
const restarting = Schedule.exponential("100 millis").pipe(Schedule.either(Schedule.spaced("10 seconds")))

interface Batch {
  readonly end: number
  readonly text: string
}

interface Request {
  readonly id: number
  readonly req: Op
  readonly answer: (exit: Exit.Exit<unknown, ThreadError>) => void
}

export interface HostOptions {
  /** The vacuum's settings, decoded here (a bad one fails here, naming its key). */
  readonly settings: Settings
  /** Every setting as text, by env key, for the vacuum's thread to read its own from. */
  readonly config: ReadonlyMap<string, string>
}

/** Starts the vacuum's thread and answers the `Vacuum` that feeds it; fails as its start fails. */
export const make = (options: HostOptions): Effect.Effect<Vacuum["Type"], ThreadError, Scope.Scope> =>
  Effect.gen(function*() {
    const { settings } = options
    const maxCrossing = Math.min(settings.maxQueuedBytes, MAX_CROSSING)
    const lingerMillis = Math.max(0, Duration.toMillis(settings.storeLinger))
    const warnings = yield* Warnings.make()
    const run = yield* FiberSet.makeRuntime<never>()
    const minimum: LogLevel.LogLevel = yield* FiberRef.get(FiberRef.currentMinimumLogLevel)
    const shared = new SharedArrayBuffer(8)
    const signals = new Int32Array(shared)
    const stored = () => Atomics.load(signals, ACKED)
    // Each thread's claims go by a name of its own; a new one is told the names of those that died.
    const instance = crypto.randomUUID()
    let generation = 0
    const gone: Array<string> = []
    const workerData = (): WorkerData => ({
      config: [...options.config],
      shared,
      logLevel: minimum._tag,
      owner: `${instance}.${generation++}`,
      gone: [...gone]
    })

    // What the caller's thread counts; the rest is counted over there.
    const counts = { received: 0, readOnly: 0, invalid: 0, noText: 0, failed: 0, bufferFull: 0 }
    let closed = false

    // The crossing: text ever posted (wrapping), the batch being made, the batches not yet stored.
    let posted = 0
    let pending = ""
    let timer: ReturnType<typeof setTimeout> | undefined
    let batches: Array<Batch | undefined> = []
    let head = 0
    /** Of `batches`, those before this index were sent to the current thread. */
    let sent = 0
    /** Where the last batch sent to the current thread ends. */
    let sentEnd = 0

    let worker: Worker | undefined
    const requests = new Map<number, Request>()
    let nextId = 0

    const reclaim = () => {
      const upTo = stored()
      while (head < batches.length && ((upTo - batches[head]!.end) | 0) >= 0) batches[head++] = undefined
      if (head > 64 && head * 2 > batches.length) {
        batches = batches.slice(head)
        sent = Math.max(0, sent - head)
        head = 0
      }
    }

    /** Text handed over and not yet stored, the batch being made included. */
    const outstanding = () => ((posted - stored()) | 0) + pending.length

    /** A batch may cross when the thread has stored all it was sent, or the batch keeps it within the window. */
    const fits = (batch: Batch) => ((stored() - sentEnd) | 0) >= 0 || ((batch.end - stored()) | 0) <= WINDOW

    /** Sends the batches not yet sent, as far as the window lets (all of them once closing). */
    const sendBatches = () => {
      if (worker === undefined) return
      for (; sent < batches.length; sent++) {
        const batch = batches[sent]
        if (batch === undefined) continue
        if (!closed && !fits(batch)) {
          // Held back: the thread says `room` once it has stored enough. Raised before looking again,
          // so that either this thread sees what was stored meanwhile or that thread sees the flag.
          Atomics.store(signals, HELD, 1)
          if (!fits(batch)) return
        }
        worker.postMessage([batch.end, batch.text] satisfies ToWorker)
        sentEnd = batch.end
      }
    }

    /** The counts since last time, into the metrics: once a batch, not once a call (a metric update hashes its key). */
    const published = { received: 0, readOnly: 0, invalid: 0, noText: 0, bufferFull: 0 }
    const publish = () => {
      const delta = (key: keyof typeof published, update: (n: number) => void) => {
        const n = counts[key] - published[key]
        if (n > 0) {
          update(n)
          published[key] = counts[key]
        }
      }
      delta("received", (n) => Metrics.receivedEvaluations.unsafeUpdate(n, []))
      delta("readOnly", (n) => Metrics.rejected.unsafeUpdate(n, [reason("read_only")]))
      delta("invalid", (n) => Metrics.rejected.unsafeUpdate(n, [reason("invalid_record")]))
      delta("noText", (n) => Metrics.rejected.unsafeUpdate(n, [reason("no_text")]))
      delta("bufferFull", (n) => Metrics.discardedEvents.unsafeUpdate(n, [reason("buffer_full")]))
    }

    const post = () => {
      publish()
      if (timer !== undefined) {
        clearTimeout(timer)
        timer = undefined
      }
      if (pending.length === 0) return
      posted = (posted + pending.length) | 0
      batches.push({ end: posted, text: pending })
      pending = ""
      reclaim()
      sendBatches()
    }

    /** A batch (or only counts) waits at most the linger to cross. */
    const linger = () => {
      if (timer !== undefined) return
      timer = setTimeout(post, lingerMillis)
      timer.unref()
    }

    const invalid = (why: string): VacuumSummary => {
      counts.invalid++
      const message = warnings.admit("invalid_record", `event-vacuum: skipped an evaluation record that does not decode: ${why}`)
      if (message !== undefined) warnings.logLater(message)
      return { outcome: "invalid_record", events: 0, rejectedLines: 0, reason: why }
    }

    /** At the bound the evaluation is dropped; its events are counted, as the queue to the store counts them. */
    const dropped = (e: EvaluationFields, text: string): VacuumSummary => {
      const extraction = extract(text, settings.limits, reservedKeys)
      const found = extraction.events.length
      if (found === 0) return { outcome: "no_events", events: 0, rejectedLines: 0 }
      counts.bufferFull += found
      const message = warnings.admit(
        "buffer_full",
        `event-vacuum: the queue to the store is full (maxQueuedBytes); dropped ${found} event(s) of ` +
          `${e.processId} nonce ${e.ordinate} (a re-evaluation would hand them off)`
      )
      if (message !== undefined) warnings.logLater(message)
      return { outcome: "buffer_full", events: found, rejectedLines: 0 }
    }

    const take = (input: unknown): VacuumSummary => {
      let e = readPlain(input)
      if (e === undefined) {
        const decoded = decodeSync(input)
        if (Either.isLeft(decoded)) return invalid(decoded.left.message)
        e = decoded.right
      }
      if (e.readOnly && settings.skipReadOnly) {
        counts.readOnly++
        return READ_ONLY
      }
      const text = logText(e.output)
      if (text.failed) counts.failed++
      if (text._tag === "NoText") {
        counts.noText++
        return { outcome: "no_text", events: 0, rejectedLines: 0, reason: text.reason }
      }
      if (outstanding() >= maxCrossing) {
        reclaim()
        if (outstanding() >= maxCrossing) return dropped(e, text.text)
      }
      pending += pack(e, text.text, text.failed)
      if (pending.length >= BATCH_CHARS) post()
      return HANDED_OFF
    }

    /** The CU's call: never throws (a record whose reading throws is an invalid record), never waits. */
    const unsafeVacuum = (input: unknown): VacuumSummary => {
      if (closed) return CLOSED
      counts.received++
      // The batch, or at least the counts, cross within the linger.
      linger()
      try {
        return take(input)
      } catch (error) {
        return invalid(`the record could not be read: ${error instanceof Error ? error.message : String(error)}`)
      }
    }

    const request = <A>(req: Op): Effect.Effect<A, ThreadError> =>
      Effect.async<A, ThreadError>((resume) => {
        const id = nextId++
        requests.set(id, {
          id,
          req,
          answer: (exit) => {
            requests.delete(id)
            resume(exit as Exit.Exit<A, ThreadError>)
          }
        })
        worker?.postMessage({ t: "req", id, req } satisfies ToWorker)
        return Effect.sync(() => requests.delete(id))
      })

    const onMessage = (message: FromWorker) => {
      switch (message.t) {
        case "res": {
          const r = requests.get(message.id)
          if (r === undefined) return
          if (message.ok) return r.answer(Exit.succeed(message.value))
          const error = fromWire(message.error)
          return r.answer(isDefect(error) ? Exit.die(error) : Exit.fail(error))
        }
        case "room":
          reclaim()
          return sendBatches()
        case "log": {
          const level = LogLevel.fromLiteral(message.level as LogLevel.Literal)
          run(Effect.logWithLevel(level, ...message.message).pipe(Effect.annotateLogs(Object.fromEntries(message.annotations))))
          return
        }
      }
    }

    /** The thread died (or left); `died` hears of it, unless the vacuum is closing. */
    const died = yield* Queue.unbounded<string>()

    /** Starts a vacuum thread; answers once it is ready, fails as its start fails. */
    const start = Effect.async<Worker, ThreadError | Error>((resume) => {
      const w = Prestart.take()
      const data = workerData()
      const owner = data.owner
      let ready = false
      let lastError: unknown
      w.on("message", (message: FromWorker) => {
        if (message.t === "ready") {
          ready = true
          worker = w
          // A new thread is handed what the last one did not store, then the requests waiting for an answer.
          sent = head
          sentEnd = stored()
          reclaim()
          sendBatches()
          for (const r of requests.values()) w.postMessage({ t: "req", id: r.id, req: r.req } satisfies ToWorker)
          return resume(Effect.succeed(w))
        }
        if (message.t === "failed") {
          const error = fromWire(message.error)
          return resume(Effect.fail(error))
        }
        onMessage(message)
      })
      w.on("error", (error) => {
        lastError = error
      })
      w.postMessage({ t: "init", data } satisfies ToWorker)
      w.on("exit", (code) => {
        const why = lastError instanceof Error ? `${lastError.name}: ${lastError.message}` : `it exited with code ${code}`
        if (!ready) return resume(Effect.fail(new Error(`the vacuum's thread did not start: ${why}`)))
        if (worker === w) worker = undefined
        gone.push(owner)
        Queue.unsafeOffer(died, why)
      })
    })

    yield* Effect.catchAll(start, (error) => (isDefect(error) ? Effect.die(error) : Effect.fail(error)))

    // Restarts the thread each time it dies, logging why, until the vacuum closes.
    const supervising = Effect.forever(
      Effect.gen(function*() {
        const why = yield* Queue.take(died)
        if (closed && requests.size === 0) return
        reclaim()
        const unstored = batches.length - head
        yield* Effect.logError(
          `event-vacuum: the vacuum's thread stopped (${why}); starting another, which is handed the ${unstored} ` +
            `batch(es) of evaluations not yet stored`
        )
        yield* start.pipe(
          Effect.tapError((error) => Effect.logError(`event-vacuum: the vacuum's thread could not start again: ${error.message}`)),
          Effect.retry(restarting)
        )
        yield* Effect.logWarning("event-vacuum: the vacuum's thread runs again")
      })
    )
    yield* Effect.forkScoped(supervising)

    const flush: Effect.Effect<void> = Effect.suspend(() => {
      post()
      return Effect.asVoid(Effect.orDie(request<void>({ op: "flush", end: posted })))
    }).pipe(Effect.ensuring(Effect.sync(reclaim)))

    const drain = (timeout: Duration.DurationInput): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        post()
        const millis = Duration.toMillis(Duration.decode(timeout))
        return request<boolean>({ op: "drain", end: posted, millis }).pipe(
          Effect.orDie,
          Effect.timeoutTo({ duration: timeout, onTimeout: () => false, onSuccess: (done) => done })
        )
      })

    const snapshot: Effect.Effect<Snapshot> = Effect.map(Effect.orDie(request<Snapshot>({ op: "snapshot" })), (s) => {
      reclaim()
      const crossing = outstanding()
      return {
        ...s,
        evaluations: {
          received: counts.received,
          readOnly: counts.readOnly,
          notAllowed: s.evaluations.notAllowed,
          invalid: counts.invalid,
          noText: counts.noText,
          failed: counts.failed
        },
        discarded: { buffer_full: counts.bufferFull + s.discarded.buffer_full, store_failed: s.discarded.store_failed },
        queued: { events: s.queued.events, bytes: s.queued.bytes + crossing }
      }
    })

    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        closed = true
        post()
        // What the window held back crosses now, ahead of the close: the thread stores it all before closing.
        reclaim()
        sendBatches()
        // The thread's own close stores what is queued and bounds the wait for the sinks by `shutdownTimeout`;
        // this bound is for a thread that cannot answer at all.
        const bound = Duration.sum(settings.shutdownTimeout, Duration.seconds(40))
        const answered = yield* Effect.interruptible(request<void>({ op: "close" })).pipe(
          Effect.timeoutTo({ duration: bound, onTimeout: () => false, onSuccess: () => true }),
          Effect.catchAllCause(() => Effect.succeed(false))
        )
        reclaim()
        const unstored = batches.length - head
        if (!answered || unstored > 0) {
          yield* Effect.logError(
            `event-vacuum: the vacuum's thread ${answered ? "closed" : "did not close in time"}; ` +
              `${unstored} batch(es) of evaluations were not stored`
          )
        }
        const w = worker
        worker = undefined
        if (w !== undefined) yield* Effect.promise(() => w.terminate())
      })
    )

    const service = Vacuum.of({
      vacuum: (input) => Effect.sync(() => unsafeVacuum(input)),
      unsafeVacuum,
      unsafeQueueFull: () => outstanding() >= maxCrossing && (reclaim(), outstanding() >= maxCrossing),
      flush,
      drain,
      snapshot,
      replayDeadLetters: (options = {}) =>
        request<number>({ op: "replay", sink: options.sink, seqs: options.seqs }).pipe(
          Effect.catchAll((error) => (error instanceof DedupeStoreError ? Effect.fail(error) : Effect.die(error)))
        )
    })
    Object.defineProperty(service, crashThread, {
      value: () => worker?.postMessage({ t: "req", id: -1, req: { op: "exit", code: 70 } } satisfies ToWorker)
    })
    return service
  })

/**
 * A key on a threaded vacuum's service: a function that makes its thread exit
 * as a crash would. For tests of the restart; nothing else calls it.
 */
export const crashThread: unique symbol = Symbol.for("ao-event-vacuum/thread/crash")
