import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import type { Console } from "effect"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { OutboundEvent } from "../src/Enrich.js"
import type { Sink } from "../src/Transport.js"
import { make, Transport, TransportConfigError, TransportError } from "../src/Transport.js"
import * as Composite from "../src/Transport/Composite.js"
import * as ConsoleSink from "../src/Transport/Console.js"
import * as FileSink from "../src/Transport/File.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-transport-"))

const platform = Layer.merge(NodeFileSystem.layer, NodePath.layer)

/** Runs `effect` with a Console whose `log` calls are captured; answers the result and every logged line. */
const capturingLog = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const base = yield* Effect.console
    const logged: Array<string> = []
    const console: Console.Console = {
      ...base,
      log: (...args: ReadonlyArray<any>) => Effect.sync(() => void logged.push(args.map(String).join(" ")))
    }
    const result = yield* Effect.withConsole(effect, console)
    // A log call may carry several lines: count what a terminal would show.
    return { result, lines: logged.join("\n").split("\n"), calls: logged.length }
  })

const event = (id: string, time: number, fields: Record<string, unknown>): OutboundEvent => ({
  id,
  time,
  data: JSON.stringify(fields)
})

const plain = event("e1", Date.UTC(2024, 8, 22, 10, 0, 0, 123), {
  processId: "PROC_A",
  nonce: 7,
  messageId: "MSG_7",
  timestamp: 1727000000000,
  gasUsed: 5,
  memorySize: 1024,
  failed: false,
  eventId: "e1",
  Action: "Transfer",
  Quantity: "1000000",
  nested: { a: [1, 2] }
})

const cronFailed = event("e2", Date.UTC(2024, 8, 22, 10, 0, 1, 0), {
  processId: "PROC_B",
  nonce: 12,
  cron: "0-10-minutes",
  messageId: "MSG_12",
  timestamp: 1727000001000,
  gasUsed: 9,
  failed: true,
  eventId: "e2",
  Action: "Tick",
  ok: true
})

const parseLine = (line: string) => JSON.parse(line) as { time: string; data: Record<string, unknown> }

const assertJsonLine = (line: string, e: OutboundEvent) => {
  const parsed = parseLine(line)
  assert.deepStrictEqual(Object.keys(parsed), ["time", "data"])
  assert.strictEqual(parsed.time, new Date(e.time).toISOString())
  assert.strictEqual(Date.parse(parsed.time), e.time)
  assert.deepStrictEqual(parsed.data, JSON.parse(e.data))
}

const assertAllAccepted = (statuses: ReadonlyArray<{ readonly _tag: string }>, n: number) => {
  assert.strictEqual(statuses.length, n)
  for (const s of statuses) assert.strictEqual(s._tag, "Accepted")
}

/** The `key=value` pairs of a pretty line. */
const pairs = (line: string): Array<string> => line.split(" ").filter((part) => part.includes("="))

