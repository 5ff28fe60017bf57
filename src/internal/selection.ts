/**
 * Selection as the vacuum runs it: the lists loaded (a `@FILE` list looked
 * at every poll and re-read when it changes, the list read before kept if
 * the new one is bad), the vacuum's own lists for the intake, and for the
 * writer each sink's view of a group: the events of the processes it takes,
 * sampled over its budget, and how it took each evaluation, which the store
 * counts into the process's totals when it is the sink's first hand-off of
 * it. Each sink's sampler goes on, for a process first seen since the start,
 * from the window and watermark the store keeps: a re-evaluation at or below
 * the watermark moves no sampler, so a vacuum that stops and starts again
 * decides the N one run would have.
 *
 * @internal
 */
import type { Duration, Scope } from "effect"
import { Effect, Either, MetricLabel, Schedule } from "effect"
import * as fs from "node:fs"
import type { DedupeStore, DedupeStoreError, Handoff, ProcessTally, Taken } from "../DedupeStore.js"
import type { OutboundEvent } from "../Enrich.js"
import * as Metrics from "../Metrics.js"
import type { Budget, LoadedList, ProcessList } from "../Selection.js"
import type { Watermark } from "../Position.js"
import { advance, isHandedOff } from "../Position.js"
import { allows, isLimited, keeps, Sampler, stricter } from "../Selection.js"
import * as Setting from "../Setting.js"
import { InvalidSettingsError } from "../Setting.js"
import type { Sink } from "../Transport.js"
import { readIds, selectionSettings, settings } from "./settings/selection.js"
import type { Queued } from "./queue.js"

/** A list as it stands now; a file list changes under it. */
export interface ListHandle {
  readonly current: () => LoadedList
}

/** Where a list came from, for messages: `processes (EVENT_VACUUM_PROCESSES)`. */
export interface ListSource {
  readonly option: string
  readonly env: string
}

const readList = (path: string): Either.Either<LoadedList, string> => Either.map(readIds(path), (ids) => ({ _tag: "Ids", ids }))

const stamp = (path: string): string => {
  try {
    const s = fs.statSync(path)
    return `${s.ino}:${s.size}:${s.mtimeMs}`
  } catch {
    return "missing"
  }
}

/**
 * A list loaded: at once for ids, from its file for `@FILE` (a bad file is an
 * error naming the setting), then watched every `poll` in the scope.
 */
export const load = (
  list: ProcessList,
  source: ListSource,
  poll: Duration.Duration
): Effect.Effect<ListHandle, InvalidSettingsError, Scope.Scope> =>
  Effect.gen(function*() {
    if (list._tag !== "File") return { current: () => list }
    const { path } = list
    let seen = stamp(path)
    const first = readList(path)
    if (Either.isLeft(first)) {
      return yield* new InvalidSettingsError({ scope: "vacuum", issues: [`${source.option} (${source.env}): ${first.left}`] })
    }
    let current = first.right
    let complaint: string | undefined
    const look = Effect.suspend(() => {
      const now = stamp(path)
      if (now === seen) return Effect.void
      seen = now
      const next = readList(path)
      if (Either.isRight(next)) {
        current = next.right
        complaint = undefined
        return Effect.void
      }
      if (next.left === complaint) return Effect.void
      complaint = next.left
      const kept = current._tag === "Ids" ? `${current.ids.size} process(es)` : "all processes"
      return Effect.logWarning(`event-vacuum: ${source.env}: ${next.left}; the list read before (${kept}) stays in force`)
    })
    yield* Effect.forkScoped(Effect.repeat(look, Schedule.spaced(poll)))
    return { current: () => current }
  })

/** The lists and budget of the vacuum or of one sink. */
export interface Rules {
  readonly allow: ListHandle
  readonly deny: ListHandle
  readonly budget: Budget
}

/** What one sink did with the evaluations the writer gave it, since the start. */
export interface SinkSelectionCounts {
  /** Evaluations of processes the sink does not take. */
  readonly notAllowed: number
  /** Events dropped by sampling. */
  readonly sampled: number
  /** The processes sampled right now, and at what rate. */
  readonly overBudget: ReadonlyArray<{ readonly processId: string; readonly sampleRate: number }>
}

