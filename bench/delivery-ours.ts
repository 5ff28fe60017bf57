/**
 * Delivery bench, our contender, run as a child process by bench/delivery.ts
 * so that its peak RSS is its own. Vacuums the feed's evaluation records as
 * a JavaScript CU would (the plain `unsafeVacuum` call that src/Adapter.ts
 * makes), through Vacuum.layer on a SQLite state file and the
 * Honeycomb sink with its defaults (gzip, 500 events a batch, 4 in flight),
 * then drains. Prints one `deliveryReport` JSON line.
 *
 * Usage: node --import tsx bench/delivery-ours.ts --url U --key K --events N --rate R --cap-ms C
 */
import { Layer, ManagedRuntime, Redacted } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Sqlite from "../src/DedupeStore/Sqlite.js"
import * as Honeycomb from "../src/Transport/Honeycomb.js"
import * as Vacuum from "../src/Vacuum.js"
import { childArgs, deliveryFeed, pace, report } from "./delivery-feed.js"

const args = childArgs(process.argv.slice(2))
const feed = deliveryFeed(args.events)
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-"))

// Vacuum defaults throughout: the bench measures what a user gets.
const layer = Vacuum.layer().pipe(
  Layer.provide(Layer.merge(
    Sqlite.layer({ filename: path.join(dir, "state.db") }),
    Honeycomb.layer({ apiKey: Redacted.make(args.key), dataset: "bench", apiHost: args.url })
  ))
)
const runtime = ManagedRuntime.make(layer)

try {
  const vacuum = await runtime.runPromise(Vacuum.Vacuum)
  const paced = await pace(feed, args.rate, (record) => {
    vacuum.unsafeVacuum(record)
  })
  const finished = await runtime.runPromise(vacuum.drain(args.capMillis))
  const doneAt = Date.now()
  // Closing waits (boundedly) for the sinks; drained or not, the numbers are taken above.
  await runtime.dispose()
  report({
    sent: feed.events,
    startRssMB: paced.startRssMB,
    firstSendAt: paced.firstAt,
    fedAt: paced.lastAt,
    doneAt,
    finished,
    maxRssKB: process.resourceUsage().maxRSS
  })
} finally {
  fs.rmSync(dir, { recursive: true, force: true })
}
