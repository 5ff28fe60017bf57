/**
 * Reading an event's own `sampleRate` field: 1 in how many events like it
 * the event stands for, when the process sampled itself.
 *
 * @internal
 */

const isDigits = (s: string): boolean => {
  if (s.length === 0) return false
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return false
  }
  return true
}

/**
 * The sample rate in a field's value, or null when it is not one: a whole
 * number from 1 to `Number.MAX_SAFE_INTEGER`, given as a JSON number (`10`;
 * `1e3` and `10.0` too, since they are whole: `JSON.parse` cannot tell them
 * from `1000` and `10`) or as a string of ASCII digits only (`"10"`). Zero,
 * negatives, fractions, and strings with a sign, a point, an exponent or
 * spaces are not.
 */
export const toSampleRate = (value: unknown): number | null => {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 1 ? value : null
  if (typeof value !== "string" || !isDigits(value)) return null
  const n = Number(value)
  return Number.isSafeInteger(n) && n >= 1 ? n : null
}
