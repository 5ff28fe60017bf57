import { NodeFileSystem, NodePath } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { Sink } from "../src/Transport.js"
import { make, Transport, TransportConfigError } from "../src/Transport.js"
import * as Composite from "../src/Transport/Composite.js"
import * as ConsoleSink from "../src/Transport/Console.js"
import * as FileSink from "../src/Transport/File.js"
import { assertAllAccepted, assertJsonLine, plain } from "./support/sinks.js"

const tempDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-transport-"))

const platform = Layer.merge(NodeFileSystem.layer, NodePath.layer)

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
