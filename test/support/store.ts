/**
 * The DedupeStore's test helpers: positions, hand-offs of a few events, a
 * claim of everything waiting, an in-memory store.
 */
import { Effect } from "effect"
import type { Handoff } from "../../src/DedupeStore.js"
import { DedupeStore } from "../../src/DedupeStore.js"
import * as Sqlite from "../../src/DedupeStore/Sqlite.js"
import type { Position } from "../../src/Position.js"

export const pos = (timestamp: number, ordinate: string, cron: string | null = null): Position => ({ timestamp, ordinate, cron })

/** `n` events of one evaluation of `processId` at `position`. */
export const handoff = (position: Position, n = 1, processId = "P1"): Handoff => ({
  processId,
  position,
  events: Array.from({ length: n }, (_, i) => ({
    id: `${processId}/${position.ordinate}/${position.cron ?? ""}/${i}`,
    time: position.timestamp,
    data: JSON.stringify({ processId, nonce: position.ordinate, i })
  }))
})

export const memory = Sqlite.layer({ filename: ":memory:" })

/** Everything waiting for the sink, claimed by `owner`. */
export const claimAll = (sink: string, owner = "w1") =>
  Effect.flatMap(DedupeStore, (s) => s.claim(sink, { owner, maxEvents: 1000, maxBytes: 1e9, leaseMillis: 10_000 }))
