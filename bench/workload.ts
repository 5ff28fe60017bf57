/**
 * Evaluations for the pipeline benches: the example's records, replicated
 * with every copy moved to new positions (a copy at the same positions would
 * only be deduplicated), and a vacuum on a SQLite file in a temp folder with
 * a sink that can be switched up and down.
 */
import { Context, Effect, Exit, Layer, Logger, LogLevel, Scope } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Sqlite from "../src/DedupeStore/Sqlite.js"
import type { Sink } from "../src/Transport.js"
import { allAccepted, Transport, TransportError } from "../src/Transport.js"
import * as Vacuum from "../src/Vacuum.js"
import { exampleRecords } from "./corpus.js"

/** Plain records as a CU hands them over, `copies` times the example, read-only ones left out. */
export const evaluations = (minEvaluations: number): Array<Record<string, unknown>> => {
  const base = (exampleRecords() as Array<Record<string, unknown>>).filter((r) => r.readOnly !== true)
  const out: Array<Record<string, unknown>> = []
  for (let copy = 0; out.length < minEvaluations; copy++) {
    for (const r of base) {
      out.push({ ...r, ordinate: String(Number(r.ordinate) + copy * 1000), timestamp: (r.timestamp as number) + copy * 1e7 })
    }
  }
  return out
}

/** A sink that accepts everything at once, or is down (503) while `down` is set. */
export class SwitchSink implements Sink {
  readonly name = "bench"
  down = false
  delivered = 0
  readonly send = (batch: ReadonlyArray<unknown>) =>
    Effect.suspend(() => {
      if (this.down) {
        return Effect.fail(new TransportError({ sink: this.name, reason: "Unavailable", description: "503 (bench: down)" }))
      }
      this.delivered += batch.length
      return Effect.succeed(allAccepted(batch.length))
    })
}

export interface Pipeline {
  readonly vacuum: Vacuum.Vacuum["Type"]
  readonly sink: SwitchSink
  readonly close: () => Promise<void>
}

/** A vacuum on a fresh SQLite file, as the CLI's defaults have it, with a {@link SwitchSink}. */
export const pipeline = async (options: Vacuum.Options = {}): Promise<Pipeline> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-"))
  const sink = new SwitchSink()
  const scope = Effect.runSync(Scope.make())
  const layer = Vacuum.layer({ retryMaxDelay: "200 millis", retryBaseDelay: "50 millis", ...options }).pipe(
    Layer.provide(Layer.merge(
      Sqlite.layer({ filename: path.join(dir, "state.db") }),
      Layer.succeed(Transport, Transport.of({ sinks: [sink] }))
    )),
    // The bench takes the sink down on purpose: its warnings would only break the tables.
    Layer.provide(Logger.minimumLogLevel(LogLevel.Error))
  )
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  return {
    vacuum: Context.get(context, Vacuum.Vacuum),
    sink,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Lets the event loop (and so the vacuum's fibers) run, as a CU does between evaluations. */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
