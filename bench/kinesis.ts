/**
 * The Kinesis sink as a user feels it: `event-vacuum run` over the example
 * replicated, into a local Kinesis (kinesalite in a child process, a 4-shard
 * stream), start to exit; then the seed's way over the same records through
 * the same SDK (one PutRecord per event, each awaited, as the seed's
 * EventVacuum sends them). Every event must be in the stream, else the bench
 * fails.
 */
import { PutRecordCommand } from "@aws-sdk/client-kinesis"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { copiesOfExample, expectedEvents, writeNdjson } from "../test/support/guarantees.js"
import { kinesisClient, spawnKinesalite } from "../test/support/kinesis.js"
import { builtBin, cleanEnv, timeCli } from "./cli.js"

export interface KinesisResult {
  readonly events: number
  readonly seconds: number
  readonly eventsPerSec: number
  /** Bytes of record data and partition key per event, and the same as sent (base64 data, in the request's JSON). */
  readonly recordBytes: number
  readonly wireBytes: number
  readonly seed: { readonly events: number; readonly seconds: number; readonly eventsPerSec: number }
}

export const runKinesisBench = async (options: { readonly quick: boolean }): Promise<KinesisResult> => {
  const bin = builtBin()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-bench-kinesis-"))
  const kinesis = await spawnKinesalite()
  try {
    await kinesis.createStream("bench", 4)
    await kinesis.createStream("seed", 4)
    const records = copiesOfExample(options.quick ? 40 : 350)
    const input = path.join(dir, "evaluations.ndjson")
    writeNdjson(input, records)
    const expected = expectedEvents(records)
    const { seconds } = timeCli(bin, ["run", input], {
      ...cleanEnv(),
      EVENT_VACUUM_TRANSPORTS: "kinesis",
      EVENT_VACUUM_STATE_PATH: path.join(dir, "state.db"),
      KINESIS_STREAM_NAME: "bench",
      KINESIS_ENDPOINT: kinesis.endpoint,
      AWS_ACCESS_KEY_ID: "AKIDBENCH",
      AWS_SECRET_ACCESS_KEY: "bench-secret",
      AWS_REGION: "us-east-1"
    }, "pipe")
    const stored = await kinesis.readAll("bench")
    const ids = new Set(stored.map((r) => (JSON.parse(r.data) as { data: { eventId: string } }).data.eventId))
    if (ids.size !== expected.size || stored.length !== expected.size) {
      throw new Error(`kinesis bench: the stream holds ${stored.length} records (${ids.size} events) of ${expected.size}`)
    }
    let recordBytes = 0
    let wireBytes = 0
    for (const r of stored) {
      const data = Buffer.byteLength(r.data)
      const key = Buffer.byteLength(r.partitionKey)
      recordBytes += data + key
      // {"Data":"<base64>","PartitionKey":"<key>"}, in the request's array.
      wireBytes += Math.ceil(data / 3) * 4 + key + 32
    }

    // The seed's way, over the same records: one PutRecord per event, each awaited.
    // The SDK's default of 3 attempts, as the seed's EventVacuum has it.
    const client = kinesisClient(kinesis.endpoint, { maxAttempts: 3 })
    const seedRecords = stored.slice(0, options.quick ? 1_000 : 5_000)
    const start = process.hrtime.bigint()
    for (const r of seedRecords) {
      await client.send(new PutRecordCommand({ StreamName: "seed", Data: Buffer.from(r.data), PartitionKey: r.partitionKey }))
    }
    const seedSeconds = Number(process.hrtime.bigint() - start) / 1e9
    client.destroy()
    return {
      events: expected.size,
      seconds,
      eventsPerSec: expected.size / seconds,
      recordBytes: recordBytes / stored.length,
      wireBytes: wireBytes / stored.length,
      seed: { events: seedRecords.length, seconds: seedSeconds, eventsPerSec: seedRecords.length / seedSeconds }
    }
  } finally {
    await kinesis.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
