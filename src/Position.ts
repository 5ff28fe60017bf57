/**
 * Where an evaluation sits in its process's history, and the watermark: what
 * a sink has been handed of a process. A re-evaluation at or below the
 * watermark hands nothing off again. Pure functions; the DedupeStore keeps
 * the watermarks durably and moves them with the outbox rows.
 *
 * @since 0.2.0
 */

/**
 * Where an evaluation sits in its process's history. Order is (timestamp,
 * ordinate, cron): cron evaluations reuse the ordinate of the scheduled
 * message before them and differ by `cron`.
 *
 * @since 0.1.0
 */
export interface Position {
  readonly timestamp: number
  readonly ordinate: string
  readonly cron: string | null
}

/**
 * A sink's watermark for one process: the latest (timestamp, ordinate) handed
 * off, and every cron handed off at exactly that (timestamp, ordinate) (`""`
 * for the evaluation without a cron). An evaluation is already handed off
 * when it is earlier, or at the same (timestamp, ordinate) with a listed cron.
 * Keeping the crons as a set means their order among themselves never matters.
 *
 * @since 0.1.0
 */
export interface Watermark {
  readonly sink: string
  readonly processId: string
  readonly timestamp: number
  readonly ordinate: string
  readonly crons: ReadonlyArray<string>
  /** When it last moved, epoch ms. */
  readonly updatedAt: number
}

const DIGITS = /^[0-9]+$/

/**
 * Compares ordinates: numerically when both are digit strings (of any length),
 * else as text.
 *
 * @since 0.1.0
 */
export const compareOrdinates = (a: string, b: string): number => {
  if (a === b) return 0
  if (DIGITS.test(a) && DIGITS.test(b)) {
    const x = a.replace(/^0+(?=.)/, "")
    const y = b.replace(/^0+(?=.)/, "")
    if (x.length !== y.length) return x.length < y.length ? -1 : 1
    return x === y ? 0 : x < y ? -1 : 1
  }
  return a < b ? -1 : 1
}

/**
 * True when the watermark already covers the position.
 *
 * @since 0.1.0
 */
export const isHandedOff = (
  position: Position,
  watermark: Pick<Watermark, "timestamp" | "ordinate" | "crons">
): boolean => {
  const order = position.timestamp !== watermark.timestamp
    ? position.timestamp < watermark.timestamp ? -1 : 1
    : compareOrdinates(position.ordinate, watermark.ordinate)
  return order < 0 || (order === 0 && watermark.crons.includes(position.cron ?? ""))
}

/**
 * The watermark after handing off the position (which it must not cover).
 *
 * @since 0.1.0
 */
export const advance = <W extends Pick<Watermark, "timestamp" | "ordinate" | "crons">>(
  watermark: W | undefined,
  position: Position
): Pick<Watermark, "timestamp" | "ordinate" | "crons"> => {
  const cron = position.cron ?? ""
  if (
    watermark !== undefined && watermark.timestamp === position.timestamp &&
    compareOrdinates(watermark.ordinate, position.ordinate) === 0
  ) {
    return { timestamp: watermark.timestamp, ordinate: watermark.ordinate, crons: [...watermark.crons, cron] }
  }
  return { timestamp: position.timestamp, ordinate: position.ordinate, crons: [cron] }
}
