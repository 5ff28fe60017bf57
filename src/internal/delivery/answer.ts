/**
 * What a sink's answer to a batch means for each of its events: acknowledged,
 * refused for good, or to be sent again (until the attempt limit, after which
 * it is refused too, unless the retry is transient: a throttled event is
 * never given up). Pure: the batch's sender acts on it.
 *
 * @internal
 */
import type { OutboxEntry } from "../../DedupeStore.js"
import type { EventStatus } from "../../Transport.js"

export interface Answer {
  readonly acknowledged: Array<number>
  readonly refused: Array<{ readonly seq: number; readonly reason: string }>
  /** To be sent again, in order. */
  readonly again: Array<OutboxEntry>
  /** Why the last of `again` is to be sent again. */
  readonly retryReason: string
}

/**
 * Reads one status per entry, in order; a missing status means "again".
 * `attempts` holds each entry's failed attempts so far and is updated.
 */
export const classify = (
  entries: ReadonlyArray<OutboxEntry>,
  statuses: ReadonlyArray<EventStatus>,
  attempts: Map<number, number>,
  maxEventAttempts: number
): Answer => {
  const answer: Answer = { acknowledged: [], refused: [], again: [], retryReason: "" }
  let retryReason = ""
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!
    const status = statuses[i]
    if (status === undefined) {
      answer.again.push(entry)
      retryReason = `the sink answered ${statuses.length} statuses for ${entries.length} events`
    } else if (status._tag === "Accepted") {
      answer.acknowledged.push(entry.seq)
    } else if (status._tag === "Refused") {
      answer.refused.push({ seq: entry.seq, reason: status.reason })
    } else if (status.transient === true) {
      // Throttled: sent again under the schedule for as long as it takes, never given up.
      answer.again.push(entry)
      retryReason = status.reason
    } else {
      const n = (attempts.get(entry.seq) ?? entry.attempts) + 1
      attempts.set(entry.seq, n)
      if (n >= maxEventAttempts) {
        answer.refused.push({ seq: entry.seq, reason: `gave up after ${n} attempts: ${status.reason}` })
      } else {
        answer.again.push(entry)
        retryReason = status.reason
      }
    }
  }
  return { ...answer, retryReason }
}
