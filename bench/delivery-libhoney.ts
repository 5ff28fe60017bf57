/**
 * Delivery bench, the anchor: libhoney 4.3.1 (Honeycomb's SDK), run as a
 * child process by bench/delivery.ts so that its peak RSS is its own.
 *
 * It gets exactly the events ours sends: each record goes through our
 * decoder, Extractor and Enrich before the clock starts, and while it runs
 * every event's fields are parsed and sent with the event's time. So
 * libhoney is fed events at the full rate, as an application that has them
 * would feed it, while ours pays for the extraction as it is fed evaluation
 * records: the comparison leans toward libhoney, on purpose.
 *
 * libhoney runs with its defaults (batches of 50, 10 in flight, a
 * 10,000-event queue that drops on overflow, no compression, no retries):
 * the bench measures what a user gets. Prints one `deliveryReport` JSON line.
 *
 * Usage: node --import tsx bench/delivery-libhoney.ts --url U --key K --events N --rate R --cap-ms C
 */
import { Either } from "effect"
import { createRequire } from "node:module"
import { enrich, reservedKeys } from "../src/Enrich.js"
import { decodeSync, logText } from "../src/Evaluation.js"
import { defaultLimits, extract } from "../src/Extractor.js"
import type { OutboundEvent } from "../src/Enrich.js"
import { childArgs, deliveryFeed, pace, report } from "./delivery-feed.js"

/** The part of libhoney's API the bench uses (the package ships no types). */
interface LibhoneyEvent {
  add(data: Record<string, unknown>): LibhoneyEvent
  timestamp: Date | null
  send(): void
}
interface Libhoney {
  newEvent(): LibhoneyEvent
  flush(): Promise<void>
}
type LibhoneyClass = new(options: { writeKey: string; dataset: string; apiHost: string }) => Libhoney

const Libhoney = createRequire(import.meta.url)("libhoney") as LibhoneyClass

const args = childArgs(process.argv.slice(2))
const feed = deliveryFeed(args.events)
const hny = new Libhoney({ writeKey: args.key, dataset: "bench", apiHost: args.url })

/** Each record's enriched events, made before the clock starts; released once sent. */
const prepared: Array<ReadonlyArray<OutboundEvent> | undefined> = feed.records.map((record) => {
  const decoded = decodeSync(record)
  if (Either.isLeft(decoded) || decoded.right.readOnly) return undefined
  const evaluation = decoded.right
  const text = logText(evaluation.output)
  if (text._tag !== "Text") return undefined
  const extraction = extract(text.text, defaultLimits, reservedKeys)
  return extraction.events.length === 0 ? undefined : enrich(evaluation, extraction.events, text.failed)
})

const take = (_record: unknown, index: number): void => {
  const events = prepared[index]
  if (events === undefined) return
  prepared[index] = undefined
  for (const event of events) {
    const ev = hny.newEvent().add(JSON.parse(event.data) as Record<string, unknown>)
    ev.timestamp = new Date(event.time)
    ev.send()
  }
}

const paced = await pace(feed, args.rate, take)
const finished = await Promise.race([
  hny.flush().then(() => true),
  new Promise<boolean>((resolve) => setTimeout(() => resolve(false), args.capMillis))
])
report({
  sent: feed.events,
  startRssMB: paced.startRssMB,
  firstSendAt: paced.firstAt,
  fedAt: paced.lastAt,
  doneAt: Date.now(),
  finished,
  maxRssKB: process.resourceUsage().maxRSS
})
