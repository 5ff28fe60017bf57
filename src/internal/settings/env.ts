/**
 * The env layer's settings and the sink kinds they name: a table that loads without the vacuum.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Setting from "../../Setting.js"

/**
 * The sink kinds `EVENT_VACUUM_TRANSPORTS` may name.
 *
 * @since 0.1.0
 */
export const transportKinds = ["console", "file", "honeycomb", "kinesis", "otlp"] as const

/**
 * @since 0.1.0
 */
export type TransportKind = (typeof transportKinds)[number]

/**
 * Parses a transports list: names separated by commas or semicolons, case and
 * spaces ignored, each at most once.
 *
 * @since 0.1.0
 */
export const parseTransports = (text: string): Either.Either<ReadonlyArray<TransportKind>, string> => {
  const names = text.split(/[,;]/).map((s) => s.trim().toLowerCase()).filter((s) => s.length > 0)
  if (names.length === 0) return Either.left(`the list names no transport; the transports are ${transportKinds.join(", ")}`)
  const kinds: Array<TransportKind> = []
  for (const name of names) {
    if (!(transportKinds as ReadonlyArray<string>).includes(name)) {
      return Either.left(`there is no transport named ${JSON.stringify(name)}; the transports are ${transportKinds.join(", ")}`)
    }
    if (kinds.includes(name as TransportKind)) return Either.left(`the list names ${name} twice`)
    kinds.push(name as TransportKind)
  }
  return Either.right(kinds)
}

/**
 * The env layer's own settings, declared once.
 *
 * @since 0.2.0
 */
export const settings = {
  enabled: Setting.make(Setting.boolean, {
    env: "EVENT_VACUUM_ENABLED",
    default: false,
    doc: "turns the vacuum on; off, it costs next to nothing (the CLI's default is true)"
  }),
  transports: Setting.make(
    Setting.custom({
      check: (x) =>
        Array.isArray(x) && x.length > 0 && x.every((k) => (transportKinds as ReadonlyArray<unknown>).includes(k))
          ? Either.right(x as ReadonlyArray<TransportKind>)
          : Either.left(`expected a list of transports from ${transportKinds.join(", ")}`),
      fromText: parseTransports,
      value: `<${transportKinds.join(",")}>`
    }),
    { env: "EVENT_VACUUM_TRANSPORTS", default: ["console"], doc: `the sinks, separated by commas or semicolons: ${transportKinds.join(", ")}` }
  ),
  thread: Setting.make(Setting.literal("worker", "caller"), {
    env: "EVENT_VACUUM_THREAD",
    default: "worker",
    doc: "worker: the vacuum works on a thread of its own, the caller's only reads each record and hands it over; caller: all on the caller's thread"
  }),
  threadNice: Setting.make(Setting.int({ min: 0, max: 19 }), {
    env: "EVENT_VACUUM_THREAD_NICE",
    default: 10,
    doc: "the vacuum's own thread's nice value (Linux): under contention the CU's threads win, and the vacuum uses the CPU they leave; 0 to share equally"
  })
}
