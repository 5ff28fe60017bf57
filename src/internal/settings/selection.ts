/**
 * Which processes and how much of each: the settings, for the whole vacuum
 * and per sink, and their kinds (a list of process ids, a budget); a table
 * that loads without the vacuum.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as fs from "node:fs"
import * as Setting from "../../Setting.js"

/**
 * An ao process id: an Arweave transaction id, 43 characters of base64url.
 *
 * @since 0.3.0
 */
export const PROCESS_ID = /^[A-Za-z0-9_-]{43}$/

/**
 * A list of processes: all of them, the ids given, or the ids of a file
 * (one a line, `#` comments), re-read when it changes.
 *
 * @since 0.3.0
 */
export type ProcessList =
  | { readonly _tag: "All" }
  | { readonly _tag: "Ids"; readonly ids: ReadonlySet<string> }
  | { readonly _tag: "File"; readonly path: string }

const ordinal = (n: number): string => `${n}${n % 10 === 1 && n % 100 !== 11 ? "st" : n % 10 === 2 && n % 100 !== 12 ? "nd" : n % 10 === 3 && n % 100 !== 13 ? "rd" : "th"}`

const ID_RULE = "43 characters of A-Z a-z 0-9 _ -"

/**
 * The ids of a list's text: separated by commas (a setting) or one a line
 * with `#` comments (a file, whose name `where` gives, for each line's place).
 *
 * @since 0.3.0
 */
