/**
 * The whole vacuum configured from the environment: what a CU (or the CLI)
 * provides with one layer. Off unless `EVENT_VACUUM_ENABLED` is true; then a
 * SQLite store at `EVENT_VACUUM_STATE_PATH` and the sinks named in
 * `EVENT_VACUUM_TRANSPORTS`. A bad setting fails the layer at start-up,
 * naming its key.
 *
 * @since 0.1.0
 */
import * as NodeFileSystem from "@effect/platform-node/NodeFileSystem"
import * as NodePath from "@effect/platform-node/NodePath"
import { Config, ConfigError, Effect, Either, Layer } from "effect"
import type { DedupeStoreError } from "./DedupeStore.js"
import * as Sqlite from "./DedupeStore/Sqlite.js"
import type { Transport, TransportConfigError } from "./Transport.js"
import * as Composite from "./Transport/Composite.js"
import * as ConsoleSink from "./Transport/Console.js"
import * as FileSink from "./Transport/File.js"
import * as HoneycombSink from "./Transport/Honeycomb.js"
import * as Setting from "./Setting.js"
import * as Vacuum from "./Vacuum.js"

/**
 * The sink kinds `EVENT_VACUUM_TRANSPORTS` may name.
 *
 * @since 0.1.0
 */
export const transportKinds = ["console", "file", "honeycomb"] as const

/**
 * @since 0.1.0
 */
export type TransportKind = (typeof transportKinds)[number]

/**
 * Parses a transports list: names separated by commas or semicolons, case and
 * spaces ignored, each at most once.
 *
 * @since 0.1.0
 */
export const parseTransports = (text: string): Either.Either<ReadonlyArray<TransportKind>, string> => {
  const names = text.split(/[,;]/).map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0)
  if (names.length === 0) return Either.left(`the list names no transport; the transports are ${transportKinds.join(", ")}`)
  const kinds: Array<TransportKind> = []
  for (const name of names) {
    if (!(transportKinds as ReadonlyArray<string>).includes(name)) {
      return Either.left(`there is no transport named ${JSON.stringify(name)}; the transports are ${transportKinds.join(", ")}`)
    }
    if (kinds.includes(name as TransportKind)) return Either.left(`the list names ${name} twice`)
    kinds.push(name as TransportKind)
  }
  return Either.right(kinds)
}

/**
 * The env layer's own settings, declared once.
 *
 * @since 0.2.0
 */
export const settings = {
  enabled: Setting.make(Setting.boolean, {
    env: "EVENT_VACUUM_ENABLED",
    default: false,
    doc: "turns the vacuum on; off, it costs next to nothing (the CLI's default is true)"
  }),
  transports: Setting.make(
    Setting.custom({
      check: (x) =>
        Array.isArray(x) && x.length > 0 && x.every((k) => (transportKinds as ReadonlyArray<unknown>).includes(k))
          ? Either.right(x as ReadonlyArray<TransportKind>)
          : Either.left(`expected a list of transports from ${transportKinds.join(", ")}`),
      fromText: parseTransports,
      value: `<${transportKinds.join(",")}>`
    }),
    { env: "EVENT_VACUUM_TRANSPORTS", default: ["console"], doc: `the sinks, separated by commas or semicolons: ${transportKinds.join(", ")}` }
  )
}

/**
 * `EVENT_VACUUM_ENABLED`: the vacuum is off unless this is true.
 *
 * @since 0.1.0
 */
export const enabledConfig: Config.Config<boolean> = Setting.configOf(settings.enabled)

const sinkLayer = (kind: TransportKind) => {
  switch (kind) {
    case "console":
      return ConsoleSink.layerConfig()
    case "file":
      return FileSink.layerConfig()
    case "honeycomb":
      return HoneycombSink.layerConfig()
  }
}

/**
 * The sinks named by `EVENT_VACUUM_TRANSPORTS`, each configured from env.
 *
 * @since 0.1.0
 */
export const transportLayer: Layer.Layer<Transport, ConfigError.ConfigError | TransportConfigError> = Layer.unwrapEffect(
  Effect.map(Setting.configOf(settings.transports), (kinds) => Composite.layer(...kinds.map(sinkLayer)))
).pipe(Layer.provide(Layer.merge(NodeFileSystem.layer, NodePath.layer)))

/**
 * The vacuum as the environment configures it: disabled unless
 * `EVENT_VACUUM_ENABLED` is true (or `enabled` says so).
 *
 * @since 0.1.0
 */
export const layer = (
  options: { readonly enabled?: boolean } = {}
): Layer.Layer<
  Vacuum.Vacuum,
  ConfigError.ConfigError | DedupeStoreError | TransportConfigError | Setting.InvalidSettingsError
> =>
  Layer.unwrapEffect(
    Effect.map(
      options.enabled === undefined ? enabledConfig : Effect.succeed(options.enabled),
      (enabled) =>
        enabled
          ? Vacuum.layerConfig().pipe(Layer.provide(Layer.merge(Sqlite.layerConfig(), transportLayer)))
          : Vacuum.layerDisabled
    )
  )
