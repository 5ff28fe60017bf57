/**
 * The whole vacuum configured from the environment: what a CU (or the CLI)
 * provides with one layer. Off unless `EVENT_VACUUM_ENABLED` is true; then a
 * SQLite store at `EVENT_VACUUM_STATE_PATH` and the sinks named in
 * `EVENT_VACUUM_TRANSPORTS`. A bad setting fails the layer at start-up,
 * naming its key.
 *
 * @since 0.1.0
 */
import { Config, ConfigError, ConfigProvider, Effect, Layer, Option } from "effect"
import type { DedupeStoreError } from "./DedupeStore.js"
import { keys } from "./internal/settings/all.js"
import * as Thread from "./internal/thread/host.js"
import type { Transport, TransportConfigError } from "./Transport.js"
import * as Composite from "./Transport/Composite.js"
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

/**
 * A layer whose module loads when the layer is built. The store's and the sinks' modules (SQLite,
 * the HTTP client, the AWS SDK, protobuf.js) load only where they run: on the vacuum's own thread by
 * default, so the caller's thread (the CU's) never holds them.
 */
const lazily = <M, A, E, R>(load: () => Promise<M>, make: (module: M) => Layer.Layer<A, E, R>): Layer.Layer<A, E, R> =>
  Layer.unwrapEffect(Effect.map(Effect.promise(load), make))

const sinkLayer = (kind: TransportKind) => {
  switch (kind) {
    case "console":
      return lazily(() => import("./Transport/Console.js"), (m) => m.layerConfig())
    case "file":
      return lazily(() => import("./Transport/File.js"), (m) => m.layerConfig())
    case "honeycomb":
      return lazily(() => import("./Transport/Honeycomb.js"), (m) => m.layerConfig())
    case "kinesis":
      return lazily(() => import("./Transport/Kinesis.js"), (m) => m.layerConfig())
    case "otlp":
      return lazily(() => import("./Transport/Otlp.js"), (m) => m.layerConfig())
  }
}

/** Node's file system and paths, for the file sink. */
const nodeFiles = lazily(
  () => Promise.all([import("@effect/platform-node/NodeFileSystem"), import("@effect/platform-node/NodePath")]),
  ([files, paths]) => Layer.merge(files.layer, paths.layer)
)

/**
 * The sinks named by `EVENT_VACUUM_TRANSPORTS`, each configured from env.
 *
 * @since 0.1.0
 */
export const transportLayer: Layer.Layer<Transport, ConfigError.ConfigError | TransportConfigError> = Layer.unwrapEffect(
  Effect.map(Setting.configOf(settings.transports), (kinds) => Composite.layer(...kinds.map(sinkLayer)))
).pipe(Layer.provide(nodeFiles))

/**
 * The vacuum on a thread of its own (`EVENT_VACUUM_THREAD=worker`, the
 * default): the caller's thread reads each record and hands it over in
 * batches; the store and the sinks named by the settings are built on the
 * vacuum's thread, from the same settings (read here, so a bad one fails here,
 * naming its key). `overrides` replace settings by env key, as text.
 *
 * @since 0.4.0
 */
export const layerThread = (
  overrides: Readonly<Record<string, string>> = {}
): Layer.Layer<
  Vacuum.Vacuum,
  ConfigError.ConfigError | DedupeStoreError | TransportConfigError | Setting.InvalidSettingsError
> =>
  Layer.scoped(
    Vacuum.Vacuum,
    Effect.gen(function*() {
      const config = new Map<string, string>()
      for (const key of keys()) {
        const text = key in overrides ? Option.some(overrides[key]!) : yield* Config.option(Config.string(key))
        if (Option.isSome(text)) config.set(key, text.value)
      }
      const options = yield* Effect.withConfigProvider(Setting.config(Vacuum.settings), ConfigProvider.fromMap(config))
      const settings = yield* Vacuum.decodeOptions(options)
      return yield* Thread.make({ settings, config })
    })
  )

/**
 * The vacuum on the caller's thread (`EVENT_VACUUM_THREAD=caller`), on the store and sinks the environment names.
 *
 * @since 0.4.0
 */
export const layerCaller: Layer.Layer<
  Vacuum.Vacuum,
  ConfigError.ConfigError | DedupeStoreError | TransportConfigError | Setting.InvalidSettingsError
> = Vacuum.layerConfig().pipe(
  Layer.provide(Layer.merge(lazily(() => import("./internal/state.js"), (State) => State.layerConfig), transportLayer))
)

/**
 * The vacuum as the environment configures it: disabled unless
 * `EVENT_VACUUM_ENABLED` is true (or `enabled` says so); on its own thread
 * unless `EVENT_VACUUM_THREAD` says `caller`.
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
    Effect.gen(function*() {
      const enabled = options.enabled ?? (yield* enabledConfig)
      if (!enabled) return Vacuum.layerDisabled
      return (yield* Setting.configOf(settings.thread)) === "worker" ? layerThread() : layerCaller
    })
  )
