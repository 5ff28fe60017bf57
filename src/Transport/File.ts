/**
 * A sink that appends events to a file, one JSON per line
 * (`{"time": RFC3339, "data": {...}}`, with `"samplerate": N` between them
 * for an event whose sample rate is over 1; see `Console.jsonLine`): for
 * local analysis, and a plain sink for tests. A batch counts as delivered
 * once it is written and synced.
 *
 * @since 0.1.0
 */
import * as FileSystem from "@effect/platform/FileSystem"
import * as Path from "@effect/platform/Path"
import { Config, Effect, Layer } from "effect"
import type { ConfigError } from "effect/ConfigError"
import type { Sink, Transport, TransportConfigError } from "../Transport.js"
import { allAccepted, layerSink, TransportError } from "../Transport.js"
import * as Setting from "../Setting.js"
import { jsonLine } from "./Console.js"
import { settings } from "../internal/settings/file.js"
import type { SinkSelection } from "../internal/settings/selection.js"
import { sinkSelection } from "../internal/settings/selection.js"

/**
 * @since 0.1.0
 */
export interface Options extends SinkSelection {
  readonly path: string
  /** Defaults to `file`. */
  readonly name?: string | undefined
}

/**
 * The file sink. The file and its folder are created when missing; each batch
 * is appended with one write and synced before it is acknowledged (a device
 * or a pipe, such as `/dev/null`, is written, not synced; `/dev/stdout` and
 * `/dev/stderr` are written through the process's own streams, whatever they are).
 *
 * @since 0.1.0
 */
export const make = (options: Options): Effect.Effect<Sink, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function*() {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const name = options.name ?? "file"
    const encoder = new TextEncoder()
    const unavailable = (cause: { readonly message: string }) =>
      new TransportError({ sink: name, reason: "Unavailable", description: `${options.path}: ${cause.message}` })

    const append = (bytes: Uint8Array) => {
      const standard = standardStream(options.path)
      return standard === undefined ? appendToFile(bytes) : writeTo(standard, bytes)
    }
    // Standard output or error named as a path goes through the process's own stream: opening
    // /dev/stdout fails (ENXIO) where it is a socket, as a service manager's journal gives it.
    const writeTo = (stream: NodeJS.WritableStream, bytes: Uint8Array) =>
      Effect.async<void, TransportError>((resume) => {
        stream.write(bytes, (error) => resume(error ? Effect.fail(unavailable(error)) : Effect.void))
      })
    const appendToFile = (bytes: Uint8Array) =>
      Effect.scoped(
        Effect.gen(function*() {
          yield* fs.makeDirectory(path.dirname(options.path), { recursive: true })
          const file = yield* fs.open(options.path, { flag: "a" })
          yield* file.writeAll(bytes)
          // A file is synced; a device or a pipe (/dev/null, /dev/stdout, a FIFO) has nothing to sync.
          if ((yield* file.stat).type === "File") yield* file.sync
        })
      ).pipe(Effect.mapError(unavailable))

    return {
      name,
      send: (batch) =>
        Effect.suspend(() =>
          Effect.as(
            append(encoder.encode(batch.map((event) => jsonLine(event) + "\n").join(""))),
            allAccepted(batch.length)
          )
        ),
      selection: sinkSelection(options, "EVENT_VACUUM_FILE_")
    }
  })

/** The process's standard output or error, when the path names one of them. */
const standardStream = (file: string): NodeJS.WritableStream | undefined => {
  const fd = /^\/dev\/std(out|err)$/.exec(file)?.[1] ?? /^\/(?:dev|proc\/self)\/fd\/([12])$/.exec(file)?.[1]
  if (fd === undefined) return undefined
  return fd === "out" || fd === "1" ? process.stdout : process.stderr
}

/**
 * @since 0.1.0
 */
export const layer = (
  options: Options
): Layer.Layer<Transport, TransportConfigError, FileSystem.FileSystem | Path.Path> => layerSink(make(options))

/**
 * Its settings, declared once (see `Setting`): the table the CLI, `--help` and README read.
 *
 * @since 0.2.0
 */
export { settings }

/**
 * The file sink configured from env (the keys in {@link settings}), or from a `Config` of the caller's own keys.
 *
 * @since 0.1.0
 */
export const layerConfig = (
  config: Config.Config.Wrap<Options> = Setting.config(settings)
): Layer.Layer<Transport, TransportConfigError | ConfigError, FileSystem.FileSystem | Path.Path> =>
  Layer.unwrapEffect(Effect.map(Config.unwrap(config), layer))
