/**
 * A sink that prints events: readable lines for people, or one JSON per line.
 *
 * @since 0.1.0
 */
import { Config, Console, Effect, Layer } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { OutboundEvent } from "../Enrich.js"
import type { Sink, Transport, TransportConfigError } from "../Transport.js"
import { allAccepted, layerSink } from "../Transport.js"
import * as Setting from "../Setting.js"
import { settings } from "../internal/settings/console.js"
import type { SinkSelection } from "../internal/settings/selection.js"
import { sinkSelection } from "../internal/settings/selection.js"

/**
 * `pretty`: one readable line an event. `json`: `{"time": RFC3339, "data": {...}}` a line
 * (see {@link jsonLine}).
 *
 * @since 0.1.0
 */
export type Format = "pretty" | "json"

/**
 * @since 0.1.0
 */
export interface Options extends SinkSelection {
  readonly format?: Format | undefined
  /** Defaults to `console`. */
  readonly name?: string | undefined
}

/**
 * One event as a line of JSON: `{"time": "...", "data": {...}}`, the shape of a
 * Honeycomb batch element, so that no field of the event can be mistaken for
 * the time; `{"time": "...", "samplerate": N, "data": {...}}` for an event
 * whose sample rate N is over 1.
 *
 * @since 0.1.0
 */
export const jsonLine = (event: OutboundEvent): string => {
  const rate = event.sampleRate
  return `{"time":"${new Date(event.time).toISOString()}",${
    rate !== undefined && rate > 1 ? `"samplerate":${rate},` : ""
  }"data":${event.data}}`
}

const CONTEXT = new Set(["processId", "nonce", "cron", "messageId", "timestamp", "gasUsed", "memorySize", "failed", "eventId"])

/** Plain strings as they are; anything with spaces, `=`, quotes or control characters quoted as JSON. */
const show = (value: unknown): string =>
  typeof value === "string" && value.length > 0 && !/[\s="\u0000-\u001f\u007f]/.test(value) ? value : JSON.stringify(value)

/**
 * One event as a readable line: time, process, nonce (and cron), its sample
 * rate N as `(1 in N)` when over 1, then the event's own fields as `key=value`.
 *
 * @since 0.1.0
 */
export const prettyLine = (event: OutboundEvent): string => {
  const fields = JSON.parse(event.data) as Record<string, unknown>
  let line = `${new Date(event.time).toISOString()} ${show(fields.processId)} #${show(fields.nonce)}`
  if (fields.cron !== undefined && fields.cron !== null) line += ` cron ${show(fields.cron)}`
  if (fields.failed === true) line += " (failed evaluation)"
  if (event.sampleRate !== undefined && event.sampleRate > 1) line += ` (1 in ${event.sampleRate})`
  for (const key of Object.keys(fields)) {
    if (!CONTEXT.has(key)) line += ` ${key}=${show(fields[key])}`
  }
  return line
}

/**
 * The console sink: writes each batch through Effect's `Console`.
 *
 * @since 0.1.0
 */
export const make = (options: Options = {}): Sink => {
  const name = options.name ?? "console"
  const line = options.format === "json" ? jsonLine : prettyLine
  return {
    name,
    send: (batch) =>
      Effect.suspend(() => Effect.as(Console.log(batch.map(line).join("\n")), allAccepted(batch.length))),
    selection: sinkSelection(options, "EVENT_VACUUM_CONSOLE_")
  }
}

/**
 * @since 0.1.0
 */
export const layer = (options: Options = {}): Layer.Layer<Transport, TransportConfigError> =>
  layerSink(Effect.sync(() => make(options)))

/**
 * Its settings, declared once (see `Setting`): the table the CLI, `--help` and README read.
 *
 * @since 0.2.0
 */
export { settings }

/**
 * The console sink configured from env (the keys in {@link settings}), or from a `Config` of the caller's own keys.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = Setting.config(settings)
): Layer.Layer<Transport, TransportConfigError | ConfigError> => Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
