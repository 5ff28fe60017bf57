import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { TransportError } from "../../src/Transport.js"
import * as FileSink from "../../src/Transport/File.js"
import { assertAllAccepted, assertJsonLine, cronFailed, plain, rateOne, sampled } from "../support/sinks.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-transport-"))

const platform = Layer.merge(NodeFileSystem.layer, NodePath.layer)

describe("File sink", () => {
  it.effect("creates missing folders and appends across sends, one {time, data} line per event", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "a", "b", "events.ndjson")
      const sink = yield* FileSink.make({ path: file })
      assert.strictEqual(sink.name, "file")
      assertAllAccepted(yield* sink.send([plain]), 1)
      assert.isTrue(fs.existsSync(file))
      assertAllAccepted(yield* sink.send([cronFailed, plain]), 2)

      const text = fs.readFileSync(file, "utf8")
      assert.isTrue(text.endsWith("\n"))
      const lines = text.split("\n").slice(0, -1)
      assert.strictEqual(lines.length, 3)
      assertJsonLine(lines[0]!, plain)
      assertJsonLine(lines[1]!, cronFailed)
      assertJsonLine(lines[2]!, plain)
    }).pipe(Effect.provide(platform)))

  it.effect("writes an event's sample rate over 1 as samplerate between time and data, none for a rate of 1", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "events.ndjson")
      const sink = yield* FileSink.make({ path: file })
      assertAllAccepted(yield* sink.send([sampled, rateOne]), 2)
      const lines = fs.readFileSync(file, "utf8").split("\n").slice(0, -1)
      assert.strictEqual(lines.length, 2)
      assert.strictEqual(lines[0]!, `{"time":"2024-09-22T10:00:02.000Z","samplerate":8,"data":${sampled.data}}`)
      assertJsonLine(lines[0]!, sampled)
      assertJsonLine(lines[1]!, rateOne)
    }).pipe(Effect.provide(platform)))

  it.effect("writes to a device or a pipe without syncing it: /dev/null and a FIFO accept every event", () =>
    Effect.gen(function*() {
      assertAllAccepted(yield* (yield* FileSink.make({ path: "/dev/null" })).send([plain, cronFailed]), 2)
      // A FIFO with a reader: the lines reach the reader.
      const fifo = path.join(tempDir(), "events.fifo")
      execFileSync("mkfifo", [fifo])
      const reader = new Promise<string>((resolve, reject) => {
        let text = ""
        fs.createReadStream(fifo, "utf8").on("data", (chunk) => (text += chunk)).on("end", () => resolve(text)).on("error", reject)
      })
      assertAllAccepted(yield* (yield* FileSink.make({ path: fifo })).send([plain]), 1)
      const text = yield* Effect.promise(() => reader)
      assertJsonLine(text.trimEnd(), plain)
    }).pipe(Effect.provide(platform)))

  it.effect("appends to a file that already has lines", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "events.ndjson")
      fs.writeFileSync(file, "{\"existing\":true}\n")
      const sink = yield* FileSink.make({ path: file, name: "archive" })
      assert.strictEqual(sink.name, "archive")
      assertAllAccepted(yield* sink.send([cronFailed]), 1)
      const lines = fs.readFileSync(file, "utf8").split("\n")
      assert.strictEqual(lines.length, 3)
      assert.strictEqual(lines[0], "{\"existing\":true}")
      assertJsonLine(lines[1]!, cronFailed)
      assert.strictEqual(lines[2], "")
    }).pipe(Effect.provide(platform)))

  it.effect("a path that cannot be written fails the send as Unavailable, naming the path", () =>
    Effect.gen(function*() {
      const blocker = path.join(tempDir(), "not-a-folder")
      fs.writeFileSync(blocker, "I am a file")
      const file = path.join(blocker, "events.ndjson")
      const sink = yield* FileSink.make({ path: file })
      const error = yield* Effect.flip(sink.send([plain]))
      assert.instanceOf(error, TransportError)
      assert.strictEqual(error.reason, "Unavailable")
      assert.strictEqual(error.sink, "file")
      assert.include(error.message, file)
      // Nothing was written next to (or into) the blocking file.
      assert.strictEqual(fs.readFileSync(blocker, "utf8"), "I am a file")
    }).pipe(Effect.provide(platform)))
})