export interface Selector {
  /** Whether the vacuum's own lists take the process (the intake asks). */
  readonly allowed: (processId: string) => boolean
  /**
   * Reads from the store where the sinks' samplers stand with the group's
   * processes not seen since the start (or forgotten); before `select`.
   */
  readonly prepare: (group: ReadonlyArray<Queued>) => Effect.Effect<void, DedupeStoreError>
  /**
   * The group as each sink takes it (`bySink` where a sink takes other
   * events than all of them, `taken` where it did not take them whole), and
   * the tallies of what the vacuum's lists refused (per process, sink `""`).
   */
  readonly select: (group: ReadonlyArray<Queued>) => {
    readonly handoffs: ReadonlyArray<Handoff>
    readonly tallies: ReadonlyArray<ProcessTally>
  }
  /** The group was not stored: the samplers of its processes are read again from the store. */
  readonly forget: (group: ReadonlyArray<Queued>) => void
  readonly counts: (sink: string) => SinkSelectionCounts
}

type Mark = Pick<Watermark, "timestamp" | "ordinate" | "crons">

interface SinkRules {
  readonly name: string
  readonly tag: MetricLabel.MetricLabel
  readonly allow: ListHandle
  readonly deny: ListHandle
  readonly sampler: Sampler | undefined
  /** Per process, the last evaluation its sampler counted: one at or below it is a re-evaluation. */
  readonly counted: Map<string, Mark>
}

const NOT_TAKEN: Taken = { notAllowed: true, sampled: 0, sampleRate: 1 }

/** Processes whose samplers the selector remembers; the oldest is read again from the store when it comes back. */
const MAX_PROCESSES = 10_000

const sampleOf = (events: ReadonlyArray<OutboundEvent>, rate: number): Array<OutboundEvent> => {
  const kept: Array<OutboundEvent> = []
  for (const e of events) {
    if (keeps(e.id, rate)) kept.push({ ...e, sampleRate: (e.sampleRate ?? 1) * rate })
  }
  return kept
}

/**
 * The writer's selector: each sink takes what the vacuum's lists and its
 * own allow, sampled over the stricter of the vacuum's budget and its own.
 */
