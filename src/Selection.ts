/**
 * Which processes, and how much of each. ao is permissionless: any process
 * can reach a CU, so an operator names the processes the vacuum takes (an
 * allowlist, a denylist; for the whole vacuum and per sink) and a budget per
 * process in events and bytes per minute of the process's own evaluation
 * time. Over budget, events are sampled, not cut: 1 in N is kept, chosen by
 * the eventId, so the same event is kept or dropped on every re-evaluation
 * and on every CU of a fleet (dedupe stays exact), and a smaller N keeps
 * every event a larger one does. N is the smallest power of two that fits
 * the budget; each kept event carries it as its sample rate.
 *
 * @since 0.3.0
 */
import type { SamplerWindow } from "./DedupeStore.js"

export { budget, parseIds, PROCESS_ID, processList, type ProcessList, selectionSettings, settings } from "./internal/settings/selection.js"

/**
 * The highest sample rate: 1 in 2^30.
 *
 * @since 0.3.0
 */
export const MAX_RATE = 2 ** 30

/** FNV-1a over the id's UTF-16 code units, then murmur3's finalizer: 32 well-mixed bits. */
const hash = (id: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < id.length; i++) {
    h ^= id.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * Whether sampling 1 in `n` (a power of two) keeps the event: a function of
 * the eventId and `n` alone, and nested: what 1 in 2n keeps, 1 in n keeps.
 *
 * @since 0.3.0
 */
export const keeps = (eventId: string, n: number): boolean => n <= 1 || (hash(eventId) & (Math.min(n, MAX_RATE) - 1)) === 0

/**
 * The smallest power of two `n` with `amount / n` within `limit` (1 when
 * the amount is within it).
 *
 * @since 0.3.0
 */
export const rateFor = (amount: number, limit: number): number => {
  let n = 1
  while (amount > limit * n && n < MAX_RATE) n *= 2
  return n
}

/**
 * A budget per process, per minute of its evaluation time; `Infinity` is
 * no limit.
 *
 * @since 0.3.0
 */
export interface Budget {
  readonly events: number
  readonly bytes: number
}

/**
 * The stricter of two budgets, limit by limit.
 *
 * @since 0.3.0
 */
export const stricter = (a: Budget, b: Budget): Budget => ({ events: Math.min(a.events, b.events), bytes: Math.min(a.bytes, b.bytes) })

/**
 * Whether a budget limits anything.
 *
 * @since 0.3.0
 */
export const isLimited = (b: Budget): boolean => Number.isFinite(b.events) || Number.isFinite(b.bytes)

/**
 * The minute of evaluation time a budget counts in.
 *
 * @since 0.3.0
 */
export const WINDOW_MILLIS = 60_000

/** What the minute before held (`previous…`): a process steadily over budget starts each minute at its rate. */
type ProcessState = { -readonly [K in keyof SamplerWindow]: SamplerWindow[K] }

/**
 * The sample rate of each evaluation of each process, from what the
 * process's current minute of evaluation time holds so far (this evaluation
 * included) and what the minute before held: N is the smallest power of two
 * that brings either within the budget. A pure function of each process's
 * evaluations in order, so two runs over the same records, and two
 * instances given the same evaluations, decide alike; a process's window,
 * kept ({@link Sampler.window}) and given back ({@link Sampler.restore}),
 * lets a restarted vacuum go on as if it had never stopped. It remembers
 * the `maxProcesses` processes seen last.
 *
 * @since 0.3.0
 */
export class Sampler {
  private readonly processes = new Map<string, ProcessState>()

  constructor(readonly budget: Budget, readonly maxProcesses = 10_000) {}

  /** The rate for an evaluation of `processId` at `timestamp` with these events and bytes. */
  rate(processId: string, timestamp: number, events: number, bytes: number): number {
    const window = Math.floor(timestamp / WINDOW_MILLIS)
    let state = this.processes.get(processId)
    if (state === undefined) {
      state = { minute: window, events: 0, bytes: 0, previousEvents: 0, previousBytes: 0, rate: 1 }
      if (this.processes.size >= this.maxProcesses) this.processes.delete(this.processes.keys().next().value!)
    } else {
      // The most recently seen last, for forgetting the oldest.
      this.processes.delete(processId)
    }
    this.processes.set(processId, state)
    if (window > state.minute) {
      const next = window === state.minute + 1
      state.previousEvents = next ? state.events : 0
      state.previousBytes = next ? state.bytes : 0
      state.minute = window
      state.events = 0
      state.bytes = 0
    }
    // An evaluation of an earlier minute (a re-evaluation) counts into the current one.
    state.events += events
    state.bytes += bytes
    const { budget } = this
    state.rate = Math.max(
      rateFor(Math.max(state.events, state.previousEvents), budget.events),
      rateFor(Math.max(state.bytes, state.previousBytes), budget.bytes)
    )
    return state.rate
  }

  /** The process's window as it stands, to be kept; none for a process it does not remember. */
  window(processId: string): SamplerWindow | undefined {
    const state = this.processes.get(processId)
    return state === undefined ? undefined : { ...state }
  }

  /** Goes on from a window kept before (a restart), as if every evaluation it counted had been seen here. */
  restore(processId: string, window: SamplerWindow): void {
    this.processes.delete(processId)
    if (this.processes.size >= this.maxProcesses) this.processes.delete(this.processes.keys().next().value!)
    this.processes.set(processId, { ...window })
  }

  /** Forgets the process: its next evaluation starts a window afresh (or from a {@link Sampler.restore}). */
  forget(processId: string): void {
    this.processes.delete(processId)
  }

  /** The processes whose last evaluation was sampled, and at what rate, highest first. */
  overBudget(): Array<{ readonly processId: string; readonly sampleRate: number }> {
    const out: Array<{ processId: string; sampleRate: number }> = []
    for (const [processId, state] of this.processes) if (state.rate > 1) out.push({ processId, sampleRate: state.rate })
    return out.sort((a, b) => b.sampleRate - a.sampleRate || (a.processId < b.processId ? -1 : 1))
  }
}

/**
 * Whether a loaded list takes a process: `All`, or the ids it holds.
 *
 * @since 0.3.0
 */
export type LoadedList = { readonly _tag: "All" } | { readonly _tag: "Ids"; readonly ids: ReadonlySet<string> }

/**
 * Whether the lists take the process: allowed by `allow`, not denied by `deny`.
 *
 * @since 0.3.0
 */
export const allows = (allow: LoadedList, deny: LoadedList, processId: string): boolean =>
  (allow._tag === "All" || allow.ids.has(processId)) && !(deny._tag === "All" || deny.ids.has(processId))
