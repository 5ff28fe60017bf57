/**
 * A tracer that keeps every span: its name, attributes, events and, once
 * ended, how it ended (the exit's cause, pretty-printed), to search them.
 */
import type { Exit } from "effect"
import { Cause, Tracer } from "effect"

export interface RecordedSpan {
  readonly name: string
  readonly attributes: Map<string, unknown>
  readonly events: Array<{ readonly name: string; readonly attributes: Record<string, unknown> | undefined }>
  exit?: string
}

export const recordingTracer = () => {
  const spans: Array<RecordedSpan> = []
  let ids = 0
  const tracer = Tracer.make({
    span: (name, parent, context, links, startTime, kind) => {
      const recorded: RecordedSpan = { name, attributes: new Map(), events: [] }
      spans.push(recorded)
      const span: Tracer.Span = {
        _tag: "Span",
        name,
        spanId: String(++ids),
        traceId: "trace",
        parent,
        context,
        status: { _tag: "Started", startTime },
        attributes: recorded.attributes,
        links,
        sampled: true,
        kind,
        end: (_endTime, exit: Exit.Exit<unknown, unknown>) => {
          recorded.exit = exit._tag === "Success" ? "success" : Cause.pretty(exit.cause)
        },
        attribute: (key, value) => {
          recorded.attributes.set(key, value)
        },
        event: (eventName, _time, attributes) => {
          recorded.events.push({ name: eventName, attributes })
        },
        addLinks: () => {}
      }
      return span
    },
    context: (f) => f()
  })
  return { tracer, spans }
}

/** Everything a span holds, as text. */
export const spanText = (span: RecordedSpan): string =>
  [
    span.name,
    ...[...span.attributes].map(([k, v]) => `${k}=${String(v)}`),
    ...span.events.map((e) => `${e.name} ${JSON.stringify(e.attributes ?? {}, (_, v) => (typeof v === "bigint" ? String(v) : v))}`),
    span.exit ?? ""
  ].join("\n")
