/**
 * Every setting a running vacuum reads, by its env key: what the vacuum's
 * own thread is given as text, read once from the caller's Config. A table
 * that loads without the vacuum.
 *
 * @internal
 */
import * as Setting from "../../Setting.js"
import * as Console from "./console.js"
import * as Env from "./env.js"
import * as File from "./file.js"
import * as Honeycomb from "./honeycomb.js"
import * as Kinesis from "./kinesis.js"
import * as Otlp from "./otlp.js"
import { selectionSettings } from "./selection.js"
import * as State from "./state.js"
import * as StatePg from "./statePg.js"
import * as Vacuum from "./vacuum.js"

/** The env keys of every setting of the vacuum, its store and its sinks (each sink's lists and budgets too). */
export const keys = (): ReadonlyArray<string> => {
  const all = Setting.all(
    Env.settings,
    Vacuum.settings,
    State.settings,
    StatePg.settings,
    Console.settings,
    File.settings,
    Honeycomb.settings,
    Kinesis.settings,
    Otlp.settings,
    ...Env.transportKinds.map((kind) => selectionSettings(`${kind.toUpperCase()}_`, kind))
  )
  return [...new Set(all.map((s) => s.env))]
}
