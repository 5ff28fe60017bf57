/**
 * The DedupeStore on PostgreSQL: one state for a fleet of CUs, so each event
 * reaches each sink once fleet-wide. The same SQL as SQLite's where it is
 * common (`DedupeStore/Sql`), PostgreSQL's own where it is not: a serial
 * sequence, claims that skip rows another instance is claiming
 * (`FOR UPDATE SKIP LOCKED`) and check the lease again on the row as it is.
 * Hand-offs take a lock per process first, so two instances never both
 * hand off an evaluation, and hand-offs of other processes do not wait on
 * each other; migrations lock their table, so CUs starting at once migrate
 * once. Each hand-off and replay is announced (`NOTIFY` on a channel named
 * after the schema) and the store's `wakeups` are what the other instances
 * announce. The tables live in a schema of their own.
 *
 * @since 0.3.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqlClient from "@effect/sql/SqlClient"
import { Config, Duration, Effect, Layer, Option, Redacted, Schedule, Stream } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { Scope } from "effect/Scope"
import { DedupeStore, DedupeStoreError, type Wakeup } from "../DedupeStore.js"
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
    const from = crypto.randomUUID()
    const store = yield* Effect.provideService(Sql.makeWith({ announce: { channel: schema, from } }), SqlClient.SqlClient, client)
    return { ...store, wakeups: wakeups(client, schema, from) }
  })

/** How often a listener says something to itself, and how long it goes without hearing itself before it connects again. */
const HEARTBEAT = Duration.seconds(1)
const PATIENCE = Duration.millis(3500)

/**
 * What other instances announce on `channel`, for as long as it is run: one
 * listening connection, which connects again (backing off up to 5 s) when it
 * fails, or when it stops hearing its own heartbeat (a connection that died
 * without saying so). What this instance announced itself is left out.
 */
const wakeups = (client: PgClient.PgClient, channel: string, from: string): Stream.Stream<Wakeup> => {
  const ping = JSON.stringify({ from, ping: true })
  const session = Stream.unwrapScoped(Effect.gen(function*() {
    // Real time: this is about a real connection, whatever clock the store runs on.
    let heard = Date.now()
    const hear = (payload: string): Option.Option<Wakeup> => {
      heard = Date.now()
      try {
        const said = JSON.parse(payload) as Partial<Sql.Announcement>
        if (said.from === from || typeof said.sink !== "string") return Option.none()
        const events = Number(said.events)
        const bytes = Number(said.bytes)
        return events > 0 ? Option.some({ sink: said.sink, events, bytes: Number.isFinite(bytes) ? bytes : 0 }) : Option.none()
      } catch {
        return Option.none()
      }
    }
    // Says something to itself now and then; fails once it has not heard itself for too long.
    const watchdog = Effect.gen(function*() {
      yield* Effect.ignore(Effect.timeout(client.notify(channel, ping), HEARTBEAT))
      if (Date.now() - heard > Duration.toMillis(PATIENCE)) return yield* Effect.fail("the listener heard nothing for a while")
    }).pipe(Effect.repeat(Schedule.spaced(HEARTBEAT)))
    return Stream.merge(
      Stream.filterMap(client.listen(channel), hear),
      Stream.drain(Stream.fromEffect(watchdog)),
      { haltStrategy: "either" }
    )
  }))
  return session.pipe(
    // A defect too (an UNLISTEN on a dead connection): connect again.
    Stream.catchAllCause((cause) => Stream.fail(cause)),
    Stream.retry(Schedule.exponential("200 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")), Schedule.jittered)),
    Stream.catchAll(() => Stream.empty)
  )
}

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
