/**
 * What both delivery contenders are fed, and how: the same evaluation records,
 * at the same target rate of events per second. Shared by the child scripts
 * (bench/delivery-ours.ts, bench/delivery-libhoney.ts) so that neither gets
 * an easier stream than the other.
 */
import { Either } from "effect"
import { reservedKeys } from "../src/Enrich.js"
import { decodeSync, logText } from "../src/Evaluation.js"
import { defaultLimits, extract } from "../src/Extractor.js"
import { exampleRecords } from "./corpus.js"

/** Events in a non-read-only evaluation record (read-only ones are skipped, as the vacuum does). */
const eventsIn = (record: unknown): number => {
  const evaluation = decodeSync(record)
  if (Either.isLeft(evaluation)) throw evaluation.left
  if (evaluation.right.readOnly) return 0
  const text = logText(evaluation.right.output)
  return text._tag === "Text" ? extract(text.text, defaultLimits, reservedKeys).events.length : 0
}

export interface Feed {
  /** Evaluation records in the order a CU would hand them over. */
  readonly records: ReadonlyArray<unknown>
  /** Events each record holds (0 for read-only ones), to pace the feed by events. */
  readonly counts: ReadonlyArray<number>
  /** Events in all the records. */
  readonly events: number
}

/**
 * The example's records, copied until they hold `events` events (the last
 * copy stops as soon as the count is reached). Each copy moves every record
 * to a new position (ordinate + copy*1000, timestamp + copy*1e7 ms, both
 * beyond the example's span): a position at or below a process's watermark
 * would be deduplicated, and the copy would measure nothing.
 */
export const deliveryFeed = (events: number): Feed => {
  const base = exampleRecords() as Array<Record<string, unknown>>
  const baseCounts = base.map(eventsIn)
  if (baseCounts.every((n) => n === 0)) throw new Error("the example file has no events")
  const records: Array<unknown> = []
  const counts: Array<number> = []
  let total = 0
  for (let copy = 0; total < events; copy++) {
    for (let i = 0; i < base.length && total < events; i++) {
      const record = base[i]!
      // Shallow copies: the log texts are shared, so the feed itself costs little memory.
      records.push({
        ...record,
        ordinate: String(Number(record.ordinate) + copy * 1000),
        timestamp: (record.timestamp as number) + copy * 1e7
      })
      counts.push(baseCounts[i]!)
      total += baseCounts[i]!
    }
  }
  return { records, counts, events: total }
}

export interface Paced {
  /** RSS just before the first record, everything loaded and prepared: MB. */
  readonly startRssMB: number
  /** Epoch ms of the first record handed over. */
  readonly firstAt: number
  /** Epoch ms when the last record was handed over. */
  readonly lastAt: number
}

/**
 * Hands the records to `take` at `rate` events per second, in slices about a
 * millisecond apart. The timers between slices let the contender's own I/O
 * run, as a CU's event loop would; a contender whose `take` is slower than
 * the rate simply falls behind, which `lastAt` shows. One slice catches up
 * at most 10 ms of lag, so a slow `take` cannot starve the contender's I/O.
 */
export const pace = (feed: Feed, rate: number, take: (record: unknown, index: number) => void): Promise<Paced> =>
  new Promise((resolve, reject) => {
    const { records, counts } = feed
    const maxSlice = Math.max(1, Math.round(rate / 100))
    const startRssMB = process.memoryUsage().rss / 1024 / 1024
    const firstAt = Date.now()
    let next = 0
    let fed = 0
    const tick = () => {
      try {
        const due = Math.min(rate * ((Date.now() - firstAt) / 1000), fed + maxSlice)
        // At least one record per slice, so the first slice starts at once.
        do {
          take(records[next]!, next)
          fed += counts[next]!
          next++
        } while (next < records.length && fed < due)
      } catch (error) {
        return reject(error)
      }
      if (next < records.length) setTimeout(tick, 1)
      else resolve({ startRssMB, firstAt, lastAt: Date.now() })
    }
    tick()
  })

/** The child's report, one JSON line on stdout tagged `deliveryReport`. */
export interface ChildReport {
  /** Events handed to the contender. */
  readonly sent: number
  /** RSS just before the first record, everything loaded and prepared: MB. */
  readonly startRssMB: number
  readonly firstSendAt: number
  readonly fedAt: number
  /** When the contender said it was done, or gave up at the cap. */
  readonly doneAt: number
  /** Whether it said it was done before the cap. */
  readonly finished: boolean
  /** `process.resourceUsage().maxRSS`: kilobytes. */
  readonly maxRssKB: number
}

/** Prints the report and exits once stdout has taken it (a pipe is written asynchronously). */
export const report = (r: ChildReport): void => {
  process.stdout.write(JSON.stringify({ deliveryReport: r }) + "\n", () => process.exit(0))
}

/** The child's command line: `--url U --key K --events N --rate R --cap-ms C`. */
export const childArgs = (argv: ReadonlyArray<string>) => {
  const get = (name: string): string => {
    const at = argv.indexOf(`--${name}`)
    const value = at === -1 ? undefined : argv[at + 1]
    if (value === undefined) throw new Error(`missing --${name}`)
    return value
  }
  return {
    url: get("url"),
    key: get("key"),
    events: Number(get("events")),
    rate: Number(get("rate")),
    capMillis: Number(get("cap-ms"))
  }
}
