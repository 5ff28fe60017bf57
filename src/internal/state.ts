/**
 * Where the state lives, from the environment: PostgreSQL when
 * `EVENT_VACUUM_STATE_URL` names a database (its client loaded only then),
 * else the SQLite file (`EVENT_VACUUM_STATE_PATH`).
 *
 * @internal
 */
import { Effect, Layer, Redacted } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { DedupeStore, DedupeStoreError } from "../DedupeStore.js"
import * as Sqlite from "../DedupeStore/Sqlite.js"
import * as Setting from "../Setting.js"
import { settings as pgSettings } from "./settings/statePg.js"

/** The PostgreSQL URL given, if any. */
export const stateUrl: Effect.Effect<string | undefined, ConfigError> = Effect.map(
  Setting.configOf(pgSettings.url),
  (url) => (Redacted.value(url) === "none" ? undefined : Redacted.value(url))
)

/** The store the environment names. */
export const layerConfig: Layer.Layer<DedupeStore, DedupeStoreError | ConfigError> = Layer.unwrapEffect(
  Effect.gen(function*() {
    if ((yield* stateUrl) === undefined) return Sqlite.layerConfig()
    const Pg = yield* Effect.promise(() => import("../DedupeStore/Pg.js"))
    return Pg.layerConfig()
  })
)
