/**
 * Which processes and how much of each: lists and budgets as an operator
 * sets them, on a real vacuum over the example's records (a third process
 * added), and the sampler on its own.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Either, Option, TestClock } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import type { OutboundEvent } from "../src/Enrich.js"
import { keeps, processList, rateFor, Sampler, selectionSettings } from "../src/Selection.js"
import * as Setting from "../src/Setting.js"
import * as Sqlite from "../src/DedupeStore/Sqlite.js"
import { captureLogs, event, exampleRecords, memory, record, RecordingSink, start, tempDb } from "./support/harness.js"

const P0 = "XPROC0_pppppppppppppppppppppppppppppppppppp"
const P1 = "XPROC1_pppppppppppppppppppppppppppppppppppp"
const P2 = "XPROC2_pppppppppppppppppppppppppppppppppppp"

/** The example's records, and the same records of XPROC1 as a third process's. */
const threeProcesses = (): Array<Record<string, unknown>> =>
  exampleRecords().flatMap((r) => (r.processId === P1 ? [r, { ...r, processId: P2 }] : [r]))

/** The example's records `n` times over, each copy ten minutes of evaluation time after the one before. */
const copies = (n: number): Array<Record<string, unknown>> =>
  Array.from({ length: n }, (_, k) =>
    exampleRecords().map((r) => ({ ...r, ordinate: String(Number(r.ordinate) + k * 1000), timestamp: (r.timestamp as number) + k * 600_000 }))
  ).flat()

const processOf = (e: OutboundEvent): string => (JSON.parse(e.data) as { processId: string }).processId

/** Vacuums the records into the sinks on a store and waits until they are delivered. */
const vacuumAll = (records: ReadonlyArray<Record<string, unknown>>, running: { vacuum: { unsafeVacuum: (r: unknown) => unknown; drain: (t: number) => Effect.Effect<boolean> } }) =>
  Effect.gen(function*() {
    for (const r of records) running.vacuum.unsafeVacuum(r)
    assert.isTrue(yield* running.vacuum.drain(60_000))
  })

