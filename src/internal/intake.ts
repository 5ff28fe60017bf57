/**
 * The intake: the CU's call as plain code. It decodes the record, extracts
 * its events, adds the evaluation's context and queues them for the writer,
 * counting everything it sees; it never waits and never throws. The rare
 * warning goes to the caller, to be logged as each kind of call can.
 *
 * @internal
 */
import { Either, MetricLabel } from "effect"
import { enrich, reservedKeys } from "../Enrich.js"
import { decodeSync, Evaluation, logText } from "../Evaluation.js"
import type { LineCounts, LineOutcome, Limits } from "../Extractor.js"
import { emptyCounts, extract, rejectedOutcomes } from "../Extractor.js"
import * as Metrics from "../Metrics.js"
import type { VacuumSummary } from "../Vacuum.js"
import type { Queued } from "./queue.js"
import type { Warnings } from "./warnings.js"

/** What the intake has seen since it started. */
export interface IntakeCounts {
  readonly received: number
  readonly readOnly: number
  readonly notAllowed: number
  readonly invalid: number
  readonly noText: number
  readonly failed: number
  readonly found: number
  readonly repaired: number
  readonly bufferFull: number
  readonly lines: LineCounts
}

/** Where the intake puts an evaluation's events: the queue to the store, or (`extract`) the output. */
export interface Inbox {
  /** Takes the evaluation's events, or answers false when it cannot (over its bound). */
  readonly offer: (item: Queued) => boolean
}

export interface Intake {
  /** Takes one evaluation record; a warning to log, if any, goes to `warn`. */
  readonly take: (input: unknown, warn: (message: string) => void) => VacuumSummary
  /** Takes an evaluation already read, counted and skipped where it must be, with its log text (the vacuum's thread). */
  readonly takeText: (evaluation: Evaluation, text: string, failed: boolean, warn: (message: string) => void) => VacuumSummary
  readonly counts: () => IntakeCounts
  /** From now on every call answers `closed`. */
  readonly close: () => void
}

const CLOSED: VacuumSummary = { outcome: "closed", events: 0, rejectedLines: 0 }
const READ_ONLY: VacuumSummary = { outcome: "read_only", events: 0, rejectedLines: 0 }
const NOT_ALLOWED: VacuumSummary = { outcome: "not_allowed", events: 0, rejectedLines: 0 }

const lineOutcomeKeys: ReadonlyArray<LineOutcome> = Object.keys(emptyCounts()) as Array<LineOutcome>
const rejectedSet = new Set<LineOutcome>(rejectedOutcomes)
const labels = new Map<string, MetricLabel.MetricLabel>()
/** `reason` labels, made once each: the hot path updates counters without allocating. */
export const reason = (name: string): MetricLabel.MetricLabel => {
  let label = labels.get(name)
  if (label === undefined) labels.set(name, label = MetricLabel.make("reason", name))
  return label
}

/** What a left-out evaluation weighs in the queue: the writer counts it per process. */
const SKIPPED_BYTES = 64

