/**
 * The CLI's input: evaluation records, one JSON per line, from a file or
 * stdin, read in chunks of about a megabyte. Each chunk's complete lines come
 * as one array, so the caller does its per-line work in plain code and
 * yields to the vacuum's fibers once a chunk, not once a line. Invalid UTF-8
 * becomes U+FFFD; `\r\n` ends a line like `\n`.
 *
 * @internal
 */
import * as NodeStream from "@effect/platform-node/NodeStream"
import { Effect, Schema, Stream } from "effect"
import * as fs from "node:fs"
import { StringDecoder } from "node:string_decoder"

/**
 * A failure the CLI reports as one line and a non-zero exit.
 *
 * @since 0.1.0
 */
export class CliError extends Schema.TaggedError<CliError>()("CliError", { description: Schema.String }) {
  override get message(): string {
    return this.description
  }
}

/** Where a line is, for messages: `file:n` or `stdin:n`. */
export const where = (file: string, n: number) => `${file === "-" ? "stdin" : file}:${n}`

const CHUNK = 1 << 20

/** The lines of `file` (`-` for stdin), a chunk's complete lines at a time. */
export const lineChunks = (file: string): Stream.Stream<ReadonlyArray<string>, CliError> =>
  Stream.unwrapScoped(
    Effect.gen(function*() {
      const input = file === "-" ? process.stdin : fs.createReadStream(file, { highWaterMark: CHUNK })
      const cannot = (error: unknown) =>
        new CliError({ description: `cannot read ${file}: ${error instanceof Error ? error.message : String(error)}` })
      if (file !== "-") {
        yield* Effect.async<void, CliError>((resume) => {
          input.once("error", (error: Error) => resume(Effect.fail(cannot(error))))
          input.once("open", () => resume(Effect.void))
        })
        yield* Effect.addFinalizer(() => Effect.sync(() => (input as fs.ReadStream).destroy()))
      }
      const decoder = new StringDecoder("utf8")
      let rest = ""
      let first = true
      const split = (text: string, last: boolean): Array<string> => {
        // A byte-order mark at the start of the input is not part of line 1.
        if (first && text.length > 0) {
          first = false
          if (text.charCodeAt(0) === 0xfeff) text = text.slice(1)
        }
        const lines = (rest + text).split("\n")
        rest = last ? "" : lines.pop()!
        if (last && lines[lines.length - 1] === "") lines.pop()
        for (let i = 0; i < lines.length; i++) {
          const line = lines[i]!
          if (line.endsWith("\r")) lines[i] = line.slice(0, -1)
        }
        return lines
      }
      // Node's stream adapter, not an async iterator: a signal can stop the read at once, even
      // while stdin is open and quiet (an iterator's pending read would hold the interruption).
      return NodeStream.fromReadable<CliError, Buffer | string>(() => input, cannot, { closeOnDone: file !== "-" }).pipe(
        Stream.map((chunk) => split(typeof chunk === "string" ? chunk : decoder.write(chunk as Buffer), false)),
        Stream.concat(Stream.sync(() => split(decoder.end(), true))),
        Stream.filter((lines) => lines.length > 0)
      )
    })
  )

/** The record on a line: the JSON value, `blank`, or `bad` when it is not JSON. */
export const parseRecord = (line: string): unknown => {
  if (line.length === 0 || line.trim() === "") return blank
  try {
    return JSON.parse(line) as unknown
  } catch {
    return bad
  }
}

/** A blank line: skipped. */
export const blank: unique symbol = Symbol.for("ao-event-vacuum/cli/blank")

/** A line that is not JSON: reported by number. */
export const bad: unique symbol = Symbol.for("ao-event-vacuum/cli/bad")

/** Writes to stdout, waiting when it is full (so a slow reader bounds memory). */
export const writeOut = (text: string): Effect.Effect<void> =>
  text.length === 0
    ? Effect.void
    : Effect.async<void>((resume) => {
      if (process.stdout.write(text)) resume(Effect.void)
      else process.stdout.once("drain", () => resume(Effect.void))
    })
