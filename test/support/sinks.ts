/**
 * Fixtures for the sinks' own tests: two outbound events as the vacuum makes
 * them (a plain one; a cron evaluation's that failed; one that stands for 8),
 * and checks of the `{time, data}` line the console and file sinks write.
 */
import { assert } from "@effect/vitest"
import type { OutboundEvent } from "../../src/Enrich.js"
import { outbound } from "./harness.js"

/** An event of a plain evaluation. */
export const plain = outbound("e1", Date.UTC(2024, 8, 22, 10, 0, 0, 123), {
  processId: "PROC_A",
  nonce: 7,
  messageId: "MSG_7",
  timestamp: 1727000000000,
  gasUsed: 5,
  memorySize: 1024,
  failed: false,
  eventId: "e1",
  Action: "Transfer",
  Quantity: "1000000",
  nested: { a: [1, 2] }
})

/** An event of a cron evaluation that failed. */
export const cronFailed = outbound("e2", Date.UTC(2024, 8, 22, 10, 0, 1, 0), {
  processId: "PROC_B",
  nonce: 12,
  cron: "0-10-minutes",
  messageId: "MSG_12",
  timestamp: 1727000001000,
  gasUsed: 9,
  failed: true,
  eventId: "e2",
  Action: "Tick",
  ok: true
})

/** An event kept as 1 in 8 of its kind. */
export const sampled: OutboundEvent = {
  ...outbound("e3", Date.UTC(2024, 8, 22, 10, 0, 2, 0), {
    processId: "PROC_C",
    nonce: 3,
    timestamp: 1727000002000,
    failed: false,
    eventId: "e3",
    Action: "Sampled"
  }),
  sampleRate: 8
}

/** An event whose sample rate is said to be 1: the same as none. */
export const rateOne: OutboundEvent = { ...plain, sampleRate: 1 }

/** A `{time, data}` line, parsed. */
export const parseLine = (line: string) =>
  JSON.parse(line) as { time: string; samplerate?: number; data: Record<string, unknown> }

/** The line is `{time, data}` for the event, nothing else; `{time, samplerate, data}` when its sample rate is over 1. */
export const assertJsonLine = (line: string, e: OutboundEvent) => {
  const parsed = parseLine(line)
  if ((e.sampleRate ?? 1) > 1) {
    assert.deepStrictEqual(Object.keys(parsed), ["time", "samplerate", "data"])
    assert.strictEqual(parsed.samplerate, e.sampleRate)
  } else {
    assert.deepStrictEqual(Object.keys(parsed), ["time", "data"])
  }
  assert.strictEqual(parsed.time, new Date(e.time).toISOString())
  assert.strictEqual(Date.parse(parsed.time), e.time)
  assert.deepStrictEqual(parsed.data, JSON.parse(e.data))
}

/** `n` statuses, all Accepted. */
export const assertAllAccepted = (statuses: ReadonlyArray<{ readonly _tag: string }>, n: number) => {
  assert.strictEqual(statuses.length, n)
  for (const s of statuses) assert.strictEqual(s._tag, "Accepted")
}
