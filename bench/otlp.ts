/**
 * The OTLP sink as a user feels it: `event-vacuum run` over the example
 * replicated, into the local OTLP/HTTP receiver (which decodes every request
 * with the official schema), start to exit, in protobuf and in JSON; beside
 * it the same run through our Honeycomb sink into the local Honeycomb, for
 * scale. Every event must arrive, else the bench fails. And the encoding's
 * own cost per event, in this process: LogRecords built and encoded in
 * batches of 500, each protocol, gzipped as sent.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as zlib from "node:zlib"
import type { OutboundEvent } from "../src/Enrich.js"
import type { Ints, LogRecord } from "../src/Transport/otlp/logRecord.js"
import { nanos, toLogRecord } from "../src/Transport/otlp/logRecord.js"
import { logsSchema } from "../src/Transport/otlp/schema.js"
import { copiesOfExample, expectedOutbound, writeNdjson } from "../test/support/guarantees.js"
import { FakeHoneycomb } from "../test/support/honeycomb.js"
import { FakeOtlp } from "../test/support/otlp.js"
import { builtBin, cleanEnv } from "./cli.js"

export interface OtlpRun {
  readonly events: number
  readonly seconds: number
  readonly eventsPerSec: number
  readonly wireBytesPerEvent: number
}

export interface OtlpResult {
  readonly protobuf: OtlpRun
  readonly json: OtlpRun
  readonly honeycomb: OtlpRun
  /** Building and encoding, µs per event, and the bytes per event before and after gzip. */
  readonly encode: Record<"protobuf" | "json", { readonly micros: number; readonly rawBytes: number; readonly gzipBytes: number }>
}

const runCli = (bin: string, input: string, env: NodeJS.ProcessEnv): Promise<number> =>
  new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    let stderr = ""
    // Asynchronous: the receivers answer from this process.
    const child = spawn(process.execPath, [bin, "run", input], { env, stdio: ["ignore", "ignore", "pipe"] })
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()))
    child.on("exit", (code) => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      if (code === 0) resolve(seconds)
      else reject(new Error(`otlp bench: event-vacuum run exited ${code}:\n${stderr.split("\n").slice(-20).join("\n")}`))
    })
  })

const encodeCost = (events: ReadonlyArray<OutboundEvent>, ints: Ints, rounds: number) => {
  const schema = logsSchema()
  const encode = (batch: ReadonlyArray<OutboundEvent>): Uint8Array => {
    const observed = nanos(Date.now(), ints)
    const logRecords = new Array<LogRecord>(batch.length)
    for (let i = 0; i < batch.length; i++) logRecords[i] = toLogRecord(batch[i]!, observed, ints)
    const request = { resourceLogs: [{ resource: { attributes: [{ key: "service.name", value: { stringValue: "bench" } }] }, scopeLogs: [{ scope: { name: "ao-event-vacuum" }, logRecords }] }] }
    return ints === "json" ? new TextEncoder().encode(JSON.stringify(request)) : schema.ExportLogsServiceRequest.encode(request).finish()
  }
  const batches: Array<ReadonlyArray<OutboundEvent>> = []
  for (let i = 0; i < events.length; i += 500) batches.push(events.slice(i, i + 500))
  let best = Infinity
  let raw = 0
  for (let round = 0; round < rounds; round++) {
    raw = 0
    const start = process.hrtime.bigint()
    for (const batch of batches) raw += encode(batch).length
    best = Math.min(best, Number(process.hrtime.bigint() - start) / 1e3)
  }
  let gzipped = 0
  for (const batch of batches) gzipped += zlib.gzipSync(encode(batch)).length
  return { micros: best / events.length, rawBytes: raw / events.length, gzipBytes: gzipped / events.length }
}

export const runOtlpBench = async (options: { readonly quick: boolean }): Promise<OtlpResult> => {
  const bin = builtBin()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-otlp-"))
  try {
    const records = copiesOfExample(options.quick ? 40 : 350)
    const input = path.join(dir, "evaluations.ndjson")
    writeNdjson(input, records)
    const expected = expectedOutbound(records)

    const viaOtlp = async (protocol: "http/protobuf" | "http/json"): Promise<OtlpRun> => {
      const otlp = await FakeOtlp.start({ headers: { "x-honeycomb-team": "bench-key" } })
      try {
        const seconds = await runCli(bin, input, {
          ...cleanEnv(),
          EVENT_VACUUM_TRANSPORTS: "otlp",
          EVENT_VACUUM_STATE_PATH: path.join(dir, `state-${protocol.replace("/", "-")}.db`),
          OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url,
          OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=bench-key"
        })
        const ids = new Set(otlp.received.map((r) => r.attributes.eventId))
        if (ids.size !== expected.size) throw new Error(`otlp bench: ${ids.size} of ${expected.size} events arrived over ${protocol}`)
        return { events: expected.size, seconds, eventsPerSec: expected.size / seconds, wireBytesPerEvent: otlp.wireBytes / otlp.records }
      } finally {
        await otlp.close()
      }
    }
    const protobuf = await viaOtlp("http/protobuf")
    const json = await viaOtlp("http/json")

    const hc = await FakeHoneycomb.start("bench-key-0123456789")
    let honeycomb: OtlpRun
    try {
      const seconds = await runCli(bin, input, {
        ...cleanEnv(),
        EVENT_VACUUM_TRANSPORTS: "honeycomb",
        EVENT_VACUUM_STATE_PATH: path.join(dir, "state-honeycomb.db"),
        HONEYCOMB_API_KEY: "bench-key-0123456789",
        HONEYCOMB_API_HOST: hc.url,
        HONEYCOMB_DATASET: "bench"
      })
      if (hc.accepted.length !== expected.size) throw new Error(`otlp bench: Honeycomb took ${hc.accepted.length} of ${expected.size}`)
      const wire = hc.requests.reduce((n, r) => n + r.wireBytes, 0)
      honeycomb = { events: expected.size, seconds, eventsPerSec: expected.size / seconds, wireBytesPerEvent: wire / hc.accepted.length }
    } finally {
      await hc.close()
    }

    const events = [...expected.values()]
    const rounds = options.quick ? 2 : 5
    return {
      protobuf,
      json,
      honeycomb,
      encode: { protobuf: encodeCost(events, "protobuf", rounds), json: encodeCost(events, "json", rounds) }
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
