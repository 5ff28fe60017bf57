/**
 * SIGINT and SIGTERM for the CLI. The first one asks the running command to
 * stop: `run` stops reading, stores what is queued, gives the sinks the
 * shutdown timeout, prints its summary and exits 130 (SIGINT) or 143
 * (SIGTERM); a command that does not handle it is interrupted. A second
 * signal exits at once.
 *
 * @internal
 */
import { Effect } from "effect"

const arrived = Effect.unsafeMakeLatch(false)
let first: NodeJS.Signals | undefined = undefined
let handlers = 0

/** The first signal received, if any. */
export const received = (): NodeJS.Signals | undefined => first

/** The exit code for a signal: 128 + its number. */
export const exitCode = (signal: NodeJS.Signals): number => 128 + (signal === "SIGINT" ? 2 : 15)

/** Runs `f` with the first signal its own to handle: `stopped` completes when it arrives. */
export const handled = <A, E, R>(
  f: (stopped: Effect.Effect<NodeJS.Signals>) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => handlers++),
    () => f(Effect.map(arrived.await, () => first!)),
    () => Effect.sync(() => handlers--)
  )

/** Listens for the signals; `interrupt` stops a command that does not handle them. Answers how to stop listening. */
export const install = (interrupt: () => void): () => void => {
  const on = (signal: NodeJS.Signals) => {
    if (first !== undefined) process.exit(exitCode(signal))
    first = signal
    arrived.unsafeOpen()
    if (handlers === 0) interrupt()
  }
  process.on("SIGINT", on)
  process.on("SIGTERM", on)
  return () => {
    process.removeListener("SIGINT", on)
    process.removeListener("SIGTERM", on)
  }
}
