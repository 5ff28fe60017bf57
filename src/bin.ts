#!/usr/bin/env node
/**
 * `event-vacuum`: for now, extracts the events from evaluation records (one
 * JSON per line, from a file or stdin) and prints them, one JSON per line,
 * with a summary on stderr. Delivery, state and sinks come with the Vacuum.
 *
 * @since 0.1.0
 */
import { Either } from "effect"
import * as fs from "node:fs"
import * as readline from "node:readline"
import { decodeSync, logText } from "./Evaluation.js"
import { emptyCounts, extract, lineOutcomes } from "./Extractor.js"

const usage = "usage: event-vacuum extract [FILE|-]\n  Prints the events in evaluation records (one JSON per line) as JSON lines."

const main = async (argv: ReadonlyArray<string>): Promise<number> => {
  const [command, file = "-", ...rest] = argv
  if (command === "--help" || command === "-h" || command === undefined) {
    console.log(usage)
    return command === undefined ? 2 : 0
  }
  if (command !== "extract" || rest.length > 0) {
    console.error(`event-vacuum: unknown arguments: ${argv.join(" ")}\n${usage}`)
    return 2
  }
  const input = file === "-" ? process.stdin : fs.createReadStream(file)
  const opened = new Promise<void>((resolve, reject) => {
    input.once("error", reject)
    if (file === "-") resolve()
    else input.once("open", () => resolve())
  })
  try {
    await opened
  } catch (error) {
    console.error(`event-vacuum: cannot read ${file}: ${(error as Error).message}`)
    return 1
  }

  const counts = emptyCounts()
  let records = 0
  let bad = 0
  let readOnly = 0
  let events = 0
  let lineNumber = 0
  for await (const line of readline.createInterface({ input, crlfDelay: Infinity })) {
    lineNumber++
    if (line.trim() === "") continue
    records++
    let json: unknown
    try {
      json = JSON.parse(line)
    } catch {
      bad++
      console.error(`event-vacuum: ${file}:${lineNumber}: not JSON`)
      continue
    }
    const decoded = decodeSync(json)
    if (Either.isLeft(decoded)) {
      bad++
      console.error(`event-vacuum: ${file}:${lineNumber}: ${decoded.left.message}`)
      continue
    }
    const evaluation = decoded.right
    if (evaluation.readOnly) {
      readOnly++
      continue
    }
    const text = logText(evaluation.output)
    if (text._tag === "NoText") continue
    const extraction = extract(text.text)
    for (const outcome of lineOutcomes) counts[outcome] += extraction.counts[outcome]
    for (const event of extraction.events) {
      events++
      const time = new Date(event.time ?? evaluation.timestamp).toISOString()
      process.stdout.write(
        `{"time":${JSON.stringify(time)},"processId":${JSON.stringify(evaluation.processId)},"nonce":${
          JSON.stringify(evaluation.ordinate)
        },"cron":${JSON.stringify(evaluation.cron)},"failed":${text.failed},"line":${event.index},"event":${event.json}}\n`
      )
    }
  }
  const rejected = lineOutcomes.filter((o) => !["event", "repaired", "blank", "not_event"].includes(o) && counts[o] > 0)
  console.error(
    `event-vacuum: ${records} records (${bad} bad, ${readOnly} read-only skipped), ${events} events (${counts.repaired} repaired), ` +
      `lines rejected: ${rejected.length === 0 ? "none" : rejected.map((o) => `${o}=${counts[o]}`).join(" ")}`
  )
  return bad > 0 ? 1 : 0
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
