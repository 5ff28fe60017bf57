/**
 * Which transport for the Kinesis sink: the SDK's PutRecordsCommand, or
 * SigV4 over our own HTTP client. Each contender gets a fresh kinesalite in
 * a child process (so this process's CPU time is the client's own), a
 * 4-shard stream, a warm-up, then 100,000 records of about 400 bytes (JSON,
 * partition keys over 8 process ids) in PutRecords batches of 500, 2 in
 * flight; the seed's way (one PutRecordCommand per record, 8 in flight) is
 * capped at 10,000 records. Every run is checked: no failed record, and
 * kinesalite holds exactly what was sent.
 *
 * CPU time is process.cpuUsage() (user + system) over the timed run: this
 * process's (the client's: building bodies, signing, HTTP, parsing answers,
 * GC) and the child's (kinesalite's), apart.
 *
 * Usage: npx tsx bench/kinesis-transport.ts [--records N]
 */
import { PutRecordCommand, PutRecordsCommand } from "@aws-sdk/client-kinesis"
import type { KinesisClient } from "@aws-sdk/client-kinesis"
import { HttpClient, HttpClientRequest } from "@effect/platform"
import { NodeHttpClient } from "@effect/platform-node"
import { SignatureV4 } from "@smithy/signature-v4"
import type { Checksum, SourceData } from "@smithy/types"
import { Effect, ManagedRuntime } from "effect"
import { createHash, createHmac } from "node:crypto"
import type { Hash, Hmac } from "node:crypto"
import * as http from "node:http"
import * as os from "node:os"
import type { SpawnedKinesis } from "../test/support/kinesis.js"
import { kinesisClient, spawnKinesalite } from "../test/support/kinesis.js"

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : fallback
}
const RECORDS = arg("--records", 100_000)
const SEED_RECORDS = Math.min(RECORDS, 10_000)
const BATCH = 500
const IN_FLIGHT = 2
const SEED_IN_FLIGHT = 8
const SHARDS = 4
const CREDENTIALS = { accessKeyId: "AKIDLOCALKINESIS0000", secretAccessKey: "local-kinesis-secret-key" }

interface Entry {
  readonly partitionKey: string
  /** The event as the sink holds it: a JSON line. */
  readonly data: string
}

/** About 400 bytes of JSON each, over 8 ao process ids (43 characters, as Arweave ids are). */
const makeEntries = (n: number, offset = 0): Array<Entry> => {
  const processes = Array.from({ length: 8 }, (_, p) => createHash("sha256").update(`process-${p}`).digest("base64url").slice(0, 43))
  return Array.from({ length: n }, (_, k) => {
    const i = offset + k
    const processId = processes[i % 8]!
    const event = {
      eventId: createHash("sha1").update(String(i)).digest("hex"),
      processId,
      messageId: createHash("sha256").update(`m${i}`).digest("base64url").slice(0, 43),
      timestamp: 1_733_000_000_000 + i,
      name: "swap.executed",
      fields: { pool: "AR/USDC", amountIn: String(1000 + (i % 997)), amountOut: String(2000 + (i % 991)), fee: "0.003", ok: true },
      pad: ""
    }
    const base = JSON.stringify(event).length
    event.pad = "x".repeat(Math.max(0, 400 - base))
    return { partitionKey: processId, data: JSON.stringify(event) }
  })
}

/** Runs `send(batch index)` over `batches`, `inFlight` at a time. */
const pool = async (batches: number, inFlight: number, send: (i: number) => Promise<void>) => {
  let next = 0
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (next < batches) await send(next++)
  }))
}

const check = (failed: number | undefined, what: string) => {
  if (failed !== 0) throw new Error(`${what}: ${failed} records failed`)
}

/** A contender: sends entries to a stream, in batches (or not), as it does. */
interface Contender {
  readonly name: string
  readonly records: number
  readonly warmUp: number
  readonly make: (kinesis: SpawnedKinesis, stream: string) => Promise<{
    readonly send: (entries: ReadonlyArray<Entry>) => Promise<void>
    readonly close: () => Promise<void>
  }>
}

const batched = (inFlight: number, put: (batch: ReadonlyArray<Entry>) => Promise<void>) => (entries: ReadonlyArray<Entry>) =>
  pool(Math.ceil(entries.length / BATCH), inFlight, (b) => put(entries.slice(b * BATCH, (b + 1) * BATCH)))

// (a) The SDK: PutRecordsCommand, one attempt, keep-alive HTTP/1.1.
const sdkPutRecords: Contender = {
  name: "(a) SDK PutRecordsCommand, NodeHttpHandler keep-alive",
  records: RECORDS,
  warmUp: 5_000,
  make: async (kinesis, stream) => {
    const client: KinesisClient = kinesisClient(kinesis.endpoint)
    return {
      send: batched(IN_FLIGHT, async (batch) => {
        const out = await client.send(
          new PutRecordsCommand({
            StreamName: stream,
            Records: batch.map((e) => ({ PartitionKey: e.partitionKey, Data: Buffer.from(e.data, "utf8") }))
          })
        )
        check(out.FailedRecordCount, "SDK")
      }),
      close: async () => client.destroy()
    }
  }
}