export const make = (
  config: {
    readonly skipReadOnly: boolean
    readonly limits: Limits
    /** The vacuum's lists: whether it takes the process (all, unless given). */
    readonly allowed?: ((processId: string) => boolean) | undefined
  },
  queue: Inbox,
  warnings: Warnings
): Intake => {
  let closed = false
  const counts = { received: 0, readOnly: 0, notAllowed: 0, invalid: 0, noText: 0, failed: 0, found: 0, repaired: 0, bufferFull: 0 }
  const lines = emptyCounts()

  const skipped = (outcome: "read_only" | "invalid_record" | "no_text" | "not_allowed") => Metrics.rejected.unsafeUpdate(1, [reason(outcome)])

  /**
   * A record whose reading throws (a getter, a Proxy) is an invalid record: the call never
   * throws into the CU, and the record is counted and reported like any other that is bad.
   */
  const take = (input: unknown, warn: (message: string) => void): VacuumSummary => {
    if (closed) return CLOSED
    counts.received++
    Metrics.receivedEvaluations.unsafeUpdate(1, [])
    try {
      return takeRecord(input, warn)
    } catch (error) {
      return invalid(`the record could not be read: ${error instanceof Error ? error.message : String(error)}`, warn)
    }
  }

  const invalid = (why: string, warn: (message: string) => void): VacuumSummary => {
    counts.invalid++
    skipped("invalid_record")
    const message = warnings.admit("invalid_record", `event-vacuum: skipped an evaluation record that does not decode: ${why}`)
    if (message !== undefined) warn(message)
    return { outcome: "invalid_record", events: 0, rejectedLines: 0, reason: why }
  }

  const takeRecord = (input: unknown, warn: (message: string) => void): VacuumSummary => {
    let evaluation: Evaluation
    if (input instanceof Evaluation) {
      evaluation = input
    } else {
      const decoded = decodeSync(input)
      if (Either.isLeft(decoded)) return invalid(decoded.left.message, warn)
      evaluation = decoded.right
    }
    if (evaluation.readOnly && config.skipReadOnly) {
      counts.readOnly++
      skipped("read_only")
      return READ_ONLY
    }
    if (!allows(evaluation)) return NOT_ALLOWED
    const text = logText(evaluation.output)
    if (text.failed) counts.failed++
    if (text._tag === "NoText") {
      counts.noText++
      skipped("no_text")
      return { outcome: "no_text", events: 0, rejectedLines: 0, reason: text.reason }
    }
    return takeLog(evaluation, text.text, text.failed, warn)
  }

  /** Whether the vacuum's lists take the evaluation's process; one they leave out is counted. */
  const allows = (evaluation: Evaluation): boolean => {
    if (config.allowed === undefined || config.allowed(evaluation.processId)) return true
    counts.notAllowed++
    skipped("not_allowed")
    // Counted per process by the writer too, for status; dropped, not waited for, when the queue is full.
    const position = { timestamp: evaluation.timestamp, ordinate: evaluation.ordinate, cron: evaluation.cron }
    queue.offer({ processId: evaluation.processId, position, events: [], bytes: SKIPPED_BYTES, skipped: "not_allowed" })
    return false
  }

  /** The evaluation's log text: its events extracted, enriched and queued. */
  const takeLog = (evaluation: Evaluation, text: string, failed: boolean, warn: (message: string) => void): VacuumSummary => {
    const extraction = extract(text, config.limits, reservedKeys)
    let rejectedLines = 0
    for (const outcome of lineOutcomeKeys) {
      const n = extraction.counts[outcome]
      if (n === 0) continue
      lines[outcome] += n
      if (rejectedSet.has(outcome)) {
        rejectedLines += n
        Metrics.rejected.unsafeUpdate(n, [reason(outcome)])
      }
    }
    const found = extraction.events.length
    if (found === 0) return { outcome: "no_events", events: 0, rejectedLines }
    counts.found += found
    counts.repaired += extraction.counts.repaired
    Metrics.receivedEvents.unsafeUpdate(found, [])

    const events = enrich(evaluation, extraction.events, failed)
    let bytes = 0
    for (const e of events) bytes += e.data.length
    const position = { timestamp: evaluation.timestamp, ordinate: evaluation.ordinate, cron: evaluation.cron }
    if (!queue.offer({ processId: evaluation.processId, position, events, bytes })) {
      counts.bufferFull += found
      Metrics.discardedEvents.unsafeUpdate(found, [reason("buffer_full")])
      const message = warnings.admit(
        "buffer_full",
        `event-vacuum: the queue to the store is full (maxQueuedBytes); dropped ${found} event(s) of ` +
          `${evaluation.processId} nonce ${evaluation.ordinate} (a re-evaluation would hand them off)`
      )
      if (message !== undefined) warn(message)
      return { outcome: "buffer_full", events: found, rejectedLines }
    }
    return { outcome: "queued", events: found, rejectedLines }
  }

  /**
   * An evaluation whose record was read elsewhere (the caller's thread, which
   * counted it, skipped it if read-only and found its log text): the lists,
   * then its events. Never throws.
   */
  const takeText = (evaluation: Evaluation, text: string, failed: boolean, warn: (message: string) => void): VacuumSummary => {
    if (closed) return CLOSED
    try {
      return allows(evaluation) ? takeLog(evaluation, text, failed, warn) : NOT_ALLOWED
    } catch (error) {
      warn(`event-vacuum: could not take an evaluation of ${evaluation.processId}: ${error instanceof Error ? error.message : String(error)}`)
      return { outcome: "invalid_record", events: 0, rejectedLines: 0 }
    }
  }

  return {
    take,
    takeText,
    counts: () => ({ ...counts, lines: { ...lines } }),
    close: () => {
      closed = true
    }
  }
}
