import { assert, describe, it } from "@effect/vitest"
import type { Console } from "effect"
import { Effect } from "effect"
import { Transport } from "../../src/Transport.js"
import * as ConsoleSink from "../../src/Transport/Console.js"
import { outbound } from "../support/harness.js"
import { assertAllAccepted, assertJsonLine, cronFailed, plain, rateOne, sampled } from "../support/sinks.js"

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

  it.effect("json: an event's sample rate over 1 as samplerate between time and data, none for a rate of 1", () =>
    Effect.gen(function*() {
      const { lines } = yield* capturingLog(ConsoleSink.make({ format: "json" }).send([sampled, rateOne]))
      assert.strictEqual(lines.length, 2)
      assertJsonLine(lines[0]!, sampled)
      assert.strictEqual(lines[0]!, `{"time":"2024-09-22T10:00:02.000Z","samplerate":8,"data":${sampled.data}}`)
      assertJsonLine(lines[1]!, rateOne)
      assert.notInclude(lines[1]!, "samplerate")
    }))

  it.effect("pretty: an event's sample rate over 1 as (1 in N) after its nonce, none for a rate of 1", () =>
    Effect.gen(function*() {
      const { lines } = yield* capturingLog(ConsoleSink.make().send([sampled, rateOne, plain]))
      assert.strictEqual(lines[0]!, "2024-09-22T10:00:02.000Z PROC_C #3 (1 in 8) Action=Sampled")
      assert.strictEqual(lines[1]!, lines[2]!)
      assert.notInclude(lines[1]!, "(1 in")
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
      const e = outbound("e3", 1727000000000, { processId: "P", nonce: 1, eventId: "e3", note: "two\nlines", who: "a b" })
      const { lines } = yield* capturingLog(ConsoleSink.make().send([e, plain]))
      assert.strictEqual(lines.length, 2)
      assert.include(lines[0]!, "note=\"two\\nlines\"")
      assert.include(lines[0]!, "who=\"a b\"")
      assert.isTrue(lines[1]!.includes("PROC_A #7"))
    }))

  it.effect("answers one Accepted per event, for a batch of many, with one line each", () =>
    Effect.gen(function*() {
      const batch = Array.from({ length: 25 }, (_, i) =>
        outbound(`id${i}`, 1727000000000 + i, { processId: "P", nonce: i, eventId: `id${i}`, i }))
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