describe("Selection: which processes", () => {
  it.scopedLive("an allowlist of two of the three processes: only their events arrive, the third's evaluations are counted as not allowed", () =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const running = yield* start(Sqlite.layer({ filename: tempDb() }), [sink], { flushInterval: "10 millis", processes: `${P0}, ${P1}` })
      yield* vacuumAll(threeProcesses(), running)
      assert.deepStrictEqual([...new Set(sink.events.map(processOf))].sort(), [P0, P1])
      assert.strictEqual(sink.events.length, 121)
      const snapshot = yield* running.vacuum.snapshot
      const third = threeProcesses().filter((r) => r.processId === P2 && r.readOnly !== true).length
      assert.strictEqual(snapshot.evaluations.notAllowed, third)
      // The state keeps it per process, for status --processes.
      const stats = yield* running.store.processes()
      assert.strictEqual(stats.find((s) => s.sink === "" && s.processId === P2)?.notAllowed, third)
      assert.strictEqual(stats.find((s) => s.sink === "" && s.processId === P2)?.events, 0)
      assert.strictEqual(stats.find((s) => s.sink === "" && s.processId === P0)?.events, sink.events.filter((e) => processOf(e) === P0).length)
    }), { timeout: 60_000 })

  it.scopedLive("a denylist, and a sink's own allowlist on top of the vacuum's: each sink gets what both allow", () =>
    Effect.gen(function*() {
      const all = new RecordingSink("all")
      const only = new RecordingSink("only", { processes: [P1, P2] })
      const running = yield* start(memory(), [all, only], { flushInterval: "10 millis", excludeProcesses: P2 })
      yield* vacuumAll(threeProcesses(), running)
      assert.deepStrictEqual([...new Set(all.events.map(processOf))].sort(), [P0, P1])
      assert.deepStrictEqual([...new Set(only.events.map(processOf))], [P1])
      const snapshot = yield* running.vacuum.snapshot
      const sinks = new Map(snapshot.sinks.map((s) => [s.name, s]))
      assert.strictEqual(sinks.get("all")!.notAllowed, 0)
      // A sink counts the evaluations with events it did not take.
      const withEvents = new Set(all.fields().filter((f) => f.processId === P0).map((f) => `${f.nonce},${f.cron ?? ""}`))
      assert.strictEqual(sinks.get("only")!.notAllowed, withEvents.size)
    }), { timeout: 60_000 })

  it.scoped("a list file changed while the vacuum runs takes effect within a poll interval; a bad one keeps the list before it, said once", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-list-"))
      const file = path.join(dir, "allowed.txt")
      fs.writeFileSync(file, `# the processes we run\n${P0}\n`)
      const logs = captureLogs()
      const running = yield* start(memory(), [new RecordingSink("test")], { processes: `@${file}`, processesPoll: "1 second" }).pipe(
        Effect.provide(logs.layer)
      )
      const of = (processId: string, n: number) => record({ processId, ordinate: n, timestamp: 1_000 + n, lines: [event({ n })] })
      assert.strictEqual((running.vacuum.unsafeVacuum(of(P0, 1)) as { outcome: string }).outcome, "queued")
      assert.strictEqual((running.vacuum.unsafeVacuum(of(P1, 1)) as { outcome: string }).outcome, "not_allowed")
      fs.writeFileSync(file, `${P1}\n`)
      // Not before the poll looks, then from the next evaluation on.
      assert.strictEqual((running.vacuum.unsafeVacuum(of(P1, 2)) as { outcome: string }).outcome, "not_allowed")
      yield* TestClock.adjust("1 second")
      assert.strictEqual((running.vacuum.unsafeVacuum(of(P1, 3)) as { outcome: string }).outcome, "queued")
      assert.strictEqual((running.vacuum.unsafeVacuum(of(P0, 2)) as { outcome: string }).outcome, "not_allowed")
      // A bad line: the list before it stays, and it is said once however often the poll looks.
      fs.writeFileSync(file, `${P1}\nnot-a-process\n`)
      yield* TestClock.adjust("1 second")
      yield* TestClock.adjust("1 second")
      assert.strictEqual((running.vacuum.unsafeVacuum(of(P1, 4)) as { outcome: string }).outcome, "queued")
      assert.deepStrictEqual(logs.logged.filter((l) => l.includes("EVENT_VACUUM_PROCESSES")), [
        `event-vacuum: EVENT_VACUUM_PROCESSES: "not-a-process" (${file}:2) is not a process id (43 characters of A-Z a-z 0-9 _ -); ` +
        "the list read before (1 process(es)) stays in force"
      ])
      yield* running.close
    }))

  it.scoped("a bad list is refused at start, naming the setting, the file and the line", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-list-"))
      const inline = yield* Effect.flip(start(memory(), [], { processes: `${P0},XPROC1` }))
      assert.strictEqual(
        (inline as Error).message,
        `invalid vacuum options: processes: "XPROC1" (the 2nd) is not a process id (43 characters of A-Z a-z 0-9 _ -)`
      )
      const missing = yield* Effect.flip(start(memory(), [], { processes: `@${path.join(dir, "nope.txt")}` }))
      assert.strictEqual((missing as Error).message, `invalid vacuum options: processes: cannot read @${path.join(dir, "nope.txt")}: no such file`)
      const file = path.join(dir, "deny.txt")
      fs.writeFileSync(file, `${P0}\n\n${P1} # ours\n${P2}x\n`)
      const bad = yield* Effect.flip(start(memory(), [new RecordingSink("honeycomb", { excludeProcesses: `@${file}`, envPrefix: "HONEYCOMB_" })], {}))
      assert.strictEqual(
        (bad as Error).message,
        `invalid sink honeycomb options: excludeProcesses: "${P2}x" (${file}:4) is not a process id (43 characters of A-Z a-z 0-9 _ -)`
      )
      // From text, as env gives it: all, none, ids, @FILE; a budget is a positive integer or unlimited.
      const table = selectionSettings("EVENT_VACUUM_")
      assert.deepStrictEqual(Either.getOrThrow(table.processes.parse("all")), { _tag: "All" })
      assert.deepStrictEqual(Either.getOrThrow(table.processes.parse("none")), { _tag: "Ids", ids: new Set<string>() })
      // A file is read when the setting is checked: a good one is kept as the file, to be watched.
      const good = path.join(dir, "good.txt")
      fs.writeFileSync(good, `${P0}\n`)
      assert.deepStrictEqual(Either.getOrThrow(table.processes.parse(`@${good}`)), { _tag: "File", path: good })
      assert.deepStrictEqual(Either.getLeft(table.processes.parse(`@${file}`)), Option.some(`"${P2}x" (${file}:4) is not a process id (43 characters of A-Z a-z 0-9 _ -), got "@${file}"`))
      assert.strictEqual(Either.getOrThrow(table.budgetEvents.parse("unlimited")), Infinity)
      assert.isTrue(Either.isLeft(table.budgetEvents.parse("0")))
      assert.isTrue(Either.isLeft(table.budgetEvents.parse(" 12")))
      assert.isTrue(Either.isLeft(processList.check(42)))
      assert.isTrue(Either.isLeft(Setting.decode(table, { budgetBytes: 1.5 }, "x")))
    }))
})

