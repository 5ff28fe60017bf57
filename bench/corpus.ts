/**
 * The real aos corpus as the bench uses it: the log text of every evaluation
 * in examples/aos-token-evaluations.ndjson, replicated to a target size.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Either } from "effect"
import { decodeSync, logText } from "../src/Evaluation.js"

export const examplePath = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "examples", "aos-token-evaluations.ndjson")

/** The example's evaluation records as parsed JSON. */
export const exampleRecords = (): Array<unknown> =>
  fs.readFileSync(examplePath, "utf8").split("\n").filter((l) => l.length > 0).map((l) => JSON.parse(l) as unknown)

/** The log texts of the example's evaluations that have one. */
export const exampleLogTexts = (): Array<string> =>
  exampleRecords().flatMap((record) => {
    const evaluation = decodeSync(record)
    if (Either.isLeft(evaluation)) throw evaluation.left
    const text = logText(evaluation.right.output)
    return text._tag === "Text" && text.text.length > 0 ? [text.text] : []
  })

/** The log texts repeated until their UTF-8 size reaches `targetBytes`. */
export const replicate = (texts: ReadonlyArray<string>, targetBytes: number): { texts: Array<string>; bytes: number } => {
  const out: Array<string> = []
  let bytes = 0
  while (bytes < targetBytes) {
    for (const text of texts) {
      out.push(text)
      bytes += Buffer.byteLength(text)
    }
  }
  return { texts: out, bytes }
}
