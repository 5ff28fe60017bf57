/**
 * What the caller's thread and the vacuum's thread say to each other. Batches
 * of evaluations go one way as `[end, text]`; `end` is where the batch ends in
 * the count of text ever posted, which the vacuum's thread stores in a shared
 * counter once the batch's evaluations are in the store, so the caller's
 * thread never runs a handler per batch. Everything else is a small object:
 * requests and their answers, the vacuum thread's log lines, its start.
 *
 * Errors cross as plain data and are rebuilt as the same typed errors, so a
 * bad setting reads the same whichever thread found it.
 *
 * @internal
 */
import { Cause, ConfigError } from "effect"
import { DedupeStoreError } from "../../DedupeStore.js"
import { InvalidSettingsError } from "../../Setting.js"
import { TransportConfigError } from "../../Transport.js"

/** What the vacuum's thread starts with. */
export interface WorkerData {
  /** The settings as text, by env key: the vacuum's thread reads its Config from them. */
  readonly config: ReadonlyArray<readonly [string, string]>
  /**
   * `Int32Array` slot {@link ACKED}: where the text handed off and stored ends (wrapping at 2^32);
   * slot {@link HELD}: 1 while the caller's thread holds batches back for the window.
   */
  readonly shared: SharedArrayBuffer
  /** The caller's minimum log level (`LogLevel._tag`): below it, nothing is sent over. */
  readonly logLevel: string
  /** The name this thread's claims go by in the store. */
  readonly owner: string
  /** The names of the threads before it, which died: their claims are given back at the start. */
  readonly gone: ReadonlyArray<string>
}

/** Slots of the shared counters. */
export const ACKED = 0
export const HELD = 1

/**
 * The most text (characters) with the vacuum's thread and not yet stored: what it holds while
 * it works is bounded by this, not by `maxQueuedBytes` (which the caller's thread holds anyway,
 * to hand to a new thread). A batch larger than the window crosses alone.
 */
export const WINDOW = 4 * 1024 * 1024

export type Op =
  | { readonly op: "snapshot" }
  /** Waits until the text up to `end` is stored (or counted as lost). */
  | { readonly op: "flush"; readonly end: number }
  /** As `flush`, then waits for the sinks, for at most `millis` in all. */
  | { readonly op: "drain"; readonly end: number; readonly millis: number }
  | { readonly op: "replay"; readonly sink?: string | undefined; readonly seqs?: ReadonlyArray<number> | undefined }
  | { readonly op: "close" }
  /** Ends the thread as a crash would (tests: the restart and what is handed over again). */
  | { readonly op: "exit"; readonly code: number }

/** To the vacuum's thread: its settings, then batches (`[end, text]`) and requests. */
export type ToWorker =
  | readonly [number, string]
  | { readonly t: "req"; readonly id: number; readonly req: Op }
  /** The first message: what the thread is to be (it may have been started before the caller knew). */
  | { readonly t: "init"; readonly data: WorkerData }

/** From the vacuum's thread. */
export type FromWorker =
  | { readonly t: "ready" }
  /** The window has room again: the caller's thread sends what it held back. */
  | { readonly t: "room" }
  | { readonly t: "failed"; readonly error: WireError }
  | { readonly t: "res"; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly t: "res"; readonly id: number; readonly ok: false; readonly error: WireError }
  | {
    readonly t: "log"
    readonly level: string
    readonly message: ReadonlyArray<string>
    readonly annotations: ReadonlyArray<readonly [string, string]>
  }

type WireConfigError =
  | { readonly op: "And" | "Or"; readonly left: WireConfigError; readonly right: WireConfigError }
  | {
    readonly op: "InvalidData" | "MissingData" | "SourceUnavailable" | "Unsupported"
    readonly path: ReadonlyArray<string>
    readonly message: string
  }

export type WireError =
  | { readonly _tag: "DedupeStoreError"; readonly operation: string; readonly description: string; readonly transient?: boolean | undefined }
  | { readonly _tag: "TransportConfigError"; readonly description: string }
  | { readonly _tag: "InvalidSettingsError"; readonly scope: string; readonly issues: ReadonlyArray<string> }
  | { readonly _tag: "ConfigError"; readonly tree: WireConfigError }
  | { readonly _tag: "Defect"; readonly message: string }

/** The errors a vacuum's start or its requests fail with, as the caller's thread knows them. */
export type ThreadError = DedupeStoreError | TransportConfigError | InvalidSettingsError | ConfigError.ConfigError

const configTree = (e: ConfigError.ConfigError): WireConfigError => {
  switch (e._op) {
    case "And":
    case "Or":
      return { op: e._op, left: configTree(e.left), right: configTree(e.right) }
    default:
      return { op: e._op, path: [...e.path], message: e.message }
  }
}

const configError = (tree: WireConfigError): ConfigError.ConfigError => {
  switch (tree.op) {
    case "And":
      return ConfigError.And(configError(tree.left), configError(tree.right))
    case "Or":
      return ConfigError.Or(configError(tree.left), configError(tree.right))
    case "InvalidData":
      return ConfigError.InvalidData([...tree.path], tree.message)
    case "MissingData":
      return ConfigError.MissingData([...tree.path], tree.message)
    case "SourceUnavailable":
      return ConfigError.SourceUnavailable([...tree.path], tree.message, Cause.empty)
    case "Unsupported":
      return ConfigError.Unsupported([...tree.path], tree.message)
  }
}

/** A failure as data (its cause, where it has one, as words: a store's driver error does not cross). */
export const toWire = (error: unknown): WireError => {
  if (error instanceof DedupeStoreError) {
    return { _tag: "DedupeStoreError", operation: error.operation, description: error.description, transient: error.transient }
  }
  if (error instanceof TransportConfigError) return { _tag: "TransportConfigError", description: error.description }
  if (error instanceof InvalidSettingsError) return { _tag: "InvalidSettingsError", scope: error.scope, issues: [...error.issues] }
  if (ConfigError.isConfigError(error)) return { _tag: "ConfigError", tree: configTree(error) }
  return { _tag: "Defect", message: error instanceof Error ? `${error.name}: ${error.message}` : String(error) }
}

/** A defect rebuilt by {@link fromWire} (or a thread that died before it could say why), not a typed error. */
export const isDefect = (error: ThreadError | Error): error is Error =>
  !ConfigError.isConfigError(error) && !("_tag" in error)

/** The typed error again; a defect is an `Error` with its words, to die with. */
export const fromWire = (wire: WireError): ThreadError | Error => {
  switch (wire._tag) {
    case "DedupeStoreError":
      return new DedupeStoreError({
        operation: wire.operation,
        description: wire.description,
        ...(wire.transient === undefined ? {} : { transient: wire.transient })
      })
    case "TransportConfigError":
      return new TransportConfigError({ description: wire.description })
    case "InvalidSettingsError":
      return new InvalidSettingsError({ scope: wire.scope, issues: wire.issues })
    case "ConfigError":
      return configError(wire.tree)
    case "Defect":
      return new Error(wire.message)
  }
}