describe("Selection: how much", () => {
  it.scopedLive("a budget far below the example's rate: the same events kept in two fresh runs and by two instances on one state; kept x samplerate within 10% per process; a process under budget untouched", () =>
    Effect.gen(function*() {
      // About 15 events a minute per process in the example; a budget of 2; a quiet third process, one event a minute.
      const quiet = Array.from({ length: 30 }, (_, i) =>
        record({ processId: P2, ordinate: i + 1, timestamp: 1_727_000_000_000 + i * 60_000, lines: [event({ quiet: i })] }))
      const records = [...copies(100), ...quiet]
      const options = { flushInterval: "10 millis", budgetEvents: 2 } as const
      const runOnce = Effect.gen(function*() {
        const sink = new RecordingSink("test")
        const running = yield* start(Sqlite.layer({ filename: tempDb() }), [sink], options)
        yield* vacuumAll(records, running)
        const snapshot = yield* running.vacuum.snapshot
        yield* running.close
        return { sink, snapshot }
      })
      const first = yield* runOnce
      const second = yield* runOnce
      assert.deepStrictEqual(second.sink.ids.sort(), first.sink.ids.sort())

      // Two instances on one state, each given every record: together they send the same set, each event once.
      const state = tempDb()
      const [a, b] = [new RecordingSink("test"), new RecordingSink("test")]
      const one = yield* start(Sqlite.layer({ filename: state }), [a], options)
      const two = yield* start(Sqlite.layer({ filename: state }), [b], options)
      yield* Effect.all([vacuumAll(records, one), vacuumAll(records, two)], { concurrency: 2 })
      const both = [...a.ids, ...b.ids]
      assert.strictEqual(new Set(both).size, both.length)
      assert.deepStrictEqual(both.sort(), first.sink.ids.sort())

      const found = new Map<string, number>()
      const estimated = new Map<string, number>()
      for (const e of first.sink.events) {
        estimated.set(processOf(e), (estimated.get(processOf(e)) ?? 0) + (e.sampleRate ?? 1))
      }
      const stats = first.snapshot.sinks[0]!
      assert.strictEqual(stats.sampled + first.sink.events.length, first.snapshot.events.found)
      // Events found per process, from a run without a budget.
      const unbudgeted = new RecordingSink("test")
      const plain = yield* start(memory(), [unbudgeted], { flushInterval: "10 millis" })
      yield* vacuumAll(records, plain)
      for (const e of unbudgeted.events) found.set(processOf(e), (found.get(processOf(e)) ?? 0) + 1)
      for (const p of [P0, P1]) {
        const ratio = estimated.get(p)! / found.get(p)!
        assert.isTrue(ratio > 0.9 && ratio < 1.1, `${p}: kept x samplerate ${estimated.get(p)} for ${found.get(p)} found`)
        // Sampled from the moment the minute's count passed the budget: the first two of each minute stand for themselves.
        assert.isTrue(first.sink.events.filter((e) => processOf(e) === p).some((e) => (e.sampleRate ?? 1) >= 4))
      }
      // Under budget: every event, none with a sample rate.
      const quietKept = first.sink.events.filter((e) => processOf(e) === P2)
      assert.strictEqual(quietKept.length, 30)
      assert.isTrue(quietKept.every((e) => e.sampleRate === undefined))
      assert.deepStrictEqual(stats.overBudget.map((o) => o.processId).sort(), [P0, P1])
    }), { timeout: 120_000 })

  it.scopedLive("an event's own sampleRate is respected and multiplied: kept at 1 in N, it stands for sampleRate x N", () =>
    Effect.gen(function*() {
      const records = Array.from({ length: 10 }, (_, i) =>
        record({ processId: P0, ordinate: i + 1, timestamp: 60_000 + i, lines: [event({ Action: "Tick", sampleRate: 4, i })] }))
      const all = new RecordingSink("test")
      yield* vacuumAll(records, yield* start(memory(), [all], { flushInterval: "10 millis" }))
      assert.deepStrictEqual(all.events.map((e) => e.sampleRate), new Array(10).fill(4))
      const sampled = new RecordingSink("test")
      yield* vacuumAll(records, yield* start(memory(), [sampled], { flushInterval: "10 millis", budgetEvents: 1 }))
      // The i-th event of the minute is sampled at the smallest power of two N with i / N <= 1.
      const expected = all.events.flatMap((e, i) => (keeps(e.id, rateFor(i + 1, 1)) ? [[e.id, 4 * rateFor(i + 1, 1)]] : []))
      assert.deepStrictEqual(sampled.events.map((e) => [e.id, e.sampleRate]), expected)
      assert.isAbove(expected.length, 0)
      assert.isBelow(expected.length, 10)
    }), { timeout: 60_000 })

  it("the sampler: N is the smallest power of two that fits the budget, from this minute so far and the one before", () => {
    assert.strictEqual(rateFor(10, 10), 1)
    assert.strictEqual(rateFor(11, 10), 2)
    assert.strictEqual(rateFor(40, 10), 4)
    assert.strictEqual(rateFor(41, 10), 8)
    assert.strictEqual(rateFor(5, Infinity), 1)
    const s = new Sampler({ events: 10, bytes: Infinity })
    // A minute of 35 events, one an evaluation: 1 up to 10, 2 up to 20, 4 beyond.
    const minute = Array.from({ length: 35 }, (_, i) => s.rate("P", 60_000 + i, 1, 10))
    assert.deepStrictEqual(minute.slice(0, 10), new Array(10).fill(1))
    assert.deepStrictEqual(minute.slice(10, 20), new Array(10).fill(2))
    assert.deepStrictEqual(minute.slice(20), new Array(15).fill(4))
    // The next minute starts where the last one ended: a process steadily over budget is sampled from its first event.
    assert.strictEqual(s.rate("P", 120_000, 1, 10), 4)
    // After a quiet minute, it starts afresh.
    assert.strictEqual(s.rate("P", 240_000, 1, 10), 1)
    assert.deepStrictEqual(s.overBudget(), [])
    // Bytes count too: the stricter decides.
    const b = new Sampler({ events: 1000, bytes: 100 })
    assert.strictEqual(b.rate("Q", 0, 1, 450), 8)
    assert.deepStrictEqual(b.overBudget(), [{ processId: "Q", sampleRate: 8 }])
  })
})

