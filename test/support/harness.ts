/**
 * Test sinks with faults on demand, and a vacuum started in a scope the test
 * can close (to restart on the same store).
 */
import { Context, Effect, Exit, Fiber, Layer, Logger, Option, Scope, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DedupeStore } from "../../src/DedupeStore.js"
import type { OutboundEvent } from "../../src/Enrich.js"
import type { EventStatus, Sink } from "../../src/Transport.js"
import { allAccepted, Transport, TransportError } from "../../src/Transport.js"
import * as Vacuum from "../../src/Vacuum.js"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"

export type Behaviour = (batch: ReadonlyArray<OutboundEvent>, call: number) => Effect.Effect<ReadonlyArray<EventStatus>, TransportError>

/** A sink that records every batch it accepted, and behaves as told (default: accept all). */
export class RecordingSink implements Sink {
  readonly batches: Array<ReadonlyArray<OutboundEvent>> = []
  calls = 0
  behaviour: Behaviour = (batch) => Effect.succeed(allAccepted(batch.length))

  constructor(readonly name: string, readonly selection?: Sink["selection"]) {}

  readonly send = (batch: ReadonlyArray<OutboundEvent>) =>
    Effect.suspend(() => this.behaviour(batch, ++this.calls)).pipe(
      Effect.tap((statuses) =>
        Effect.sync(() => {
          const kept = batch.filter((_, i) => statuses[i]?._tag === "Accepted")
          if (kept.length > 0) this.batches.push(kept)
        })
      )
    )

  /** Every event it accepted, in order. */
  get events(): Array<OutboundEvent> {
    return this.batches.flat()
  }

  get ids(): Array<string> {
    return this.events.map((e) => e.id)
  }

  fields(): Array<Record<string, unknown>> {
    return this.events.map((e) => JSON.parse(e.data) as Record<string, unknown>)
  }
}

export const down = (sink: string): Behaviour => () =>
  Effect.fail(new TransportError({ sink, reason: "Unavailable", description: "503 Service Unavailable" }))

export interface Running {
  readonly vacuum: Vacuum.Vacuum["Type"]
  readonly store: DedupeStore["Type"]
  /** Closes the layer, moving the TestClock so its bounded shutdown can end. */
  readonly close: Effect.Effect<void>
}

/** Starts the vacuum on the store and sinks; the caller closes it (or the test's scope does). */
export const start = (
  store: Layer.Layer<DedupeStore, any>,
  sinks: ReadonlyArray<Sink>,
  options: Vacuum.Options = {}
): Effect.Effect<Running, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Scope.make()
    const layer = Vacuum.layer(options).pipe(
      Layer.provideMerge(Layer.merge(store, Layer.succeed(Transport, Transport.of({ sinks }))))
    )
    const context = yield* Layer.buildWithScope(layer, scope)
    let closed = false
    const close = Effect.suspend(() => {
      if (closed) return Effect.void
      closed = true
      return Effect.gen(function*() {
        // On the real clock (a live test), the close's own wait runs as it would in production.
        const testing = "adjust" in (yield* Effect.clock)
        if (!testing) return yield* Scope.close(scope, Exit.void)
        const fiber = yield* Effect.fork(Scope.close(scope, Exit.void))
        // Step time until the close (with its bounded wait for the sinks) is over.
        while (Option.isNone(yield* Fiber.poll(fiber))) yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
      })
    })
    yield* Effect.addFinalizer(() => close)
    return { vacuum: Context.get(context, Vacuum.Vacuum), store: Context.get(context, DedupeStore), close }
  })

/** The example's evaluation records, as parsed JSON. */
export const exampleRecords = (): Array<Record<string, unknown>> =>
  fs.readFileSync(new URL("../../examples/aos-token-evaluations.ndjson", import.meta.url), "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as Record<string, unknown>)

/** A minimal evaluation record whose log holds the given lines. */
export const record = (fields: {
  readonly processId?: string
  readonly ordinate: string | number
  readonly cron?: string | null
  readonly timestamp: number
  readonly lines: ReadonlyArray<string>
  readonly error?: boolean
  readonly readOnly?: boolean
}): Record<string, unknown> => {
  const text = fields.lines.join("\n")
  return {
    processId: fields.processId ?? "PROC_A",
    messageId: `M${fields.ordinate}${fields.cron ?? ""}`,
    ordinate: String(fields.ordinate),
    cron: fields.cron ?? null,
    timestamp: fields.timestamp,
    blockHeight: 1,
    readOnly: fields.readOnly ?? false,
    output: fields.error
      ? { Output: null, Error: text, GasUsed: 5, memorySize: null }
      : { Output: { data: text, prompt: "aos> " }, Error: null, GasUsed: 5, memorySize: 1024 }
  }
}

/** A store in memory, for as long as its layer. */
export const memory = () => Sqlite.layer({ filename: ":memory:" })

/** A state file in a folder of its own. */
export const tempDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-")), "state.db")

/** One event line, as a process prints it. */
export const event = (fields: Record<string, unknown>) => JSON.stringify({ _e: 1, ...fields })

/** An event as the sinks get it, for a sink's own tests. */
export const outbound = (id: string, time: number, fields: Record<string, unknown>): OutboundEvent => ({
  id,
  time,
  data: JSON.stringify(fields)
})

/** Lets the writer store what is queued, moves time past the batch timer, and waits for delivery. */
export const settle = (v: { vacuum: { flush: Effect.Effect<void>; drain: (t: number) => Effect.Effect<boolean> } }) =>
  Effect.gen(function*() {
    yield* v.vacuum.flush
    yield* TestClock.adjust("1 second")
    return yield* v.vacuum.drain(60_000)
  })

/** A logger that keeps every message's text, and the layer that installs it. */
export const captureLogs = () => {
  const logged: Array<string> = []
  const layer = Logger.replace(Logger.defaultLogger, Logger.make(({ message }) => {
    logged.push(String(Array.isArray(message) ? message.join(" ") : message))
  }))
  return { logged, layer }
}
