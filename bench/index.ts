/**
 * `npm run bench [-- --quick]`: measures, in one run on this machine, where
 * the vacuum stands against its anchors. Prints a table and writes
 * bench/results.json.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { runParseBench } from "./parse.js"

const quick = process.argv.includes("--quick")
const fmt = (n: number, digits = 1) => n.toFixed(digits)

console.log(`ao-event-vacuum bench${quick ? " (quick)" : ""}: node ${process.version}, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "unknown cpu"}`)

const parse = runParseBench({ quick })
const rows: Array<[string, string, string]> = [
  ["seed algorithm (split + JSON.parse every line)", `${fmt(parse.mbPerSec.seed)} MB/s`, `${parse.events.seed} events`],
  ["floor (JSON.parse of the event lines only)", `${fmt(parse.mbPerSec.floor)} MB/s`, `${parse.events.floor} events`],
  ["ours (extract)", `${fmt(parse.mbPerSec.ours)} MB/s`, `${parse.events.ours} events`],
  ["ours / seed (target >= 5x)", `${fmt(parse.mbPerSec.ours / parse.mbPerSec.seed, 2)}x`, ""],
  ["ours / floor (target >= 50%)", `${fmt((100 * parse.mbPerSec.ours) / parse.mbPerSec.floor, 0)}%`, ""]
]
console.log(`\nParsing: the example's log texts replicated to ${fmt(parse.corpusMB)} MB (best of rounds)`)
const width = Math.max(...rows.map((r) => r[0].length))
for (const [name, value, note] of rows) console.log(`  ${name.padEnd(width)}  ${value.padStart(12)}  ${note}`)
console.log("  (the seed and the floor cannot parse aos's non-strict events; ours recovers them)")

const results = { date: new Date().toISOString(), quick, node: process.version, parse }
const out = path.join(path.dirname(fileURLToPath(import.meta.url)), "results.json")
fs.writeFileSync(out, JSON.stringify(results, null, 2) + "\n")
console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
