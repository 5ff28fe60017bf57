/**
 * The CLI-throughput bench's anchor (bench/throughput.ts): a plain libhoney
 * 4.3.1 sender over an NDJSON file of evaluation records, as an operator
 * would write one. Plain node, as the CLI runs: its start is timed too.
 *
 * Each record is parsed; read-only ones are skipped; its log text (`Error`
 * when the evaluation failed, else `Output.data` or `Output`) is split into
 * lines and every line that parses as JSON with `_e: 1` is sent with the
 * evaluation's context and an `eventId` (process, position, line) so the
 * receiver can count distinct events. libhoney keeps its defaults (batches
 * of 50, 10 in flight, a 10,000-event queue that drops on overflow, no
 * retries). Exits after `flush()`.
 *
 * Usage: node bench/throughput-libhoney.mjs FILE URL KEY
 */
import * as fs from "node:fs"
import { createRequire } from "node:module"

const [file, apiHost, writeKey] = process.argv.slice(2)
const Libhoney = createRequire(import.meta.url)("libhoney")
const hny = new Libhoney({ writeKey, dataset: "bench", apiHost })

const logOf = (output) => {
  if (output.Error !== null && output.Error !== undefined) return typeof output.Error === "string" ? output.Error : JSON.stringify(output.Error)
  if (typeof output.Output === "string") return output.Output
  return output.Output?.data ?? ""
}

let sent = 0
for (const line of fs.readFileSync(file, "utf8").split("\n")) {
  if (line === "") continue
  const record = JSON.parse(line)
  if (record.readOnly) continue
  const log = logOf(record.output)
  const lines = log.split("\n")
  for (let i = 0; i < lines.length; i++) {
    let event
    try {
      event = JSON.parse(lines[i])
    } catch {
      continue
    }
    if (event === null || typeof event !== "object" || event._e !== 1) continue
    delete event._e
    const ev = hny.newEvent().add({
      ...event,
      processId: record.processId,
      nonce: record.ordinate,
      messageId: record.messageId,
      cron: record.cron,
      eventId: `${record.processId}/${record.timestamp}/${record.ordinate}/${record.cron ?? ""}/${i}`
    })
    ev.timestamp = new Date(record.timestamp)
    ev.send()
    sent++
  }
}
await hny.flush()
process.stdout.write(`${JSON.stringify({ sent })}\n`)