describe("Console sink", () => {
  it.effect("json: one line per event, {time, data}, parsing back to the event", () =>
    Effect.gen(function*() {
      const sink = ConsoleSink.make({ format: "json" })
      assert.strictEqual(sink.name, "console")
      const { lines, result } = yield* capturingLog(sink.send([plain, cronFailed]))
      assertAllAccepted(result, 2)
      assert.strictEqual(lines.length, 2)
      assertJsonLine(lines[0]!, plain)
      assertJsonLine(lines[1]!, cronFailed)
    }))

  it.effect("pretty: time, process, #nonce, then the event's own fields as key=value", () =>
    Effect.gen(function*() {
      const sink = ConsoleSink.make({ format: "pretty" })
      const { lines, result } = yield* capturingLog(sink.send([plain]))
      assertAllAccepted(result, 1)
      assert.strictEqual(lines.length, 1)
      const line = lines[0]!
      assert.isTrue(line.startsWith(`${new Date(plain.time).toISOString()} PROC_A #7`), line)
      assert.notInclude(line, "cron")
      assert.notInclude(line, "(failed evaluation)")
      assert.deepStrictEqual(pairs(line), ["Action=Transfer", "Quantity=1000000", "nested={\"a\":[1,2]}"])
    }))

  it.effect("pretty: shows cron and a failed evaluation, and never the context as key=value", () =>
    Effect.gen(function*() {
      const sink = ConsoleSink.make()
      const { lines, result } = yield* capturingLog(sink.send([cronFailed]))
      assertAllAccepted(result, 1)
      assert.strictEqual(lines.length, 1)
      const line = lines[0]!
      assert.isTrue(line.startsWith(`${new Date(cronFailed.time).toISOString()} PROC_B #12`), line)
      assert.include(line, " cron 0-10-minutes")
      assert.include(line, " (failed evaluation)")
      assert.deepStrictEqual(pairs(line), ["Action=Tick", "ok=true"])
      const keys = pairs(line).map((p) => p.slice(0, p.indexOf("=")))
      for (const context of ["processId", "nonce", "messageId", "timestamp", "gasUsed", "memorySize", "failed", "eventId", "cron"]) {
        assert.notInclude(keys, context)
      }
    }))

  it.effect("pretty: a value with a line break or spaces stays on the event's one line", () =>
    Effect.gen(function*() {
      const e = event("e3", 1727000000000, { processId: "P", nonce: 1, eventId: "e3", note: "two\nlines", who: "a b" })
      const { lines } = yield* capturingLog(ConsoleSink.make().send([e, plain]))
      assert.strictEqual(lines.length, 2)
      assert.include(lines[0]!, "note=\"two\\nlines\"")
      assert.include(lines[0]!, "who=\"a b\"")
      assert.isTrue(lines[1]!.includes("PROC_A #7"))
    }))

  it.effect("answers one Accepted per event, for a batch of many, with one line each", () =>
    Effect.gen(function*() {
      const batch = Array.from({ length: 25 }, (_, i) =>
        event(`id${i}`, 1727000000000 + i, { processId: "P", nonce: i, eventId: `id${i}`, i }))
      for (const format of ["pretty", "json"] as const) {
        const { lines, result } = yield* capturingLog(ConsoleSink.make({ format }).send(batch))
        assertAllAccepted(result, 25)
        assert.strictEqual(lines.length, 25)
        if (format === "json") lines.forEach((line, i) => assertJsonLine(line, batch[i]!))
        else lines.forEach((line, i) => assert.deepStrictEqual(pairs(line), [`i=${i}`]))
      }
    }))

  it.effect("the layer gives one sink with the name asked for", () =>
    Effect.gen(function*() {
      const { sinks } = yield* Transport
      assert.deepStrictEqual(sinks.map((s) => s.name), ["stdout"])
    }).pipe(Effect.provide(ConsoleSink.layer({ name: "stdout" }))))
})

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

const sinkNamed = (name: string): Sink => ({ name, send: (batch) => Effect.succeed(batch.map(() => ({ _tag: "Accepted" as const }))) })

describe("Transport.make and Composite.layer", () => {
  it.effect("keeps the sinks in order when their names are unique", () =>
    Effect.gen(function*() {
      const transport = yield* make([sinkNamed("a"), sinkNamed("b"), sinkNamed("c")])
      assert.deepStrictEqual(transport.sinks.map((s) => s.name), ["a", "b", "c"])
    }))

  it.effect("a duplicate name fails, naming the name", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(make([sinkNamed("a"), sinkNamed("honeycomb"), sinkNamed("honeycomb")]))
      assert.instanceOf(error, TransportConfigError)
      assert.include(error.message, "\"honeycomb\"")
    }))

  it.effect("an empty name fails", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(make([sinkNamed("a"), sinkNamed("")]))
      assert.instanceOf(error, TransportConfigError)
      assert.include(error.message, "empty name")
    }))

  it.effect("Composite.layer(Console, File) gives both sinks, in order", () =>
    Effect.gen(function*() {
      const file = path.join(tempDir(), "out.ndjson")
      const context = yield* Layer.build(Composite.layer(ConsoleSink.layer(), FileSink.layer({ path: file })))
      const { sinks } = Context.get(context, Transport)
      assert.deepStrictEqual(sinks.map((s) => s.name), ["console", "file"])
      // They are the real sinks: the second writes the file.
      assertAllAccepted(yield* sinks[1]!.send([plain]), 1)
      assertJsonLine(fs.readFileSync(file, "utf8").trimEnd(), plain)
    }).pipe(Effect.scoped, Effect.provide(platform)))

  it.effect("two console layers with the default name fail, naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(Layer.build(Composite.layer(ConsoleSink.layer(), ConsoleSink.layer({ format: "json" }))))
      assert.instanceOf(error, TransportConfigError)
      assert.include(error.message, "\"console\"")
    }).pipe(Effect.scoped))

  it.effect("two console layers with their own names are fine", () =>
    Effect.gen(function*() {
      const context = yield* Layer.build(
        Composite.layer(ConsoleSink.layer(), ConsoleSink.layer({ name: "console-json", format: "json" }))
      )
      assert.deepStrictEqual(Context.get(context, Transport).sinks.map((s) => s.name), ["console", "console-json"])
    }).pipe(Effect.scoped))
})
