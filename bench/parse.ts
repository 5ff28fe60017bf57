/**
 * Parsing throughput on the real aos corpus: ours against the seed's algorithm
 * and against the floor (JSON.parse of only the event lines), same texts, same
 * run.
 */
import { extract } from "../src/Extractor.js"
import { exampleLogTexts, replicate } from "./corpus.js"

/**
 * The seed's EventVacuum algorithm, written from its description: split on
 * `\n`, JSON.parse every line in a try/catch, keep objects whose `_e` is the
 * number 1, strip it, rewrite `timestamp`/`Timestamp` to ISO strings.
 */
export const seedExtract = (text: string): Array<Record<string, unknown>> => {
  const events: Array<Record<string, unknown>> = []
  for (const line of text.split("\n")) {
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      continue
    }
    if (typeof value !== "object" || value === null) continue
    const event = value as Record<string, unknown>
    if (event._e !== 1) continue
    delete event._e
    for (const key of ["timestamp", "Timestamp"]) {
      const t = event[key]
      if (typeof t === "number" || typeof t === "string") {
        const date = new Date(t)
        if (!Number.isNaN(date.getTime())) event[key] = date.toISOString()
      }
    }
    events.push(event)
  }
  return events
}

export interface ParseResult {
  readonly corpusMB: number
  readonly events: { readonly ours: number; readonly seed: number; readonly floor: number }
  readonly mbPerSec: { readonly ours: number; readonly seed: number; readonly floor: number }
}

const time = (rounds: number, bytes: number, run: () => number): { mbPerSec: number; count: number } => {
  let best = Infinity
  let count = 0
  for (let round = 0; round < rounds; round++) {
    const start = process.hrtime.bigint()
    count = run()
    const seconds = Number(process.hrtime.bigint() - start) / 1e9
    best = Math.min(best, seconds)
  }
  return { mbPerSec: bytes / 1e6 / best, count }
}

export const runParseBench = (options: { readonly quick: boolean }): ParseResult => {
  const { texts, bytes } = replicate(exampleLogTexts(), options.quick ? 8e6 : 50e6)
  // The floor parses exactly the lines the extractor finds to be events.
  const eventLines: Array<string> = []
  for (const text of texts) {
    const lines = text.split("\n")
    for (const event of extract(text).events) eventLines.push(lines[event.index]!)
  }
  const rounds = options.quick ? 3 : 7

  const ours = time(rounds, bytes, () => {
    let n = 0
    for (const text of texts) n += extract(text).events.length
    return n
  })
  const seed = time(rounds, bytes, () => {
    let n = 0
    for (const text of texts) n += seedExtract(text).length
    return n
  })
  const floor = time(rounds, bytes, () => {
    let n = 0
    for (const line of eventLines) {
      try {
        JSON.parse(line)
        n++
      } catch {
        // aos's non-strict events: the floor cannot parse them at all
      }
    }
    return n
  })
  return {
    corpusMB: bytes / 1e6,
    events: { ours: ours.count, seed: seed.count, floor: floor.count },
    mbPerSec: { ours: ours.mbPerSec, seed: seed.mbPerSec, floor: floor.mbPerSec }
  }
}
