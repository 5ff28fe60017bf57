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
import { Config, ConfigError, Effect, Layer } from "effect"
import type { DedupeStoreError } from "./DedupeStore.js"
import * as State from "./internal/state.js"
import type { Transport, TransportConfigError } from "./Transport.js"
import * as Composite from "./Transport/Composite.js"
import * as ConsoleSink from "./Transport/Console.js"
import * as FileSink from "./Transport/File.js"
import * as HoneycombSink from "./Transport/Honeycomb.js"
import * as Setting from "./Setting.js"
import * as Vacuum from "./Vacuum.js"
import { parseTransports, settings, transportKinds } from "./internal/settings/env.js"
import type { TransportKind } from "./internal/settings/env.js"

/**
 * Its settings, declared once (see `Setting`): the table the CLI, `--help` and README read.
 *
 * @since 0.2.0
 */
export { parseTransports, settings, transportKinds }
export type { TransportKind }

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
    case "kinesis":
      // The AWS SDK loads only where a kinesis sink is asked for.
      return Layer.unwrapEffect(Effect.map(Effect.promise(() => import("./Transport/Kinesis.js")), (k) => k.layerConfig()))
    case "otlp":
      // protobuf.js and the schema load only where an otlp sink is asked for.
      return Layer.unwrapEffect(Effect.map(Effect.promise(() => import("./Transport/Otlp.js")), (o) => o.layerConfig()))
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
          ? Vacuum.layerConfig().pipe(Layer.provide(Layer.merge(State.layerConfig, transportLayer)))
          : Vacuum.layerDisabled
    )
  )
