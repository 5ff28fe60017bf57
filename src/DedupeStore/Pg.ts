/**
 * The DedupeStore on PostgreSQL: one state for a fleet of CUs, so each event
 * reaches each sink once fleet-wide. The same SQL as SQLite's where it is
 * common (`DedupeStore/Sql`), PostgreSQL's own where it is not: a serial
 * sequence, claims that skip rows another instance is claiming
 * (`FOR UPDATE SKIP LOCKED`) and check the lease again on the row as it is.
 * Hand-offs take one row lock first, so two instances never both hand off
 * an evaluation; migrations lock their table, so CUs starting at once
 * migrate once. The tables live in a schema of their own.
 *
 * @since 0.3.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Config, Duration, Effect, Layer, Redacted } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { Scope } from "effect/Scope"
import { DedupeStore, DedupeStoreError } from "../DedupeStore.js"
import { settings } from "../internal/settings/statePg.js"
import * as Setting from "../Setting.js"
import * as Sql from "./Sql.js"

/**
 * Its settings, declared once (see `Setting`).
 *
 * @since 0.3.0
 */
export { settings }

/**
 * @since 0.3.0
 */
export interface Options {
  /** `postgres://user:password@host:port/database`. */
  readonly url: string | Redacted.Redacted<string>
  readonly poolSize?: number | undefined
  readonly statementTimeout?: Duration.DurationInput | undefined
  /** The schema of the vacuum's tables: `event_vacuum` unless given. */
  readonly schema?: string | undefined
}

/**
 * The URL as it may be shown: no password, no parameters.
 *
 * @since 0.3.0
 */
export const shown = (url: string): string => {
  try {
    const u = new URL(url)
    return `${u.protocol}//${u.username === "" ? "" : `${u.username}@`}${u.host}${u.pathname}`
  } catch {
    return "(not a URL)"
  }
}

/** A driver's error in a few words (a refused connection's cause has no message of its own). */
const describe = (cause: unknown): string => {
  if (cause instanceof AggregateError && cause.errors.length > 0) return describe(cause.errors[0])
  const { message } = (cause ?? {}) as { message?: unknown }
  return typeof message === "string" && message !== "" ? message : String(cause)
}

/**
 * @since 0.3.0
 */
export const make = (options: Options): Effect.Effect<DedupeStore["Type"], DedupeStoreError, Scope> =>
  Effect.gen(function*() {
    const text = Redacted.isRedacted(options.url) ? Redacted.value(options.url) : options.url
    const where = `EVENT_VACUUM_STATE_URL (${shown(text)})`
    const openError = (description: string, cause?: unknown) =>
      new DedupeStoreError({ operation: "open", description: `${where}: ${description}`, cause })
    let url: URL
    try {
      url = new URL(text)
      if (!/^postgres(ql)?:$/.test(url.protocol)) throw new Error("not postgres")
    } catch {
      return yield* openError("not a postgres:// URL")
    }
    const schema = options.schema ?? "event_vacuum"
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      return yield* new DedupeStoreError({
        operation: "open",
        description: `EVENT_VACUUM_STATE_SCHEMA: expected a schema name of a-z 0-9 _, got ${JSON.stringify(schema)}`
      })
    }
    const timeout = Math.round(Duration.toMillis(Duration.decode(options.statementTimeout ?? "30 seconds")))
    // Every session: the vacuum's schema first, and a bound on each statement.
    const given = url.searchParams.get("options")
    url.searchParams.set("options", `${given === null ? "" : `${given} `}-c search_path=${schema} -c statement_timeout=${timeout}`)
    const client = yield* PgClient.make({
      url: Redacted.make(url.href),
      maxConnections: options.poolSize ?? 4,
      applicationName: "event-vacuum"
    }).pipe(
      Effect.provide(Reactivity.layer),
      Effect.mapError((error) => openError(describe(error.cause), error))
    )
    yield* client.unsafe(`CREATE SCHEMA IF NOT EXISTS ${schema}`).pipe(
      // Another CU creating it at the same moment: it exists either way.
      Effect.catchIf((e) => (e.cause as { code?: string } | undefined)?.code === "23505", () => Effect.void),
      Effect.mapError((error) => openError(`cannot create the schema ${schema}: ${describe(error.cause)}`, error))
    )
    return yield* Effect.provideService(Sql.make, SqlClient.SqlClient, client)
  })

/**
 * @since 0.3.0
 */
export const layer = (options: Options): Layer.Layer<DedupeStore, DedupeStoreError> => Layer.scoped(DedupeStore, make(options))

/**
 * The store from env: `EVENT_VACUUM_STATE_URL` and the others in {@link settings}.
 *
 * @since 0.3.0
 */
export const layerConfig = (
  config: Config.Config<Setting.Values<typeof settings>> = Setting.config(settings)
): Layer.Layer<DedupeStore, DedupeStoreError | ConfigError> =>
  Layer.unwrapEffect(Effect.map(config, (values) => layer(values)))
