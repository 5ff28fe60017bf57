/**
 * The default DedupeStore: a SQLite file in WAL mode (its folder is created
 * when missing), or `:memory:` for tests. Several processes may share one
 * file: hand-offs and claims are transactions, and a writer waits for
 * another's lock instead of failing.
 *
 * @since 0.1.0
 */
import * as Reactivity from "@effect/experimental/Reactivity"
import * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { Config, Effect, ExecutionStrategy, Exit, Layer, Schedule, Scope } from "effect"
import type { ConfigError } from "effect/ConfigError"
import * as fs from "node:fs"
import * as path from "node:path"
import { DedupeStore, DedupeStoreError } from "../DedupeStore.js"
import * as Setting from "../Setting.js"
import * as Sql from "./Sql.js"
import { defaultFilename, settings } from "../internal/settings/state.js"

/**
 * @since 0.1.0
 */
export interface Options {
  /** A file path, or `:memory:` for a store that lives as long as the layer. */
  readonly filename: string
  /**
   * `normal` (the default): a commit survives the process crashing, and the
   * last commits may be rolled back (whole: watermark and outbox together) if
   * the machine loses power. `full`: a commit also survives power loss, at an
   * fsync per commit.
   */
  readonly synchronous?: "normal" | "full" | undefined
}

/**
 * Opens (creating when missing) the SQLite file and the store on it; closes it with the scope.
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<DedupeStore["Type"], DedupeStoreError, Scope.Scope> =>
  Effect.gen(function*() {
    const { filename } = options
    if (filename !== ":memory:" && !filename.startsWith("file:")) {
      yield* Effect.try({
        try: () => makeFolders(path.dirname(path.resolve(filename))),
        catch: (cause) => openError(filename, cause)
      })
    }
    // better-sqlite3 throws when it cannot open the file: a typed error, not a defect. Each
    // attempt has a scope of its own, closed when it fails, kept with the layer's when it works.
    const outer = yield* Effect.scope
    const openOnce = Effect.flatMap(Scope.fork(outer, ExecutionStrategy.sequential), (attempt) =>
      SqliteClient.make({ filename }).pipe(
        Effect.provide(Reactivity.layer),
        Scope.extend(attempt),
        Effect.catchAllDefect((cause) => Effect.fail(openError(filename, cause))),
        Effect.tapError(() => Scope.close(attempt, Exit.void))
      ))
    // Another process creating the same file holds it while it turns on WAL, which cannot wait
    // for the lock: "database is locked" at once. Try again for a while.
    const client = yield* openOnce.pipe(
      Effect.retry({
        while: (error) => isBusy(error.cause),
        schedule: Schedule.spaced("50 millis").pipe(Schedule.jittered, Schedule.intersect(Schedule.recurs(200)))
      })
    )
    // WAL with synchronous=NORMAL syncs at checkpoints, not at every commit.
    yield* client.unsafe(`PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"}`).pipe(
      Effect.mapError((cause) => openError(filename, cause))
    )
    return yield* Effect.provideService(Sql.make, SqlClient.SqlClient, client)
  })

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdir never returns for
 * some paths (under `/proc`), this fails at once.
 */
const makeFolders = (dir: string): void => {
  if (fs.existsSync(dir)) return
  const parent = path.dirname(dir)
  if (parent !== dir) makeFolders(parent)
  fs.mkdirSync(dir)
}

const isBusy = (cause: unknown): boolean => {
  const code = (cause as { code?: unknown } | undefined)?.code
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED"
}

const openError = (filename: string, cause: unknown): DedupeStoreError =>
  new DedupeStoreError({
    operation: "open",
    description: `cannot open ${filename}: ${cause instanceof Error ? cause.message : String(cause)}`,
    cause
  })

/**
 * @since 0.1.0
 */
export const layer = (options: Options): Layer.Layer<DedupeStore, DedupeStoreError> =>
  Layer.scoped(DedupeStore, make(options))

/**
 * Its settings, declared once (see `Setting`): the table the CLI, `--help` and README read.
 *
 * @since 0.2.0
 */
export { defaultFilename, settings }

/**
 * The state path from `EVENT_VACUUM_STATE_PATH`.
 *
 * @since 0.1.0
 */
export const filenameConfig: Config.Config<string> = Setting.configOf(settings.filename)

/**
 * The SQLite store configured from env (the keys in {@link settings}), or from a `Config` of the caller's own keys.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = Setting.config(settings)
): Layer.Layer<DedupeStore, DedupeStoreError | ConfigError> =>
  Layer.scoped(DedupeStore, Effect.flatMap(Config.unwrap(config), make))
