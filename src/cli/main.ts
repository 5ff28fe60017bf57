/**
 * A command, run to its exit code: logs on stderr (stdout carries events),
 * one line for what went wrong, and the signals (see `signals.ts`). Loaded
 * by `bin.ts` only once the command line has been read.
 *
 * @internal
 */
import { Cause, ConfigError, Console, Effect, Exit, Layer, Logger, LogLevel } from "effect"
import { settings } from "./commands.js"
import type { Given } from "./state.js"
import * as Signals from "./signals.js"

/** A bad setting as plain lines: `bad setting KEY: what is wrong`, one a key. */
const describeConfigError = (error: ConfigError.ConfigError): string => {
  const leaf = (_: unknown, path: Array<string>, message: string) => [`bad setting ${path.join(".")}: ${message}`]
  const lines = ConfigError.reduceWithContext(error, undefined, {
    andCase: (_, left: Array<string>, right: Array<string>) => [...left, ...right],
    orCase: (_, left: Array<string>, right: Array<string>) => [...left, ...right],
    invalidDataCase: leaf,
    missingDataCase: (_, path) => {
      const key = path.join(".")
      const flag = settings.find((s) => s.env === key)?.flag
      return [`missing setting ${key}${flag === undefined ? "" : ` (or --${flag})`}`]
    },
    sourceUnavailableCase: leaf,
    unsupportedCase: leaf
  })
  return [...new Set(lines)].join("; ")
}

const levels: Record<string, LogLevel.LogLevel> = {
  all: LogLevel.All,
  trace: LogLevel.Trace,
  debug: LogLevel.Debug,
  info: LogLevel.Info,
  warning: LogLevel.Warning,
  error: LogLevel.Error,
  fatal: LogLevel.Fatal,
  none: LogLevel.None
}

/** Log lines the commands say in their own words. */
const said = ["skipped an evaluation record that does not decode", "closing with events still waiting"]

/**
 * Logs go to stderr, warnings and errors unless --log-level says otherwise: a
 * sink's failing cause is said once, as a warning. What the commands say in
 * their own words is left out of the log: a bad record (reported by its line
 * number) and events left waiting at the close (the last line says it).
 */
const logging = (level: string | undefined) => {
  const stderr = Logger.withConsoleError(Logger.logfmtLogger)
  return Layer.merge(
    Logger.replace(
      Logger.defaultLogger,
      Logger.make((options) => {
        const text = Array.isArray(options.message) ? options.message.join(" ") : String(options.message)
        if (!said.some((known) => text.includes(known))) stderr.log(options)
      })
    ),
    Logger.minimumLogLevel(levels[level ?? "warning"] ?? LogLevel.Warning)
  )
}

/** The command as an Effect, loading only its own module: looking at the state file loads no delivery. */
const commandOf = async (given: Given) => {
  switch (given.command.path.join(" ")) {
    case "status":
      return (await import("./state.js")).status(given)
    case "dead-letters list":
      return (await import("./state.js")).list(given)
    default:
      return (await import("./Cli.js")).runGiven(given)
  }
}

/** The command's exit code: 0, 1 (a reason on one line), or 128 + a signal's number. */
const program = (given: Given) =>
  Effect.promise(() => commandOf(given)).pipe(
    Effect.flatten,
    Effect.provide(logging(given.logLevel)),
    Effect.exit,
    Effect.flatMap((exit): Effect.Effect<number> => {
      const signal = Signals.received()
      const code = signal === undefined ? 1 : Signals.exitCode(signal)
      if (Exit.isSuccess(exit)) return Effect.succeed(signal === undefined ? 0 : code)
      // Stopped by a signal before it could say anything of its own.
      if (Cause.isInterruptedOnly(exit.cause)) {
        return Effect.as(Console.error(`event-vacuum: stopped by ${signal ?? "interruption"}`), code)
      }
      const failure = Cause.failureOption(exit.cause)
      // One clear line: a bad setting (naming its key), an unreadable file, the store, undelivered events.
      const message = failure._tag === "Some"
        ? ConfigError.isConfigError(failure.value)
          ? describeConfigError(failure.value)
          : (failure.value as { message: string }).message
        : Cause.pretty(exit.cause)
      return Effect.as(Console.error(`event-vacuum: ${message}`), code)
    })
  )

/**
 * Runs the command and sets the process's exit code. Our own main, where
 * `runMain` would answer 0 to a signal: the first signal goes to the command
 * (see signals.ts), a second one exits at once.
 */
export const main = (given: Given): void => {
  const fiber = Effect.runFork(program(given))
  const keepAlive = setInterval(() => {}, 2 ** 31 - 1)
  const stopListening = Signals.install(() => fiber.unsafeInterruptAsFork(fiber.id()))
  fiber.addObserver((exit) => {
    clearInterval(keepAlive)
    stopListening()
    const signal = Signals.received()
    if (signal === undefined) {
      process.exitCode = Exit.isSuccess(exit) ? exit.value : 1
      return
    }
    // A signal before the command could handle it (while it was starting) interrupts it: nothing was read.
    if (Exit.isFailure(exit)) process.stderr.write(`event-vacuum: stopped by ${signal} while starting\n`)
    process.exit(Exit.isSuccess(exit) ? exit.value : Signals.exitCode(signal))
  })
}
