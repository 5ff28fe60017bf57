/**
 * Where the vacuum's thread comes from. A thread loads its modules (Effect,
 * the store, the sinks) itself, which takes as long as the caller's own
 * start; `prestart` begins that at once, so a command's start and its
 * thread's start overlap. The thread then waits for its settings (the `init`
 * message), so one started early is as good as one started late. Light on
 * purpose: `bin.ts` loads it before anything else.
 *
 * @internal
 */
import { Worker } from "node:worker_threads"

/** Where the vacuum's thread is: next to this module once built; from the sources (tests, tsx), the build's. */
const workerUrl = (): URL => {
  const here = new URL("./worker.js", import.meta.url)
  return import.meta.url.endsWith(".ts")
    ? new URL(here.href.replace(/\/src\/internal\/thread\/worker\.js$/, "/dist/internal/thread/worker.js"))
    : here
}

// No flags of the caller's (a loader, --input-type): the thread runs only the built vacuum.
const started = () => new Worker(workerUrl(), { execArgv: [] })

let early: { readonly worker: Worker; ended: boolean } | undefined

/** Starts a thread now, loading its modules while this thread loads its own; it keeps no process alive until taken. */
export const prestart = (): void => {
  if (early !== undefined) return
  const worker = started()
  const held = { worker, ended: false }
  // One that failed to load is not handed out: `take` starts another, whose failure is then heard.
  worker.once("exit", () => (held.ended = true))
  worker.once("error", () => (held.ended = true))
  worker.unref()
  early = held
}

/** A thread waiting for its `init`: the one started early when it is still alive, else a new one. */
export const take = (): Worker => {
  const held = early
  early = undefined
  if (held !== undefined && !held.ended) {
    held.worker.ref()
    return held.worker
  }
  if (held !== undefined) void held.worker.terminate()
  return started()
}