export const selector = (
  vacuum: Rules,
  sinks: ReadonlyArray<{ readonly name: string; readonly rules: Rules }>,
  store?: Pick<DedupeStore["Type"], "samplerStates">
): Selector => {
  const rules: ReadonlyArray<SinkRules> = sinks.map(({ name, rules: own }) => {
    const budget = stricter(vacuum.budget, own.budget)
    return {
      name,
      tag: MetricLabel.make("sink", name),
      allow: own.allow,
      deny: own.deny,
      sampler: isLimited(budget) ? new Sampler(budget, Infinity) : undefined,
      counted: new Map()
    }
  })
  const sampled = rules.filter((r) => r.sampler !== undefined)
  const counts = new Map(rules.map((r) => [r.name, { notAllowed: 0, sampled: 0 }]))
  // The processes whose samplers stand as the store has them (or as this vacuum moved them since), oldest first.
  const known = new Map<string, true>()
  const forgetProcess = (processId: string) => {
    known.delete(processId)
    for (const r of sampled) {
      r.sampler!.forget(processId)
      r.counted.delete(processId)
    }
  }

  const prepare = (group: ReadonlyArray<Queued>): Effect.Effect<void, DedupeStoreError> => {
    const read = store?.samplerStates
    if (read === undefined || sampled.length === 0) return Effect.void
    const unknown = new Set<string>()
    for (const q of group) if (q.skipped === undefined && !known.has(q.processId)) unknown.add(q.processId)
    if (unknown.size === 0) return Effect.void
    const ids = [...unknown]
    return Effect.map(read(ids), (states) => {
      for (const id of ids) {
        // Afresh, unless the store says otherwise.
        forgetProcess(id)
        known.set(id, true)
      }
      for (const state of states) {
        const r = sampled.find((x) => x.name === state.sink)
        if (r === undefined) continue
        if (state.watermark !== undefined) r.counted.set(state.processId, state.watermark)
        if (state.window !== undefined) r.sampler!.restore(state.processId, state.window)
      }
      while (known.size > MAX_PROCESSES) forgetProcess(known.keys().next().value!)
    })
  }

  const select = (group: ReadonlyArray<Queued>) => {
    const tallies = new Map<string, { -readonly [K in keyof ProcessTally]: ProcessTally[K] }>()
    const tally = (sink: string, processId: string) => {
      const key = sink + "\u0000" + processId
      let t = tallies.get(key)
      if (t === undefined) {
        tallies.set(key, t = { sink, processId, evaluations: 0, events: 0, bytes: 0, sampled: 0, notAllowed: 0, sampleRate: 1 })
      }
      return t
    }
    const handoffs: Array<Handoff> = []
    for (const q of group) {
      if (q.skipped === "not_allowed") {
        // Not handed off, so no watermark tells a re-evaluation: every evaluation left out counts.
        tally("", q.processId).notAllowed++
        continue
      }
      let bySink: Map<string, ReadonlyArray<OutboundEvent>> | undefined
      let taken: Map<string, Taken> | undefined
      for (const r of rules) {
        const c = counts.get(r.name)!
        if (!allows(r.allow.current(), r.deny.current(), q.processId)) {
          c.notAllowed++
          ;(bySink ??= new Map()).set(r.name, [])
          ;(taken ??= new Map()).set(r.name, NOT_TAKEN)
          continue
        }
        if (r.sampler === undefined) continue
        const mark = r.counted.get(q.processId)
        // A re-evaluation: its first hand-off is in the store, and it counts in no minute again.
        if (mark !== undefined && isHandedOff(q.position, mark)) continue
        r.counted.set(q.processId, advance(mark, q.position))
        const rate = r.sampler.rate(q.processId, q.position.timestamp, q.events.length, q.bytes)
        const window = r.sampler.window(q.processId)
        if (rate === 1) {
          ;(taken ??= new Map()).set(r.name, { notAllowed: false, sampled: 0, sampleRate: 1, window })
          continue
        }
        const kept = sampleOf(q.events, rate)
        const dropped = q.events.length - kept.length
        c.sampled += dropped
        if (dropped > 0) Metrics.sampledEvents.unsafeUpdate(dropped, [r.tag])
        ;(bySink ??= new Map()).set(r.name, kept)
        ;(taken ??= new Map()).set(r.name, { notAllowed: false, sampled: dropped, sampleRate: rate, window })
      }
      handoffs.push(
        bySink === undefined && taken === undefined
          ? q
          : { processId: q.processId, position: q.position, events: q.events, bytes: q.bytes, bySink, taken }
      )
    }
    return { handoffs, tallies: [...tallies.values()] }
  }

  return {
    allowed: (processId) => allows(vacuum.allow.current(), vacuum.deny.current(), processId),
    prepare,
    forget: (group) => {
      for (const q of group) if (known.has(q.processId)) forgetProcess(q.processId)
    },
    select,
    counts: (sink) => {
      const c = counts.get(sink) ?? { notAllowed: 0, sampled: 0 }
      const r = rules.find((x) => x.name === sink)
      return { ...c, overBudget: r?.sampler?.overBudget() ?? [] }
    }
  }
}

/**
 * The selector of the vacuum's settings and its sinks' own: lists loaded
 * (a bad one names its setting), files watched in the scope.
 */
export const fromSettings = (
  config: Setting.Values<typeof settings>,
  sinks: ReadonlyArray<Sink>,
  store?: Pick<DedupeStore["Type"], "samplerStates">
): Effect.Effect<Selector, InvalidSettingsError, Scope.Scope> =>
  Effect.gen(function*() {
    const poll = config.processesPoll
    const rulesOf = (
      values: Setting.Values<ReturnType<typeof selectionSettings>>,
      table: ReturnType<typeof selectionSettings>,
      whose: string
    ) =>
      Effect.gen(function*() {
        const allow = yield* load(values.processes, { option: `${whose}processes`, env: table.processes.env }, poll)
        const deny = yield* load(values.excludeProcesses, { option: `${whose}excludeProcesses`, env: table.excludeProcesses.env }, poll)
        return { allow, deny, budget: { events: values.budgetEvents, bytes: values.budgetBytes } } satisfies Rules
      })
    const vacuum = yield* rulesOf(config, settings, "")
    const own = yield* Effect.forEach(sinks, (sink) =>
      Effect.gen(function*() {
        const table = selectionSettings(sink.selection?.envPrefix ?? `${sink.name.toUpperCase()}_`, sink.name)
        const values = yield* Setting.decode(table, sink.selection ?? {}, `sink ${sink.name}`)
        return { name: sink.name, rules: yield* rulesOf(values, table, `sink ${sink.name}: `) }
      }))
    return selector(vacuum, own, store)
  })
