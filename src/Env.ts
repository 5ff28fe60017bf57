/**
 * The whole vacuum configured from the environment: what a CU (or the CLI)
 * provides with one layer. Off unless `EVENT_VACUUM_ENABLED` is true; then a
 * SQLite store at `EVENT_VACUUM_STATE_PATH` and the sinks named in
 * `EVENT_VACUUM_TRANSPORTS`. A bad setting fails the layer at start-up,
 * naming its key.
 *
 * @since 0.1.0
 */
import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { Config, ConfigError, Effect, Either, Layer } from "effect"
import type { DedupeStoreError } from "./DedupeStore.js"
import * as Sqlite from "./DedupeStore/Sqlite.js"
import type { Transport, TransportConfigError } from "./Transport.js"
import * as Composite from "./Transport/Composite.js"
import * as ConsoleSink from "./Transport/Console.js"
import * as FileSink from "./Transport/File.js"
import * as HoneycombSink from "./Transport/Honeycomb.js"
import type { InvalidOptionsError } from "./Vacuum.js"
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
  if (names.length === 0) return Either.left("names no transport")
  const kinds: Array<TransportKind> = []
  for (const name of names) {
    if (!(transportKinds as ReadonlyArray<string>).includes(name)) {
      return Either.left(`unknown transport ${JSON.stringify(name)}; known: ${transportKinds.join(", ")}`)
    }
    if (kinds.includes(name as TransportKind)) return Either.left(`names ${name} twice`)
    kinds.push(name as TransportKind)
  }
  return Either.right(kinds)
}

/**
 * `EVENT_VACUUM_ENABLED`: the vacuum is off unless this is true.
 *
 * @since 0.1.0
 */
export const enabledConfig: Config.Config<boolean> = Config.boolean("EVENT_VACUUM_ENABLED").pipe(
  Config.withDefault(false),
  Config.withDescription("Turns the vacuum on; off, it costs next to nothing.")
)

/**
 * `EVENT_VACUUM_TRANSPORTS`: the sinks, e.g. `console,file` (default `console`).
 *
 * @since 0.1.0
 */
export const transportsConfig: Config.Config<ReadonlyArray<TransportKind>> = Config.string("EVENT_VACUUM_TRANSPORTS").pipe(
  Config.withDefault("console"),
  Config.mapOrFail((text) =>
    Either.mapLeft(parseTransports(text), (why) => ConfigError.InvalidData(["EVENT_VACUUM_TRANSPORTS"], `the list ${why}`))
  ),
  Config.withDescription("The sinks, separated by commas or semicolons: console, file, honeycomb.")
)

const sinkLayer = (kind: TransportKind) => {
  switch (kind) {
    case "console":
      return ConsoleSink.layerConfig
    case "file":
      return FileSink.layerConfig
    case "honeycomb":
      return HoneycombSink.layerConfig
  }
}

/**
 * The sinks named by `EVENT_VACUUM_TRANSPORTS`, each configured from env.
 *
 * @since 0.1.0
 */
export const transportLayer: Layer.Layer<Transport, ConfigError.ConfigError | TransportConfigError> = Layer.unwrapEffect(
  Effect.map(transportsConfig, (kinds) => Composite.layer(...kinds.map(sinkLayer)))
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
  ConfigError.ConfigError | DedupeStoreError | TransportConfigError | InvalidOptionsError
> =>
  Layer.unwrapEffect(
    Effect.map(
      options.enabled === undefined ? enabledConfig : Effect.succeed(options.enabled),
      (enabled) =>
        enabled
          ? Vacuum.layerConfig.pipe(Layer.provide(Layer.merge(Sqlite.layerConfig(), transportLayer)))
          : Vacuum.layerDisabled
    )
  )
