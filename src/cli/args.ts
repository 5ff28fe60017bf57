/**
 * The command line's words, read: which command, its arguments, its own
 * options and the settings given as flags. Options may come before or after
 * the arguments (`run - --state-path X`), as `--name value` or
 * `--name=value`; `--` ends them. Anything unknown is refused by name, with
 * the nearest known option when there is one. Plain code, no Effect: the
 * help and a bad command line answer before the vacuum is loaded.
 *
 * @internal
 */
import type { Setting } from "../Setting.js"

/** A positional argument. */
export interface Arg {
  readonly name: string
  readonly doc: string
  /** Any number of them (`SEQ...`); else at most one. */
  readonly repeated?: boolean
  /** An integer from 1 (`SEQ`). */
  readonly positive?: boolean
}

/** An option of a command's own: a switch (`--json`) or one that takes a value. */
export interface Opt {
  readonly name: string
  readonly doc: string
  /** What its value is, as help shows it (`<n>`); none for a switch. */
  readonly value?: string
  /** An integer from 1. */
  readonly positive?: boolean
  /** May be given more than once (`--process A --process B`). */
  readonly repeated?: boolean
  /** The only values it takes. */
  readonly choices?: ReadonlyArray<string>
  readonly default?: string
}

/** Settings shown under one heading; `defaults` when the command's differ from the library's. */
export interface Group {
  readonly title: string
  readonly settings: ReadonlyArray<Setting<unknown, unknown, boolean>>
  readonly defaults?: Readonly<Record<string, string>>
}

/** A command: its words (`dead-letters list`), a line of summary, what it takes. */
export interface Command {
  readonly path: ReadonlyArray<string>
  readonly summary: string
  readonly args: ReadonlyArray<Arg>
  readonly options: ReadonlyArray<Opt>
  readonly groups: ReadonlyArray<Group>
}

/** What the command line asks for. */
export type Invocation =
  | { readonly _tag: "Help"; readonly path: ReadonlyArray<string> }
  | { readonly _tag: "Version" }
  | { readonly _tag: "Usage"; readonly message: string; readonly path: ReadonlyArray<string> }
  | {
    readonly _tag: "Command"
    readonly command: Command
    readonly args: ReadonlyArray<string>
    /** The command's own options, by name: `true` for a switch given. */
    readonly options: ReadonlyMap<string, string | true>
    /** The values of an option given more than once, by name, in order. */
    readonly lists: ReadonlyMap<string, ReadonlyArray<string>>
    /** Settings given as flags, by env key. */
    readonly settings: ReadonlyMap<string, string>
    readonly logLevel: string | undefined
  }

/** The levels `--log-level` takes. */
export const logLevels = ["all", "trace", "debug", "info", "warning", "error", "fatal", "none"] as const

/** The options every command takes. */
export const globalOptions: ReadonlyArray<Opt> = [
  { name: "help", doc: "show this help (after a command: that command's help)" },
  { name: "version", doc: "print the version" },
  { name: "log-level", value: "<level>", doc: `the least level logged to stderr: ${logLevels.join(", ")}`, default: "warning" }
]

const POSITIVE = /^[1-9][0-9]*$/

/** Edit distance, for "did you mean". */
const distance = (a: string, b: string): number => {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j]! + 1, next[j - 1]! + 1, row[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
    }
    row = next
  }
  return row[b.length]!
}

const nearest = (word: string, known: ReadonlyArray<string>): string | undefined => {
  let best: string | undefined
  let score = Math.max(2, Math.floor(word.length / 3)) + 1
  for (const k of known) {
    const d = distance(word, k)
    if (d < score) [best, score] = [k, d]
  }
  return best
}

/** `event-vacuum run`, for messages. */
export const named = (path: ReadonlyArray<string>): string => ["event-vacuum", ...path].join(" ")

/** The words that name commands, one level at a time. */
const nextWords = (commands: ReadonlyArray<Command>, path: ReadonlyArray<string>): Array<string> => [
  ...new Set(
    commands
      .filter((c) => c.path.length > path.length && path.every((w, i) => c.path[i] === w))
      .map((c) => c.path[path.length]!)
  )
]