export const parseIds = (text: string, where?: string): Either.Either<ReadonlySet<string>, string> => {
  const ids = new Set<string>()
  const entries = where === undefined
    ? text.split(",").map((t, i) => [t.trim(), `the ${ordinal(i + 1)}`] as const)
    : text.split(/\r?\n/).map((line, i) => [line.replace(/#.*$/, "").trim(), `${where}:${i + 1}`] as const)
  for (const [id, place] of entries) {
    if (id === "" && where !== undefined) continue
    if (!PROCESS_ID.test(id)) {
      return Either.left(`${JSON.stringify(id)} (${place}) is not a process id (${ID_RULE})`)
    }
    ids.add(id)
  }
  return Either.right(ids)
}

/**
 * The ids of a list file, or why it does not read (`cannot read @FILE: …`,
 * or its bad line).
 *
 * @since 0.3.0
 */
export const readIds = (path: string): Either.Either<ReadonlySet<string>, string> => {
  let text: string
  try {
    text = fs.readFileSync(path, "utf8")
  } catch (error) {
    const code = (error as { code?: string }).code
    return Either.left(`cannot read @${path}: ${code === "ENOENT" ? "no such file" : error instanceof Error ? error.message : String(error)}`)
  }
  return parseIds(text, path)
}

// A file list is read when the setting is checked, so a file that does not read is refused with
// the other settings, before any state is made; the vacuum reads it again when it starts, and then
// on every change.
const fileList = (path: string): Either.Either<ProcessList, string> =>
  Either.map(readIds(path), (): ProcessList => ({ _tag: "File", path }))

const listOf = (text: string): Either.Either<ProcessList, string> => {
  const t = text.trim()
  if (t === "all") return Either.right({ _tag: "All" })
  if (t === "none") return Either.right({ _tag: "Ids", ids: new Set() })
  if (t.startsWith("@")) {
    const path = t.slice(1).trim()
    return path === "" ? Either.left("expected a file's path after @") : fileList(path)
  }
  return Either.map(parseIds(t), (ids) => ({ _tag: "Ids", ids }))
}

/**
 * A kind of setting: process ids separated by commas, `@FILE` (one id a
 * line), `all` or `none`; in code, the same text, an array of ids, or a
 * {@link ProcessList}.
 *
 * @since 0.3.0
 */
export const processList: Setting.Kind<ProcessList, string | ReadonlyArray<string> | ProcessList> = {
  check: (input) => {
    if (typeof input === "string") return listOf(input)
    const list = input as ProcessList | undefined
    if (list?._tag === "All") return Either.right(list)
    if (list?._tag === "File" && typeof list.path === "string") return fileList(list.path)
    const ids = Array.isArray(input) ? input as ReadonlyArray<unknown> : list?._tag === "Ids" && list.ids instanceof Set ? [...list.ids] : undefined
    if (ids === undefined) return Either.left("expected process ids separated by commas, @FILE, all or none")
    const bad = ids.findIndex((id) => typeof id !== "string" || !PROCESS_ID.test(id))
    return bad === -1
      ? Either.right({ _tag: "Ids", ids: new Set(ids as ReadonlyArray<string>) })
      : Either.left(`${JSON.stringify(ids[bad])} (the ${ordinal(bad + 1)}) is not a process id (${ID_RULE})`)
  },
  // The text as it is: `check` reads it (a file once).
  fromText: Either.right,
  value: "<ids|@file>"
}

/**
 * A kind of setting: a positive integer, or `unlimited` (Infinity).
 *
 * @since 0.3.0
 */
export const budget: Setting.Kind<number, number | "unlimited"> = {
  check: (n) =>
    n === "unlimited" || n === Infinity
      ? Either.right(Infinity)
      : typeof n === "number" && Number.isSafeInteger(n) && n >= 1
      ? Either.right(n)
      : Either.left("expected a positive integer or unlimited"),
  fromText: (text) =>
    text === "unlimited"
      ? Either.right("unlimited")
      : /^[0-9]+$/.test(text)
      ? Either.right(Number(text))
      : Either.left(`expected a positive integer or unlimited, got ${JSON.stringify(text)}`),
  value: "<n|unlimited>"
}

/**
 * The settings of one place that selects: the whole vacuum (`EVENT_VACUUM_`)
 * or a sink (`HONEYCOMB_`, `EVENT_VACUUM_FILE_`, …). A sink takes what the
 * vacuum's lists allow and its own do; its budget is the stricter of the two.
 *
 * @since 0.3.0
 */
export const selectionSettings = (prefix: string, sink?: string) => ({
  processes: Setting.make(processList, {
    env: `${prefix}PROCESSES`,
    default: "all",
    doc: sink === undefined
      ? "only these processes: ids separated by commas, or @FILE with one id a line (re-read when it changes)"
      : `only these processes, of the vacuum's (as EVENT_VACUUM_PROCESSES)`
  }),
  excludeProcesses: Setting.make(processList, {
    env: `${prefix}EXCLUDE_PROCESSES`,
    default: "none",
    doc: sink === undefined
      ? "never these processes: ids separated by commas, or @FILE with one id a line (re-read when it changes)"
      : `never these processes (as EVENT_VACUUM_EXCLUDE_PROCESSES)`
  }),
  budgetEvents: Setting.make(budget, {
    env: `${prefix}BUDGET_EVENTS`,
    default: "unlimited",
    doc: sink === undefined
      ? "events a process may send per minute of its evaluation time; over it, 1 in N is kept, chosen by eventId"
      : `its own events budget (as EVENT_VACUUM_BUDGET_EVENTS); the stricter applies`
  }),
  budgetBytes: Setting.make(budget, {
    env: `${prefix}BUDGET_BYTES`,
    default: "unlimited",
    doc: sink === undefined
      ? "bytes of event data a process may send per minute of its evaluation time; over it, 1 in N is kept"
      : `its own bytes budget (as EVENT_VACUUM_BUDGET_BYTES); the stricter applies`
  })
})

/**
 * The vacuum's own: its lists and budget (for every sink), and how often a
 * list file is looked at.
 *
 * @since 0.3.0
 */
export const settings = {
  ...selectionSettings("EVENT_VACUUM_"),
  processesPoll: Setting.make(Setting.duration({ min: "10 millis" }), {
    env: "EVENT_VACUUM_PROCESSES_POLL",
    default: "1 second",
    doc: "how often a process list given as @FILE is looked at for changes"
  })
}

/**
 * A sink's own lists and budget, as code gives them (see
 * {@link selectionSettings}); the vacuum checks them when it starts.
 *
 * @since 0.3.0
 */
export type SinkSelection = Setting.Options<ReturnType<typeof selectionSettings>>

/**
 * The sink selection among a sink's options, with the prefix of its env
 * keys (`HONEYCOMB_`), for messages.
 *
 * @since 0.3.0
 */
export const sinkSelection = (options: SinkSelection, envPrefix: string): SinkSelection & { readonly envPrefix: string } => ({
  processes: options.processes,
  excludeProcesses: options.excludeProcesses,
  budgetEvents: options.budgetEvents,
  budgetBytes: options.budgetBytes,
  envPrefix
})
