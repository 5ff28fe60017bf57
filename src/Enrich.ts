/**
 * An extracted event plus its evaluation's context: the record a sink
 * receives. The context comes from the evaluation, never from the log, and
 * an event's own fields that carry a context name are renamed (`processId`
 * → `event.processId`), so no process can pass its events off as another's.
 *
 * @since 0.1.0
 */
import { createHash } from "node:crypto"
import type { Evaluation } from "./Evaluation.js"
import type { ExtractedEvent, ReservedKeys } from "./Extractor.js"
import { reserveKeys } from "./Extractor.js"

/**
 * One event on its way out, as the outbox holds it.
 *
 * @since 0.1.0
 */
export interface OutboundEvent {
  /** Stable id from the process, the evaluation's position and the line: the same event always has the same id. */
  readonly id: string
  /** Event time, epoch milliseconds. */
  readonly time: number
  /** The fields, context included, as the text of a JSON object. */
  readonly data: string
  /**
   * 1 in how many events like it this one stands for (Honeycomb's
   * `samplerate`), for a count that stays right when only some are kept;
   * absent means 1.
   */
  readonly sampleRate?: number | undefined
}

/**
 * The fields the vacuum adds to every event, in output order:
 * `processId`, `nonce` (the ordinate), `messageId`, `cron`, `timestamp` (the
 * evaluation's, epoch ms), `gasUsed`, `memorySize`, `failed` (true when the
 * evaluation failed and the event came from its `Error` text) and `eventId`.
 * Null values are left out.
 *
 * @since 0.1.0
 */
export const contextKeys = [
  "processId",
  "nonce",
  "messageId",
  "cron",
  "timestamp",
  "gasUsed",
  "memorySize",
  "failed",
  "eventId"
] as const

/**
 * The context names, reserved in the extractor so that an event's own
 * fields of those names become `event.<name>`.
 *
 * @since 0.1.0
 */
export const reservedKeys: ReservedKeys = reserveKeys(contextKeys)

const DIGITS = /^[0-9]+$/

/**
 * The stable id of an event: from the process, the evaluation's position and
 * the event's line, so that re-sending it (after a crash) sends the same id
 * and a consumer can drop the copy. 128 bits of SHA-256, base64url.
 *
 * @since 0.1.0
 */
export const eventId = (evaluation: Evaluation, line: number): string =>
  createHash("sha256")
    .update(`${evaluation.processId}\n${evaluation.timestamp}\n${evaluation.ordinate}\n${evaluation.cron ?? ""}\n${line}`)
    .digest("base64url")
    .slice(0, 22)

/**
 * The context fields as the start of a JSON object, up to the `eventId`
 * value: `{"processId":"…",…,"eventId":"`. Built once per evaluation.
 *
 * @since 0.1.0
 */
export const contextPrefix = (evaluation: Evaluation, failed: boolean): string => {
  const { output } = evaluation
  let json = `{"processId":${JSON.stringify(evaluation.processId)}`
  // Ordinates are nonces: numbers, written with their exact digits.
  json += `,"nonce":${DIGITS.test(evaluation.ordinate) ? evaluation.ordinate.replace(/^0+(?=.)/, "") : JSON.stringify(evaluation.ordinate)}`
  if (evaluation.messageId !== null) json += `,"messageId":${JSON.stringify(evaluation.messageId)}`
  if (evaluation.cron !== null) json += `,"cron":${JSON.stringify(evaluation.cron)}`
  json += `,"timestamp":${evaluation.timestamp}`
  if (output.GasUsed !== null) json += `,"gasUsed":${output.GasUsed}`
  if (output.memorySize !== null) json += `,"memorySize":${output.memorySize}`
  return json + `,"failed":${failed},"eventId":"`
}

/**
 * The outbound records of one evaluation's events. The event time is the
 * event's own (`timestamp`/`Timestamp`) or else the evaluation's; the sample
 * rate is the event's own `sampleRate`, set only when it is more than 1.
 *
 * @since 0.1.0
 */
export const enrich = (
  evaluation: Evaluation,
  events: ReadonlyArray<ExtractedEvent>,
  failed: boolean
): Array<OutboundEvent> => {
  const prefix = contextPrefix(evaluation, failed)
  const out = new Array<OutboundEvent>(events.length)
  for (let i = 0; i < events.length; i++) {
    const event = events[i]!
    const id = eventId(evaluation, event.index)
    const fields = event.json.length > 2 ? "," + event.json.slice(1) : "}"
    const time = event.time ?? evaluation.timestamp
    const data = prefix + id + "\"" + fields
    const rate = event.sampleRate
    out[i] = rate !== null && rate > 1 ? { id, time, data, sampleRate: rate } : { id, time, data }
  }
  return out
}
