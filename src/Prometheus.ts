/**
 * The vacuum's metrics in the Prometheus text exposition format (version
 * 0.0.4, which OpenMetrics scrapers read too), and its health, both from a
 * {@link Vacuum.Snapshot}: what a CU's `/metrics` route serves, what
 * `event-vacuum run --metrics-address` serves, what an operator alerts on.
 *
 * Every name is under `event_vacuum_` (the ao CU's own are `ao_cu_`), after
 * Vector's component metrics; counters end in `_total`; every series has its
 * `# HELP` and `# TYPE`; per-sink series carry `sink`, discards and
 * rejections `reason`. Reasons are the vacuum's own words, which never hold a
 * key, a header value or a password (the secrets tests search them).
 *
 * @since 0.3.0
 */
import { lineOutcomes } from "./Extractor.js"
import type { SinkSnapshot, Snapshot } from "./Vacuum.js"

/**
 * The prefix of every series.
 *
 * @since 0.3.0
 */
export const prefix = "event_vacuum_"

/**
 * The exposition's content type.
 *
 * @since 0.3.0
 */
export const contentType = "text/plain; version=0.0.4; charset=utf-8"

type Labels = Readonly<Record<string, string>>

interface Family {
  readonly name: string
  readonly type: "counter" | "gauge"
  readonly help: string
  readonly samples: ReadonlyArray<readonly [Labels, number]>
}

/** A label value as the format writes it: backslash, double quote and newline escaped. */
const escape = (value: string): string => value.replace(/\\/g, "\\\\").replace(/"/g, "\\\"").replace(/\n/g, "\\n")

const clip = (text: string): string => (text.length > 200 ? `${text.slice(0, 200)}…` : text)

const render = (families: ReadonlyArray<Family>): string => {
  let out = ""
  for (const f of families) {
    out += `# HELP ${prefix}${f.name} ${f.help}\n# TYPE ${prefix}${f.name} ${f.type}\n`
    for (const [labels, value] of f.samples) {
      const keys = Object.keys(labels)
      const set = keys.length === 0 ? "" : `{${keys.map((k) => `${k}="${escape(labels[k]!)}"`).join(",")}}`
      out += `${prefix}${f.name}${set} ${Number.isFinite(value) ? value : 0}\n`
    }
  }
  return out
}

const perSink = (
  sinks: ReadonlyArray<SinkSnapshot>,
  value: (s: SinkSnapshot) => number
): ReadonlyArray<readonly [Labels, number]> => sinks.map((s) => [{ sink: s.name }, value(s)] as const)

/**
 * The snapshot as a scrape's text, at `now` (epoch ms, for ages).
 *
 * @since 0.3.0
 */
