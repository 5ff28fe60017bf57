/**
 * The commands of `event-vacuum`, as data: their words, arguments, options
 * and the settings each takes as flags, grouped as help shows them. The
 * parser, the help and the README's check read this table; `Cli.ts` runs
 * what it names.
 *
 * @internal
 */
// The tables alone, not their modules: help and a bad command line load none of the vacuum.
import * as ConsoleSink from "../internal/settings/console.js"
import * as Env from "../internal/settings/env.js"
import * as FileSink from "../internal/settings/file.js"
import * as Follow from "../internal/settings/follow.js"
import * as Honeycomb from "../internal/settings/honeycomb.js"
import * as Kinesis from "../internal/settings/kinesis.js"
import { parseAddress } from "../internal/settings/address.js"
import * as Otlp from "../internal/settings/otlp.js"
import * as Sqlite from "../internal/settings/state.js"
import * as StatePg from "../internal/settings/statePg.js"
import * as Vacuum from "../internal/settings/vacuum.js"
import * as Setting from "../Setting.js"
import type { Arg, Command, Group, Opt } from "./args.js"

/**
 * The CLI's own settings, declared once.
 *
 * @since 0.2.0
 */
export const cliSettings = {
  drainTimeout: Setting.make(Setting.duration({ min: "1 millis" }), {
    env: "EVENT_VACUUM_DRAIN_TIMEOUT",
    default: "30 seconds",
    doc: "how long run waits for delivery before it exits non-zero"
  }),
  metricsAddress: Setting.make(
    Setting.text((s) => {
      if (s === "none") return undefined
      const parsed = parseAddress(s)
      return typeof parsed === "string" ? parsed : undefined
    }),
    {
      env: "EVENT_VACUUM_METRICS_ADDRESS",
      value: "<host:port>",
      default: "none",
      doc: "serve GET /metrics and GET /health here while it runs (a port alone: on 127.0.0.1)"
    }
  )
}

const values = <T extends Setting.Table>(t: T) => Setting.all(t)

/** The settings of a running vacuum, as help groups them. */
const vacuumGroups: ReadonlyArray<Group> = [
  {
    title: "The vacuum",
    settings: [...values(Env.settings), ...values(cliSettings)],
    // The CLI is for running the vacuum: on unless EVENT_VACUUM_ENABLED says false.
    defaults: { [Env.settings.enabled.env]: "true" }
  },
  { title: "State", settings: [...values(Sqlite.settings), ...values(StatePg.settings)] },
  { title: "Intake and delivery", settings: values(Vacuum.settings) },
  { title: "Console and file sinks", settings: [...values(ConsoleSink.settings), ...values(FileSink.settings)] },
  { title: "Honeycomb sink", settings: values(Honeycomb.settings) },
  { title: "Kinesis sink", settings: values(Kinesis.settings) },
  { title: "OTLP sink", settings: values(Otlp.settings) }
]

/**
 * Every setting the CLI takes, each as its env key and as a flag.
 *
 * @since 0.1.0
 */
export const settings: ReadonlyArray<Setting.Setting<unknown, unknown, boolean>> = [
  ...vacuumGroups.flatMap((g) => g.settings),
  ...values(Follow.settings)
]

/**
 * `follow`'s own settings, declared once.
 *
 * @since 0.3.0
 */
export const followSettings = Follow.settings

const file: Arg = { name: "FILE", doc: "evaluation records, one JSON per line; - or nothing for stdin" }
const json: Opt = { name: "json", doc: "print JSON lines instead of text" }
const sink: Opt = { name: "sink", value: "<name>", doc: "only this sink's dead letters" }
const stateOnly: ReadonlyArray<Group> = [
  { title: "State", settings: [...values({ filename: Sqlite.settings.filename }), ...values(StatePg.settings)] }
]

/** The commands, in the order help lists them. */
export const commands: ReadonlyArray<Command> = [
  {
    path: ["run"],
    summary: "Vacuum evaluation records and deliver their events through the configured sinks.",
    args: [file],
    options: [],
    groups: vacuumGroups
  },
  {
    path: ["follow"],
    summary: "Follow the CU's own evaluations table (SQLite or PostgreSQL) and deliver its events, until SIGINT or SIGTERM; --once for what is there.",
    args: [{ name: "CU_DB", doc: "the CU's DB_URL: a postgres:// URL, or the SQLite name (it appends .sqlite) or file; else EVENT_VACUUM_CU_DB" }],
    options: [
      { name: "once", doc: "send what the table holds now, then exit (a backfill)" },
      { name: "process", value: "<id>", repeated: true, doc: "only this process (again for more)" },
      { name: "since", value: "<time>", doc: "for a process not read before: from this time on (ISO 8601 or epoch ms)" }
    ],
    groups: [{ title: "Following", settings: values(Follow.settings) }, ...vacuumGroups]
  },
  {
    path: ["extract"],
    summary: "Print the events found in evaluation records, one JSON per line as the file sink writes them: no state, no delivery.",
    args: [file],
    options: [],
    groups: []
  },
  {
    path: ["status"],
    summary: "Show the watermarks per sink and process, what waits in each outbox, the dead letters and who is over budget; --processes: the top processes.",
    args: [],
    options: [
      json,
      { name: "processes", doc: "the processes that sent the most events (or bytes), with what each sink kept" },
      { name: "by", value: "<events|bytes>", choices: ["events", "bytes"], default: "events", doc: "with --processes: the most events or the most bytes first" },
      { name: "limit", value: "<n>", positive: true, default: "20", doc: "with --processes: at most this many" }
    ],
    groups: stateOnly
  },
  {
    path: ["dead-letters", "list"],
    summary: "List dead letters, oldest first, with the reason each was refused.",
    args: [],
    options: [json, sink, { name: "limit", value: "<n>", positive: true, default: "100", doc: "at most this many" }],
    groups: stateOnly
  },
  {
    path: ["dead-letters", "replay"],
    summary: "Put dead letters back in their outboxes and send them: all of them, or only the SEQs given (from list).",
    args: [{ name: "SEQ", doc: "a dead letter's number, as list shows it", repeated: true, positive: true }],
    options: [sink],
    groups: vacuumGroups
  }
]

/** What the root help says of the whole. */
export const info = {
  summary: "lift structured events out of ao evaluation logs and ship them, once, to your sinks."
}