describe("Selection: the same N after a restart", () => {
  /** Runs the records through a vacuum on the state, to the end, and closes it. */
  const runOn = (state: string, records: ReadonlyArray<Record<string, unknown>>, options: Parameters<typeof start>[2]) =>
    Effect.gen(function*() {
      const sink = new RecordingSink("test")
      const running = yield* start(Sqlite.layer({ filename: state }), [sink], options)
      yield* vacuumAll(records, running)
      const stats = yield* running.store.processes()
      yield* running.close
      return { sink, stats }
    })

  // Split at a record; and a restart that evaluates records 30 to 59 again (a CU going back to a checkpoint).
  for (const [end, from] of [[30, 30], [77, 77], [60, 30]] as const) {
    it.scopedLive(`the example run as records 0-${end - 1} then ${from}- on one state keeps exactly the events one run keeps, at the same rates`, () =>
      Effect.gen(function*() {
        const options = { flushInterval: "10 millis", budgetEvents: 2 } as const
        const records = exampleRecords()
        const whole = yield* runOn(tempDb(), records, options)
        const state = tempDb()
        const head = yield* runOn(state, records.slice(0, end), options)
        const tail = yield* runOn(state, records.slice(from), options)
        const rates = (events: ReadonlyArray<OutboundEvent>) => events.map((e) => `${e.id} 1/${e.sampleRate ?? 1}`).sort()
        assert.deepStrictEqual(rates([...head.sink.events, ...tail.sink.events]), rates(whole.sink.events))
        assert.isBelow(whole.sink.events.length, 121)
        // The totals of the two runs are the one run's.
        const totals = (stats: typeof whole.stats) => stats.map(({ updatedAt: _, ...s }) => s).sort((a, b) => (a.sink + a.processId < b.sink + b.processId ? -1 : 1))
        assert.deepStrictEqual(totals(tail.stats), totals(whole.stats))
      }), { timeout: 60_000 })
  }

  it.scopedLive("a run again over the same state counts nothing twice: the totals per process are those of the first hand-offs", () =>
    Effect.gen(function*() {
      const options = { flushInterval: "10 millis", budgetEvents: 2 } as const
      const state = tempDb()
      const first = yield* runOn(state, exampleRecords(), options)
      const again = yield* runOn(state, exampleRecords(), options)
      assert.strictEqual(again.sink.events.length, 0)
      assert.deepStrictEqual(again.stats, first.stats.map((s) => ({ ...s, updatedAt: again.stats.find((t) => t.sink === s.sink && t.processId === s.processId)!.updatedAt })))
      const vacuumRows = first.stats.filter((s) => s.sink === "")
      assert.strictEqual(vacuumRows.reduce((n, s) => n + s.events, 0), 121)
      const sinkRows = first.stats.filter((s) => s.sink === "test")
      assert.strictEqual(sinkRows.reduce((n, s) => n + s.events - s.sampled, 0), first.sink.events.length)
    }), { timeout: 60_000 })
})

