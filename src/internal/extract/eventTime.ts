/**
 * Reading an event's own `timestamp` / `Timestamp` field as a point in time.
 *
 * @internal
 */

/** 9999-12-31T23:59:59.999Z: the last instant RFC 3339 can write. */
const MAX_TIME_MS = 253_402_300_799_999

/** 2000-01-01T00:00:00Z: anything earlier is a counter or a placeholder, not when an ao event happened. */
const MIN_TIME_MS = 946_684_800_000

const plausible = (ms: number): number | null => (ms >= MIN_TIME_MS && ms <= MAX_TIME_MS ? ms : null)

const NUMERIC = /^\s*-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\s*$/
const ISO_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?([Zz]|[+-]\d{2}:?\d{2})?)?$/

/**
 * Interprets an epoch number by its magnitude: seconds below 1e11 (before
 * year 5138), milliseconds below 1e14, microseconds below 1e17, else
 * nanoseconds. Each unit's range starts where the previous one's reaches 1973,
 * so every plausible modern time lands in exactly one.
 */
const fromEpoch = (n: number): number | null => {
  if (!Number.isFinite(n) || n < 0) return null
  const ms = n < 1e11 ? n * 1e3 : n < 1e14 ? n : n < 1e17 ? n / 1e3 : n / 1e6
  return plausible(Math.round(ms))
}

/**
 * The event time in epoch milliseconds, or null when the value cannot be read
 * as a time from 2000 to 9999: an epoch number (seconds, ms, µs or ns), a
 * numeric string, or an ISO 8601 / RFC 3339 string (UTC when it has no offset).
 */
export const toEventTime = (value: unknown): number | null => {
  if (typeof value === "number") return fromEpoch(value)
  if (typeof value !== "string" || value.length > 64) return null
  if (NUMERIC.test(value)) return fromEpoch(Number(value))
  const iso = ISO_DATE_TIME.exec(value)
  if (iso === null) return null
  const hasTime = value.length > 10
  const ms = Date.parse(hasTime && iso[1] === undefined ? value + "Z" : value)
  return Number.isFinite(ms) ? plausible(ms) : null
}