export const exposition = (snapshot: Snapshot, now: number = Date.now()): string => {
  const { sinks } = snapshot
  const e = snapshot.evaluations
  const lines = snapshot.lines as unknown as Record<string, number>
  const families: Array<Family> = [
    {
      name: "component_received_evaluations_total",
      type: "counter",
      help: "Evaluations handed to the vacuum.",
      samples: [[{}, e.received]]
    },
    {
      name: "component_skipped_evaluations_total",
      type: "counter",
      help: "Evaluations taken but not read for events, by reason.",
      samples: [
        [{ reason: "read_only" }, e.readOnly],
        [{ reason: "not_allowed" }, e.notAllowed],
        [{ reason: "invalid" }, e.invalid],
        [{ reason: "no_text" }, e.noText]
      ]
    },
    {
      name: "component_failed_evaluations_total",
      type: "counter",
      help: "Evaluations that failed in the CU (their events come from the Error text).",
      samples: [[{}, e.failed]]
    },
    {
      name: "component_received_events_total",
      type: "counter",
      help: "Events found in evaluation logs.",
      samples: [[{}, snapshot.events.found]]
    },
    {
      name: "component_repaired_events_total",
      type: "counter",
      help: "Events whose JSON needed repairing (aos's non-strict output).",
      samples: [[{}, snapshot.events.repaired]]
    },
    {
      name: "component_log_lines_total",
      type: "counter",
      help: "Log lines read, by outcome: events and repaired events, blank and not-event lines, and lines rejected by reason.",
      samples: lineOutcomes.map((outcome) => [{ outcome }, lines[outcome] ?? 0] as const)
    },
    {
      name: "component_discarded_events_total",
      type: "counter",
      help: "Events lost before they reached the store, by reason.",
      samples: [[{ reason: "buffer_full" }, snapshot.discarded.buffer_full], [{ reason: "store_failed" }, snapshot.discarded.store_failed]]
    },
    {
      name: "handoff_queued_events",
      type: "gauge",
      help: "Events between the CU's call and the store.",
      samples: [[{}, snapshot.queued.events]]
    },
    {
      name: "handoff_queued_bytes",
      type: "gauge",
      help: "Bytes of events between the CU's call and the store.",
      samples: [[{}, snapshot.queued.bytes]]
    },
    {
      name: "store_up",
      type: "gauge",
      help: "1 when the state store answered this scrape's questions, 0 when it did not.",
      samples: [[{}, snapshot.storeError === undefined ? 1 : 0]]
    },
    {
      name: "buffer_received_events_total",
      type: "counter",
      help: "Events this instance wrote to a sink's outbox.",
      samples: perSink(sinks, (s) => s.handedOff)
    },
    {
      name: "component_deduplicated_events_total",
      type: "counter",
      help: "Events not written because the sink already had them (re-evaluations).",
      samples: perSink(sinks, (s) => s.duplicates)
    },
    {
      name: "component_sent_events_total",
      type: "counter",
      help: "Events a sink acknowledged.",
      samples: perSink(sinks, (s) => s.delivered)
    },
    {
      name: "component_dead_lettered_events_total",
      type: "counter",
      help: "Events a sink refused for good, moved to the dead letters.",
      samples: perSink(sinks, (s) => s.deadLettered)
    },
    {
      name: "component_errors_total",
      type: "counter",
      help: "Failed send attempts (each retried under the schedule).",
      samples: perSink(sinks, (s) => s.retries)
    },
    {
      name: "component_taken_over_events_total",
      type: "counter",
      help: "Events of batches this instance was retrying that another took over after their lease ran out.",
      samples: perSink(sinks, (s) => s.takenOver)
    },
    {
      name: "component_sampled_events_total",
      type: "counter",
      help: "Events dropped by sampling, their process over the sink's budget.",
      samples: perSink(sinks, (s) => s.sampled)
    },
    {
      name: "component_not_allowed_evaluations_total",
      type: "counter",
      help: "Evaluations with events of processes the sink's lists leave out.",
      samples: perSink(sinks, (s) => s.notAllowed)
    },
    {
      name: "buffer_events",
      type: "gauge",
      help: "Events waiting in a sink's outbox (every instance's), in flight included.",
      samples: perSink(sinks, (s) => s.waiting)
    },
    {
      name: "buffer_in_flight_events",
      type: "gauge",
      help: "Events of a sink's outbox being sent now.",
      samples: perSink(sinks, (s) => s.inFlight)
    },
    {
      name: "buffer_oldest_event_age_seconds",
      type: "gauge",
      help: "How long the oldest event waiting in a sink's outbox has waited; 0 when none waits.",
      samples: perSink(sinks, (s) => (s.oldestWaitingAt === undefined ? 0 : Math.max(0, (now - s.oldestWaitingAt) / 1000)))
    },
    {
      name: "dead_letters",
      type: "gauge",
      help: "Dead letters waiting in the store for a sink (see event-vacuum dead-letters).",
      samples: perSink(sinks, (s) => s.deadLetters)
    },
    {
      name: "sink_failing",
      type: "gauge",
      help: "1 while a sink's last attempt failed and it is being retried.",
      samples: perSink(sinks, (s) => (s.lastError !== undefined && s.stopped === undefined ? 1 : 0))
    },
    {
      name: "sink_stopped",
      type: "gauge",
      help: "1 when a sink stopped for good (its setting needs fixing), with the reason; its events stay in the store.",
      samples: sinks.map((s) => [{ sink: s.name, reason: s.stopped === undefined ? "" : clip(s.stopped) }, s.stopped === undefined ? 0 : 1] as const)
    },
    {
      name: "sink_last_delivery_timestamp_seconds",
      type: "gauge",
      help: "When this instance last had events of a sink acknowledged (Unix seconds); 0 before the first.",
      samples: perSink(sinks, (s) => (s.lastDeliveryAt === undefined ? 0 : s.lastDeliveryAt / 1000))
    },
    {
      name: "processes_over_budget",
      type: "gauge",
      help: "Processes whose events a sink samples now, over its budget.",
      samples: perSink(sinks, (s) => s.overBudget.length)
    }
  ]
  return render(families)
}

/**
 * How a sink, the store or the whole vacuum is: `ok`; `degraded` (a sink
 * retrying, the store failing: events wait, none lost); `stopped` (a sink
 * stopped for good: its setting needs fixing).
 *
 * @since 0.3.0
 */
export type HealthStatus = "ok" | "degraded" | "stopped"

/**
 * @since 0.3.0
 */
export interface Health {
  /** The worst of the sinks' and the store's. */
  readonly status: HealthStatus
  readonly store: { readonly status: "ok" | "degraded"; readonly reason?: string }
  readonly sinks: ReadonlyArray<{ readonly name: string; readonly status: HealthStatus; readonly reason?: string; readonly waiting: number }>
}

const worst = (a: HealthStatus, b: HealthStatus): HealthStatus =>
  a === "stopped" || b === "stopped" ? "stopped" : a === "degraded" || b === "degraded" ? "degraded" : "ok"

/**
 * The vacuum's health from its snapshot.
 *
 * @since 0.3.0
 */
export const health = (snapshot: Snapshot): Health => {
  const storeFailing = snapshot.storeError !== undefined || snapshot.discarded.store_failed > 0
  const store: Health["store"] = storeFailing
    ? { status: "degraded", reason: snapshot.storeError ?? `${snapshot.discarded.store_failed} event(s) could not be stored` }
    : { status: "ok" }
  const sinks = snapshot.sinks.map((s): Health["sinks"][number] =>
    s.stopped !== undefined
      ? { name: s.name, status: "stopped", reason: s.stopped, waiting: s.waiting }
      : s.lastError !== undefined
      ? { name: s.name, status: "degraded", reason: `retrying: ${s.lastError}`, waiting: s.waiting }
      : { name: s.name, status: "ok", waiting: s.waiting }
  )
  const status = sinks.reduce((acc, s) => worst(acc, s.status), store.status as HealthStatus)
  return { status, store, sinks }
}