describe("Selection: budgets per sink and in bytes, through the vacuum", () => {
  /**
   * The events a budget keeps, and at what rate, worked out from every event
   * (a run without a budget) by a Sampler of its own: evaluation by evaluation
   * in the records' order, N from the evaluation's events and bytes of data.
   */
  const expectedKept = (all: ReadonlyArray<OutboundEvent>, budget: { events: number; bytes: number }) => {
    const order = new Map(exampleRecords().map((r, i) => [`${r.processId as string} ${r.ordinate as string} ${r.cron ?? ""}`, i]))
    const evaluations = new Map<string, { at: number; timestamp: number; processId: string; events: Array<OutboundEvent> }>()
    for (const e of all) {
      const f = JSON.parse(e.data) as { processId: string; nonce: string; cron?: string | null; timestamp: number }
      const key = `${f.processId} ${f.nonce} ${f.cron ?? ""}`
      let ev = evaluations.get(key)
      if (ev === undefined) evaluations.set(key, ev = { at: order.get(key)!, timestamp: f.timestamp, processId: f.processId, events: [] })
      ev.events.push(e)
    }
    const sampler = new Sampler(budget)
    const kept: Array<string> = []
    for (const ev of [...evaluations.values()].sort((a, b) => a.at - b.at)) {
      const bytes = ev.events.reduce((n, e) => n + e.data.length, 0)
      const rate = sampler.rate(ev.processId, ev.timestamp, ev.events.length, bytes)
      for (const e of ev.events) if (keeps(e.id, rate)) kept.push(`${e.id} 1/${rate}`)
    }
    return kept.sort()
  }
  const rates = (events: ReadonlyArray<OutboundEvent>) => events.map((e) => `${e.id} 1/${e.sampleRate ?? 1}`).sort()

  it.scopedLive("a sink's own budget: that sink is sampled, the other beside it gets every event, none with a rate", () =>
    Effect.gen(function*() {
      const full = new RecordingSink("full")
      const sampled = new RecordingSink("sampled", { budgetEvents: 2 })
      const running = yield* start(memory(), [full, sampled], { flushInterval: "10 millis" })
      yield* vacuumAll(exampleRecords(), running)
      assert.strictEqual(full.events.length, 121)
      assert.isTrue(full.events.every((e) => e.sampleRate === undefined))
      assert.deepStrictEqual(rates(sampled.events), expectedKept(full.events, { events: 2, bytes: Infinity }))
      assert.isBelow(sampled.events.length, 60)
      const snapshot = yield* running.vacuum.snapshot
      const sinks = new Map(snapshot.sinks.map((s) => [s.name, s]))
      assert.strictEqual(sinks.get("full")!.sampled, 0)
      assert.deepStrictEqual(sinks.get("full")!.overBudget, [])
      assert.strictEqual(sinks.get("sampled")!.sampled, 121 - sampled.events.length)
      assert.deepStrictEqual(sinks.get("sampled")!.overBudget.map((o) => o.processId).sort(), [P0, P1])
      // The state's totals per sink say the same.
      const stats = yield* running.store.processes()
      for (const p of [P0, P1]) {
        const of = (sink: string) => stats.find((s) => s.sink === sink && s.processId === p)!
        assert.strictEqual(of("full").sampled, 0)
        assert.strictEqual(of("full").events, full.events.filter((e) => processOf(e) === p).length)
        assert.strictEqual(of("sampled").events - of("sampled").sampled, sampled.events.filter((e) => processOf(e) === p).length)
      }
    }), { timeout: 60_000 })

  it.scopedLive("a budget in bytes alone: N from the bytes of event data per minute, the events kept those the sampler's N keeps", () =>
    Effect.gen(function*() {
      const all = new RecordingSink("test")
      yield* vacuumAll(exampleRecords(), yield* start(memory(), [all], { flushInterval: "10 millis" }))
      // About 600 bytes an event, about 15 events a minute per process: 1,500 bytes a minute is 1 in 4 to 1 in 8.
      const budgeted = new RecordingSink("test")
      const running = yield* start(memory(), [budgeted], { flushInterval: "10 millis", budgetBytes: 1_500 })
      yield* vacuumAll(exampleRecords(), running)
      const expected = expectedKept(all.events, { events: Infinity, bytes: 1_500 })
      assert.deepStrictEqual(rates(budgeted.events), expected)
      assert.isTrue(budgeted.events.some((e) => (e.sampleRate ?? 1) >= 4))
      assert.isBelow(budgeted.events.length, 60)
      // The same budget in events, far above what the example sends, keeps all: only bytes decided.
      const both = new RecordingSink("test")
      yield* vacuumAll(exampleRecords(), yield* start(memory(), [both], { flushInterval: "10 millis", budgetBytes: 1_500, budgetEvents: 1_000_000 }))
      assert.deepStrictEqual(rates(both.events), expected)
    }), { timeout: 60_000 })
})