/** Reads `argv` (without node and the script) against the commands. */
export const parse = (commands: ReadonlyArray<Command>, argv: ReadonlyArray<string>): Invocation => {
  let i = 0
  let help = false
  let logLevel: string | undefined
  const usage = (message: string, path: ReadonlyArray<string>): Invocation => ({ _tag: "Usage", message, path })

  /** A global option at `argv[i]`: answers an error, true when it was one, false when not. */
  const globalAt = (token: string, path: ReadonlyArray<string>): Invocation | boolean => {
    if (token === "-h" || token === "--help") return (help = true)
    if (token === "--version") return { _tag: "Version" }
    if (token === "--log-level" || token.startsWith("--log-level=")) {
      const value = token.includes("=") ? token.slice(token.indexOf("=") + 1) : argv[++i]
      if (value === undefined) return usage(`--log-level needs a value: one of ${logLevels.join(", ")}`, path)
      if (!(logLevels as ReadonlyArray<string>).includes(value)) {
        return usage(`--log-level takes one of ${logLevels.join(", ")}, got ${JSON.stringify(value)}`, path)
      }
      logLevel = value
      return true
    }
    return false
  }

  // Before the command's words: only the options every command takes.
  const path: Array<string> = []
  for (; i < argv.length; i++) {
    const token = argv[i]!
    const words = nextWords(commands, path)
    if (words.length === 0) break
    if (token.startsWith("-") && token !== "-") {
      const global = globalAt(token, path)
      if (typeof global !== "boolean") return global
      if (!global) return usage(`unknown option ${token} before a command; options come after the command's name`, path)
      continue
    }
    if (!words.includes(token)) {
      const guess = nearest(token, words)
      return usage(
        `unknown command ${JSON.stringify(token)}${path.length > 0 ? ` for ${path.join(" ")}` : ""}` +
          `${guess === undefined ? "" : `; did you mean ${guess}?`} (commands: ${words.join(", ")})`,
        path
      )
    }
    path.push(token)
  }
  const command = commands.find((c) => c.path.length === path.length && c.path.every((w, k) => path[k] === w))
  if (help) return { _tag: "Help", path }
  if (command === undefined) {
    return path.length === 0 && i >= argv.length
      ? { _tag: "Help", path }
      : usage(`${path.length === 0 ? "" : `${path.join(" ")} `}needs a command: ${nextWords(commands, path).join(", ")}`, path)
  }

  // After them: arguments and options in any order.
  const own = new Map(command.options.map((o) => [o.name, o]))
  const byFlag = new Map(command.groups.flatMap((g) => g.settings.map((s) => [s.flag, s] as const)))
  const args: Array<string> = []
  const options = new Map<string, string | true>()
  const lists = new Map<string, Array<string>>()
  const settings = new Map<string, string>()
  const known = [...own.keys(), ...byFlag.keys(), ...globalOptions.map((o) => o.name)]
  const name = path.join(" ")
  for (; i < argv.length; i++) {
    const token = argv[i]!
    if (token === "--") {
      args.push(...argv.slice(i + 1))
      break
    }
    if (!token.startsWith("-") || token === "-") {
      args.push(token)
      continue
    }
    const global = globalAt(token, path)
    if (typeof global !== "boolean") return global
    if (global) continue
    if (!token.startsWith("--")) return usage(`unknown option ${token} for ${name}`, path)
    const eq = token.indexOf("=")
    const flag = token.slice(2, eq === -1 ? undefined : eq)
    const opt = own.get(flag)
    const setting = byFlag.get(flag)
    if (opt === undefined && setting === undefined) {
      const guess = nearest(flag, known)
      return usage(`unknown option --${flag} for ${name}${guess === undefined ? "" : `; did you mean --${guess}?`}`, path)
    }
    const again = opt?.repeated === true ? false : options.has(flag) || (setting !== undefined && settings.has(setting.env))
    if (again) return usage(`--${flag} is given twice`, path)
    if (opt !== undefined && opt.value === undefined) {
      if (eq !== -1) return usage(`--${flag} is a switch: it takes no value`, path)
      options.set(flag, true)
      continue
    }
    const value = eq === -1 ? argv[++i] : token.slice(eq + 1)
    if (value === undefined || (eq === -1 && value.startsWith("--"))) {
      return usage(`--${flag} needs a value${opt?.value === undefined ? "" : ` ${opt.value}`}`, path)
    }
    if (opt !== undefined) {
      if (opt.positive === true && !POSITIVE.test(value)) {
        return usage(`--${flag} takes an integer from 1, got ${JSON.stringify(value)}`, path)
      }
      if (opt.choices !== undefined && !opt.choices.includes(value)) {
        return usage(`--${flag} takes ${opt.choices.join(" or ")}, got ${JSON.stringify(value)}`, path)
      }
      options.set(flag, value)
      if (opt.repeated === true) lists.set(flag, [...(lists.get(flag) ?? []), value])
    } else settings.set(setting!.env, value)
  }
  if (help) return { _tag: "Help", path }

  const repeated = command.args.find((a) => a.repeated === true)
  if (repeated === undefined && args.length > command.args.length) {
    return usage(
      `${name} takes ${command.args.length === 0 ? "no arguments" : `at most ${command.args.map((a) => a.name).join(" ")}`}` +
        `, got ${args.map((a) => JSON.stringify(a)).join(" ")}`,
      path
    )
  }
  for (const [k, value] of args.entries()) {
    const arg = command.args[Math.min(k, command.args.length - 1)]!
    if (arg.positive === true && !POSITIVE.test(value)) {
      return usage(`${arg.name} takes integers from 1, got ${JSON.stringify(value)}`, path)
    }
  }
  return { _tag: "Command", command, args, options, lists, settings, logLevel }
}
