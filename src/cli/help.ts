/**
 * `--help`, as plain text: a usage line, the commands or the command's
 * arguments and options, and its settings grouped by what they set, one
 * line each with the default, wrapped to the terminal (100 columns when
 * piped). No colours: help is read in pipes, pagers and files as often as on
 * a terminal.
 *
 * @internal
 */
import type { Command, Group, Opt } from "./args.js"
import { globalOptions, named } from "./args.js"

/** Wraps `text` to `width`, continuation lines indented by `indent`. */
const wrap = (text: string, width: number, indent: number): string => {
  const room = Math.max(20, width - indent)
  const out: Array<string> = []
  let line = ""
  for (const word of text.split(" ")) {
    if (line.length > 0 && line.length + 1 + word.length > room) {
      out.push(line)
      line = word
    } else line = line.length === 0 ? word : `${line} ${word}`
  }
  out.push(line)
  return out.join("\n" + " ".repeat(indent))
}

/** Two columns: names padded to the widest (at most 36), then the doc, wrapped. */
const table = (rows: ReadonlyArray<readonly [string, string]>, width: number): Array<string> => {
  const left = Math.min(36, Math.max(...rows.map(([name]) => name.length)))
  return rows.map(([name, doc]) =>
    name.length > left
      ? `  ${name}\n${" ".repeat(left + 4)}${wrap(doc, width, left + 4)}`
      : `  ${name.padEnd(left)}  ${wrap(doc, width, left + 4)}`
  )
}

const usageOf = (c: Command): string =>
  [
    named(c.path),
    ...c.args.map((a) => (a.repeated === true ? `[${a.name}...]` : `[${a.name}]`)),
    ...(c.options.length + c.groups.length > 0 ? ["[options]"] : [])
  ].join(" ")

const optRow = (o: Opt): readonly [string, string] => [
  `${o.name === "help" ? "-h, " : ""}--${o.name}${o.value === undefined ? "" : ` ${o.value}`}`,
  `${o.doc}${o.default === undefined ? "" : ` [default: ${o.default}]`}`
]

/** How a group's flags name their env variables: by rule when they all follow one, else per line. */
const envRule = (g: Group): string | undefined => {
  const first = g.settings[0]
  if (first === undefined) return undefined
  const prefixed = g.settings.every((s) => s.env === `EVENT_VACUUM_${s.flag.toUpperCase().replaceAll("-", "_")}`)
  const plain = g.settings.every((s) => s.env === s.flag.toUpperCase().replaceAll("-", "_"))
  return prefixed || plain ? `--${first.flag} is ${first.env}` : undefined
}

const groupLines = (g: Group, width: number): Array<string> => {
  const rule = envRule(g)
  const rows = g.settings.map((s): readonly [string, string] => {
    const shown = g.defaults?.[s.env] ?? s.shown
    return [
      `--${s.flag} ${s.value}`,
      `${s.doc}${shown === undefined ? "" : ` [default: ${shown}]`}${rule === undefined ? ` [env ${s.env}]` : ""}`
    ]
  })
  return [wrap(`${g.title}${rule === undefined ? "" : ` (${rule})`}:`, width, 2), ...table(rows, width)]
}

/** The help of the whole command line. */
export const root = (commands: ReadonlyArray<Command>, info: { readonly version: string; readonly summary: string }, width: number): string =>
  [
    `event-vacuum ${info.version}: ${info.summary}`,
    "",
    "Usage: event-vacuum <command> [options]",
    "",
    "Commands:",
    ...table(commands.map((c) => [usageOf(c).replace(/^event-vacuum /, "").replace(/ \[options\]$/, ""), c.summary]), width),
    "",
    "Options:",
    ...table(globalOptions.map(optRow), width),
    "",
    wrap(
      "Every setting is an environment variable, and also a flag of the commands that use it (a flag wins): " +
        "event-vacuum run --help lists them all.",
      width,
      0
    ),
    ""
  ].join("\n")

/** The help of one command, or of a word that groups commands (`dead-letters`). */
export const command = (commands: ReadonlyArray<Command>, path: ReadonlyArray<string>, width: number): string => {
  const c = commands.find((x) => x.path.length === path.length && x.path.every((w, i) => path[i] === w))
  if (c === undefined) {
    const under = commands.filter((x) => path.every((w, i) => x.path[i] === w))
    return [
      `Usage: ${named(path)} <command> [options]`,
      "",
      "Commands:",
      ...table(under.map((x) => [usageOf(x).replace(/^event-vacuum /, "").replace(/ \[options\]$/, ""), x.summary]), width),
      ""
    ].join("\n")
  }
  const out = [`Usage: ${usageOf(c)}`, "", wrap(c.summary, width, 0)]
  if (c.args.length > 0) out.push("", "Arguments:", ...table(c.args.map((a) => [a.name, a.doc]), width))
  out.push("", "Options:", ...table([...c.options, ...globalOptions.filter((o) => o.name !== "version")].map(optRow), width))
  if (c.groups.length > 0) {
    out.push("", wrap("Settings: each is an environment variable, and a flag here; a flag wins over the environment.", width, 0))
  }
  for (const g of c.groups) out.push("", ...groupLines(g, width))
  out.push("")
  return out.join("\n")
}

/** The width help wraps to: the terminal's, else 100. */
export const width = (stream: { readonly isTTY?: boolean; readonly columns?: number }): number =>
  stream.isTTY === true && stream.columns !== undefined ? Math.max(60, Math.min(stream.columns, 120)) : 100