/** @smithy/signature-v4's hash, on node's crypto (@aws-crypto/sha256-js is not installed; the SDK uses node's crypto too). */
class NodeSha256 implements Checksum {
  private hash: Hash | Hmac
  constructor(private readonly secret?: SourceData) {
    this.hash = this.create()
  }
  private create(): Hash | Hmac {
    return this.secret === undefined
      ? createHash("sha256")
      : createHmac("sha256", typeof this.secret === "string" ? this.secret : Buffer.from(this.secret as Uint8Array))
  }
  update(data: Uint8Array): void {
    this.hash.update(data)
  }
  async digest(): Promise<Uint8Array> {
    return this.hash.digest()
  }
  reset(): void {
    this.hash = this.create()
  }
}

const AMZ_JSON = "application/x-amz-json-1.1"

/** The PutRecords body as the SDK writes it: `Data` in base64. */
const putRecordsBody = (stream: string, batch: ReadonlyArray<Entry>) =>
  JSON.stringify({
    StreamName: stream,
    Records: batch.map((e) => ({ Data: Buffer.from(e.data, "utf8").toString("base64"), PartitionKey: e.partitionKey }))
  })

const signer = () =>
  new SignatureV4({ service: "kinesis", region: "us-east-1", credentials: CREDENTIALS, sha256: NodeSha256, uriEscapePath: true })

/** Signed headers for a PutRecords body to `endpoint`. */
const signedHeaders = async (sig: SignatureV4, endpoint: URL, body: string): Promise<Record<string, string>> => {
  const signed = await sig.sign({
    method: "POST",
    protocol: "http:",
    hostname: endpoint.hostname,
    port: Number(endpoint.port),
    path: "/",
    query: {},
    headers: {
      host: endpoint.host,
      "content-type": AMZ_JSON,
      "content-length": String(Buffer.byteLength(body)),
      "x-amz-target": "Kinesis_20131202.PutRecords"
    },
    body
  })
  return signed.headers
}

// (b) SigV4 (@smithy/signature-v4) over node:http with a keep-alive agent.
const sigV4NodeHttp: Contender = {
  name: "(b) SigV4 + node:http keep-alive",
  records: RECORDS,
  warmUp: 5_000,
  make: async (kinesis, stream) => {
    const endpoint = new URL(kinesis.endpoint)
    const agent = new http.Agent({ keepAlive: true, maxSockets: 16 })
    const sig = signer()
    return {
      send: batched(IN_FLIGHT, async (batch) => {
        const body = putRecordsBody(stream, batch)
        const headers = await signedHeaders(sig, endpoint, body)
        const answer = await new Promise<string>((resolve, reject) => {
          const req = http.request({ host: endpoint.hostname, port: endpoint.port, method: "POST", path: "/", headers, agent }, (res) => {
            const chunks: Array<Buffer> = []
            res.on("data", (c: Buffer) => chunks.push(c))
            res.on("end", () => {
              const text = Buffer.concat(chunks).toString("utf8")
              res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode}: ${text}`))
            })
            res.on("error", reject)
          })
          req.on("error", reject)
          req.end(body)
        })
        check((JSON.parse(answer) as { FailedRecordCount: number }).FailedRecordCount, "node:http")
      }),
      close: async () => agent.destroy()
    }
  }
}

// (b') SigV4 over @effect/platform's HttpClient on undici, as the Honeycomb sink sends.
const sigV4EffectUndici: Contender = {
  name: "(b') SigV4 + @effect/platform HttpClient (undici)",
  records: RECORDS,
  warmUp: 5_000,
  make: async (kinesis, stream) => {
    const endpoint = new URL(kinesis.endpoint)
    const runtime = ManagedRuntime.make(NodeHttpClient.layerUndici)
    const sig = signer()
    const putBatch = (batch: ReadonlyArray<Entry>) =>
      Effect.gen(function*() {
        const client = yield* HttpClient.HttpClient
        const body = putRecordsBody(stream, batch)
        const { "content-type": _type, "content-length": _length, ...headers } = yield* Effect.promise(() =>
          signedHeaders(sig, endpoint, body)
        )
        const res = yield* client.execute(
          HttpClientRequest.post(kinesis.endpoint).pipe(HttpClientRequest.setHeaders(headers), HttpClientRequest.bodyText(body, AMZ_JSON))
        )
        const answer = (yield* res.json) as { FailedRecordCount: number }
        if (res.status !== 200) return yield* Effect.die(new Error(`${res.status}: ${JSON.stringify(answer)}`))
        check(answer.FailedRecordCount, "undici")
      })
    return {
      send: batched(IN_FLIGHT, (batch) => runtime.runPromise(putBatch(batch))),
      close: () => runtime.dispose()
    }
  }
}

// (c) The seed: one PutRecordCommand per record through the SDK.
const sdkPutRecord: Contender = {
  name: `(c) seed: SDK PutRecordCommand per record, ${SEED_IN_FLIGHT} in flight`,
  records: SEED_RECORDS,
  warmUp: 1_000,
  make: async (kinesis, stream) => {
    const client = kinesisClient(kinesis.endpoint)
    return {
      send: (entries) =>
        pool(entries.length, SEED_IN_FLIGHT, async (i) => {
          const e = entries[i]!
          await client.send(new PutRecordCommand({ StreamName: stream, PartitionKey: e.partitionKey, Data: Buffer.from(e.data, "utf8") }))
        }),
      close: async () => client.destroy()
    }
  }
}

interface Result {
  readonly name: string
  readonly records: number
  readonly seconds: number
  readonly clientCpuMs: number
  readonly kinesaliteCpuMs: number
}

const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000

const run = async (contender: Contender): Promise<Result> => {
  const kinesis = await spawnKinesalite()
  try {
    await kinesis.createStream("warm-up", SHARDS)
    await kinesis.createStream("bench", SHARDS)
    const warmUp = makeEntries(contender.warmUp, 10_000_000)
    const entries = makeEntries(contender.records)

    // The warm-up (JIT, connections) goes to its own stream, through its own instance.
    const warm = await contender.make(kinesis, "warm-up")
    await warm.send(warmUp)
    await warm.close()

    const { send, close } = await contender.make(kinesis, "bench")
    try {
      const childBefore = await kinesis.cpuUsage()
      const cpuBefore = process.cpuUsage()
      const t0 = performance.now()
      await send(entries)
      const seconds = (performance.now() - t0) / 1000
      const clientCpuMs = cpuMs(process.cpuUsage(cpuBefore))
      const kinesaliteCpuMs = cpuMs(await kinesis.cpuUsage()) - cpuMs(childBefore)

      const stored = (await kinesis.readAll("bench")).map((r) => r.data).sort()
      const sent = entries.map((e) => e.data).sort()
      if (stored.length !== sent.length || stored.some((d, i) => d !== sent[i])) {
        throw new Error(`${contender.name}: kinesalite holds ${stored.length} records, not the ${sent.length} sent`)
      }
      return { name: contender.name, records: entries.length, seconds, clientCpuMs, kinesaliteCpuMs }
    } finally {
      await close()
    }
  } finally {
    await kinesis.close()
  }
}

const sample = makeEntries(1_000)
const meanBytes = sample.reduce((n, e) => n + Buffer.byteLength(e.data), 0) / sample.length
console.log(
  `Kinesis transport bench: node ${process.version}, ${os.cpus().length} cores, ${os.cpus()[0]?.model ?? "unknown cpu"};` +
    ` kinesalite 3.3.3 in a child process, ${SHARDS} shards; ${RECORDS} records of ${meanBytes.toFixed(0)} bytes` +
    ` (8 partition keys), batches of ${BATCH}, ${IN_FLIGHT} in flight`
)
const results: Array<Result> = []
for (const contender of [sdkPutRecords, sigV4NodeHttp, sigV4EffectUndici, sdkPutRecord]) {
  const r = await run(contender)
  results.push(r)
  console.log(
    `  ${r.name.padEnd(56)} ${String(r.records).padStart(7)} records  ${(r.records / r.seconds).toFixed(0).padStart(7)} records/s` +
      `  client CPU ${(r.clientCpuMs / (r.records / 1000)).toFixed(2).padStart(6)} ms / 1,000 records` +
      `  (kinesalite ${(r.kinesaliteCpuMs / (r.records / 1000)).toFixed(1)} ms / 1,000)`
  )
}

// Where (b)'s client time goes, without HTTP: the body (base64 + JSON) and the signature, batch by batch.
{
  const entries = makeEntries(RECORDS)
  const sig = signer()
  const endpoint = new URL("http://127.0.0.1:4567")
  const batches = Array.from({ length: Math.ceil(entries.length / BATCH) }, (_, b) => entries.slice(b * BATCH, (b + 1) * BATCH))
  for (const batch of batches.slice(0, 20)) await signedHeaders(sig, endpoint, putRecordsBody("bench", batch))
  let cpu = process.cpuUsage()
  const bodies = batches.map((batch) => putRecordsBody("bench", batch))
  const bodyMs = cpuMs(process.cpuUsage(cpu))
  cpu = process.cpuUsage()
  for (const body of bodies) await signedHeaders(sig, endpoint, body)
  const signMs = cpuMs(process.cpuUsage(cpu))
  const per = (ms: number) => (ms / (entries.length / 1000)).toFixed(2)
  console.log(`  (b) without HTTP: body (base64 + JSON.stringify) ${per(bodyMs)} ms / 1,000 records, SigV4 (payload hash included) ${per(signMs)} ms / 1,000 records`)
}
