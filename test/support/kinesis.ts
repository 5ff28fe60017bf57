/**
 * A local Kinesis for the Kinesis sink's tests: kinesalite (in memory) on
 * 127.0.0.1, in this process or in a child, and a fault proxy of ours in
 * front of it, since kinesalite never fails a record.
 *
 * The wire: @aws-sdk/client-kinesis 3.1143.0 speaks awsJson1_1 (its
 * dist-cjs/index.js builds the client on `AwsJson1_1Protocol`, not Smithy
 * RPCv2 CBOR): `POST /` with `content-type: application/x-amz-json-1.1`,
 * `x-amz-target: Kinesis_20131202.PutRecords`, a JSON body in which `Data`
 * is base64. kinesalite answers in the content type it was asked in (JSON,
 * or CBOR for `application/x-amz-cbor-1.1`, which the Java SDK sends). The
 * proxy reads and writes JSON; a CBOR request is forwarded untouched and
 * takes no per-record fault.
 *
 * Errors as the SDK reads them (`loadJsonRpcErrorCode`, @smithy/core/protocols):
 * the body's `__type` first, then a `code`, then the `x-amzn-ErrorType`
 * header, each cut at `:` and after `#`; the message from `message` or
 * `Message`. A type the Kinesis model names (ProvisionedThroughputExceeded,
 * LimitExceeded, KMS*, ResourceNotFound, AccessDenied, InternalFailureException)
 * comes out as its class; any other (InternalFailure, ServiceUnavailable,
 * the auth errors) as a KinesisServiceException with that `name`.
 */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand
} from "@aws-sdk/client-kinesis"
import { NodeHttpHandler } from "@smithy/node-http-handler"
import { spawn } from "node:child_process"
import { createHash, randomUUID } from "node:crypto"
import * as http from "node:http"
import { createRequire } from "node:module"
import type { AddressInfo, Socket } from "node:net"

// kinesalite is CommonJS with `module.exports = fn`; no synthetic default imports here.
const require = createRequire(import.meta.url)
const kinesalite: typeof import("kinesalite") = require("kinesalite")

/** kinesalite's account (its `0000-0000-0000` without dashes), as it puts it in messages. */
export const ACCOUNT = "000000000000"

/** One record as stored in a shard; `data` is the utf8 of its bytes. */
export interface StoredRecord {
  readonly shardId: string
  readonly partitionKey: string
  readonly data: string
  readonly sequenceNumber: string
}

export interface Shard {
  readonly shardId: string
  readonly startingHashKey: bigint
  readonly endingHashKey: bigint
  /** False once split or merged. */
  readonly open: boolean
}

/** A running Kinesis on 127.0.0.1, with the calls a test makes to set it up and check it. */
export interface LocalKinesis {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string
  /** The test side's own client (see `kinesisClient`). */
  readonly client: KinesisClient
  /** Creates the stream and waits until it is ACTIVE. */
  readonly createStream: (name: string, shards: number) => Promise<void>
  readonly shards: (name: string) => Promise<ReadonlyArray<Shard>>
  /** Every record of every shard, shards in id order, each in its own order. */
  readonly readAll: (name: string) => Promise<Array<StoredRecord>>
  readonly close: () => Promise<void>
}

/** kinesalite in a child process: its CPU is not ours. */
export interface SpawnedKinesis extends LocalKinesis {
  /** The child's `process.cpuUsage()`. */
  readonly cpuUsage: () => Promise<NodeJS.CpuUsage>
}

/** Streams are ACTIVE at once; shards are not the limit. */
const kinesaliteOptions = { createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 10_000 } as const

/**
 * An SDK client as a sink would hold it: one attempt (no SDK retries), HTTP/1.1 with keep-alive, dummy static keys;
 * `requestTimeout` ends a call that takes longer (TimeoutError, code ETIMEDOUT). `maxAttempts` gives it the SDK's
 * retries, for a caller that is not the sink under test (a kept-alive socket the server closed while the client
 * was idle ends the next call with "socket hang up", which a second attempt gets past).
 */
export const kinesisClient = (
  endpoint: string,
  options: { readonly maxSockets?: number; readonly requestTimeout?: number; readonly maxAttempts?: number } = {}
): KinesisClient =>
  new KinesisClient({
    endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "AKIDLOCALKINESIS0000", secretAccessKey: "local-kinesis-secret-key" },
    maxAttempts: options.maxAttempts ?? 1,
    // The client's own default is NodeHttp2Handler: say HTTP/1.1 explicitly.
    requestHandler: new NodeHttpHandler({
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: options.maxSockets ?? 16 }),
      // Without throwOnRequestTimeout, @smithy/node-http-handler 4.14 only logs a warning when requestTimeout passes.
      ...(options.requestTimeout === undefined ? {} : { requestTimeout: options.requestTimeout, throwOnRequestTimeout: true })
    })
  })

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** The test-side calls over any endpoint that speaks Kinesis. */
const connect = (endpoint: string, stop: () => Promise<void>): LocalKinesis => {
  // The test's own calls (make streams, read them back) come between long idle spells: the SDK's retries.
  const client = kinesisClient(endpoint, { maxAttempts: 3 })
  const shards = async (name: string): Promise<ReadonlyArray<Shard>> => {
    const out: Array<Shard> = []
    let nextToken: string | undefined
    do {
      const page = await client.send(
        new ListShardsCommand(nextToken === undefined ? { StreamName: name } : { NextToken: nextToken })
      )
      for (const s of page.Shards ?? []) {
        out.push({
          shardId: s.ShardId!,
          startingHashKey: BigInt(s.HashKeyRange!.StartingHashKey!),
          endingHashKey: BigInt(s.HashKeyRange!.EndingHashKey!),
          open: s.SequenceNumberRange?.EndingSequenceNumber === undefined
        })
      }
      nextToken = page.NextToken
    } while (nextToken !== undefined)
    return out.sort((a, b) => a.shardId.localeCompare(b.shardId))
  }
  return {
    endpoint,
    client,
    shards,
    createStream: async (name, shardCount) => {
      await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shardCount }))
      for (let i = 0; i < 500; i++) {
        const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }))
        if (d.StreamDescriptionSummary?.StreamStatus === "ACTIVE") return
        await sleep(10)
      }
      throw new Error(`stream ${name} not ACTIVE after 5 s`)
    },
    readAll: async (name) => {
      const out: Array<StoredRecord> = []
      for (const shard of await shards(name)) {
        let iterator = (await client.send(
          new GetShardIteratorCommand({ StreamName: name, ShardId: shard.shardId, ShardIteratorType: "TRIM_HORIZON" })
        )).ShardIterator
        while (iterator !== undefined) {
          const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }))
          for (const r of page.Records ?? []) {
            out.push({
              shardId: shard.shardId,
              partitionKey: r.PartitionKey!,
              data: Buffer.from(r.Data!).toString("utf8"),
              sequenceNumber: r.SequenceNumber!
            })
          }
          // Caught up: an empty page at the tip. A closed shard ends with no next iterator.
          if ((page.Records ?? []).length === 0 && (page.MillisBehindLatest ?? 0) === 0) break
          iterator = page.NextShardIterator
        }
      }
      return out
    },
    close: async () => {
      client.destroy()
      await stop()
    }
  }
}

const listen = (server: http.Server) =>
  new Promise<number>((resolve, reject) => {
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port))
  })

const closeServer = (server: http.Server) =>
  new Promise<void>((resolve, reject) => {
    server.close((err) => (err ? reject(err) : resolve()))
    server.closeAllConnections()
  })

/**
 * kinesalite in this process, in memory, on 127.0.0.1 and a free port.
 * It throws (uncaught) on a request that errors mid-body: the proxy never aborts one.
 */
export const startKinesalite = async (): Promise<LocalKinesis> => {
  const server = kinesalite(kinesaliteOptions)
  const port = await listen(server)
  return connect(`http://127.0.0.1:${port}`, () => closeServer(server))
}

/** The child's program: kinesalite, then answers `cpu` and `close` over IPC. */
const childProgram = (modulePath: string) => `
const server = require(${JSON.stringify(modulePath)})(${JSON.stringify(kinesaliteOptions)})
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }))
process.on("message", (m) => {
  if (m === "cpu") process.send({ cpu: process.cpuUsage() })
  if (m === "close") { server.close(() => process.exit(0)); server.closeAllConnections() }
})
process.on("disconnect", () => process.exit(0))
`

/** kinesalite in a child process (same options), so that a bench's CPU time is the client's own. */
export const spawnKinesalite = async (): Promise<SpawnedKinesis> => {
  const modulePath = require.resolve("kinesalite")
  const child = spawn(process.execPath, ["-e", childProgram(modulePath)], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const port = await new Promise<number>((resolve, reject) => {
    child.once("error", reject)
    child.once("exit", (code) => reject(new Error(`kinesalite child exited (${code}) before listening`)))
    child.once("message", (m: { port: number }) => resolve(m.port))
  })
  const local = connect(`http://127.0.0.1:${port}`, async () => {
    if (child.connected) child.send("close")
    await exited
  })
  return {
    ...local,
    cpuUsage: () =>
      new Promise((resolve) => {
        const onMessage = (m: { cpu?: NodeJS.CpuUsage }) => {
          if (m.cpu === undefined) return
          child.off("message", onMessage)
          resolve(m.cpu)
        }
        child.on("message", onMessage)
        child.send("cpu")
      })
  }
}

// ---------------------------------------------------------------------------
// The fault proxy

/** What the proxy knows of a call before deciding its fault. */
export interface Call {
  /** The operation, from `x-amz-target`: `PutRecords`, `PutRecord`, `ListShards` ... */
  readonly target: string
  readonly stream: string | undefined
  /** Records in the request: PutRecords' count, 1 for PutRecord, else 0 (and 0 for CBOR). */
  readonly records: number
  /** This call's number among calls of its target, from 1: for PutRecords, the PutRecords call's number. */
  readonly n: number
}

/** One record of a PutRecords request, for a selector. */
export interface RecordView {
  /** Its index within the request. */
  readonly index: number
  readonly partitionKey: string
  /** The utf8 of its bytes. */
  readonly data: string
}

/** Which records: by index within the request, or by a predicate. */
export type RecordSelector = ReadonlyArray<number> | ((record: RecordView) => boolean)

/** Whole-request errors the proxy answers as Kinesis would (status, `__type`, message: see `errorReply`). */
export type RequestError =
  | "InternalFailure"
  | "InternalFailureException"
  | "ServiceUnavailable"
  | "ProvisionedThroughputExceededException"
  | "LimitExceededException"
  | "KMSThrottlingException"
  | "ResourceNotFoundException"
  | "AccessDeniedException"
  | "KMSAccessDeniedException"
  | "UnrecognizedClientException"
  | "ExpiredTokenException"
  /** "Signature expired: ..." (what a client whose clock is behind by over 5 minutes gets). */
  | "InvalidSignatureException"

/** What to do with one request instead of forwarding it as it is. */
export type Fault =
  /**
   * PutRecords only: the selected records fail (`throttled` with
   * ProvisionedThroughputExceededException, `failed` with InternalFailure; a
   * record in both is throttled); only the others reach kinesalite, and the
   * one answer merges both, in request order.
   */
  | { readonly kind: "records"; readonly throttled?: RecordSelector; readonly failed?: RecordSelector }
  | { readonly kind: "error"; readonly error: RequestError }
  /** Any other error reply, as given. */
  | { readonly kind: "reply"; readonly status: number; readonly type: string; readonly message: string }
  /** Waits, then forwards; a client gone before then stores nothing. */
  | { readonly kind: "slow"; readonly millis: number }
  /** Forwards at once (the records are stored), answers after the delay: a timed-out client re-sends. */
  | { readonly kind: "late-reply"; readonly millis: number }
  /** Destroys the connection once the request is read: nothing forwarded, unless `afterForwarding`. */
  | { readonly kind: "drop"; readonly afterForwarding?: boolean }
  /**
   * Forwards at once (the records are stored), answers once `until` settles: a request kept in flight
   * while the test does something else. A client gone before then counts in `repliesLost`.
   */
  | { readonly kind: "held"; readonly until: Promise<unknown> }

interface Reply {
  readonly status: number
  readonly headers: http.OutgoingHttpHeaders
  readonly body: Buffer
}

const AMZ_JSON = "application/x-amz-json-1.1"

/** Lowercase; the proxy sets these itself. */
const HOP_HEADERS = new Set(["host", "content-length", "connection", "keep-alive", "transfer-encoding", "date"])

const amzDate = (d: Date) => d.toISOString().replace(/[-:]|\.\d{3}/g, "")

/** `YYYYMMDDTHHMMSSZ` (SigV4's `X-Amz-Date`) as epoch ms, or undefined. */
const parseAmzDate = (header: unknown): number | undefined =>
  typeof header === "string" && /^\d{8}T\d{6}Z$/.test(header)
    ? Date.UTC(+header.slice(0, 4), +header.slice(4, 6) - 1, +header.slice(6, 8), +header.slice(9, 11), +header.slice(11, 13), +header.slice(13, 15))
    : undefined

/** How far a signature's date may be from the server's clock (SigV4: 5 minutes). */
const SIGNATURE_WINDOW_MS = 5 * 60_000

/**
 * What AWS answers a request signed at `signed` when its own clock says `now` and the two are more than
 * five minutes apart (InvalidSignatureException, 400); undefined within the window.
 */
export const clockReply = (signed: number, now: number): { readonly status: number; readonly type: string; readonly message: string } | undefined =>
  signed < now - SIGNATURE_WINDOW_MS
    ? {
      status: 400,
      type: "InvalidSignatureException",
      message: `Signature expired: ${amzDate(new Date(signed))} is now earlier than ${amzDate(new Date(now - SIGNATURE_WINDOW_MS))} (${
        amzDate(new Date(now))
      } - 5 min.)`
    }
    : signed > now + SIGNATURE_WINDOW_MS
    ? {
      status: 400,
      type: "InvalidSignatureException",
      message: `Signature not yet current: ${amzDate(new Date(signed))} is still later than ${amzDate(new Date(now + SIGNATURE_WINDOW_MS))} (${
        amzDate(new Date(now))
      } + 5 min.)`
    }
    : undefined

/** The status, `__type` and message Kinesis sends for each whole-request error, as far as its docs and users' reports show. */
export const errorReply = (
  error: RequestError,
  call: Call,
  headers: http.IncomingHttpHeaders
): { readonly status: number; readonly type: string; readonly message: string } => {
  const stream = call.stream ?? "unknown"
  const arn = `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/${stream}`
  switch (error) {
    case "InternalFailure":
    case "InternalFailureException":
      return { status: 500, type: error, message: "Internal service failure." }
    case "ServiceUnavailable":
      return { status: 503, type: error, message: "Service Unavailable" }
    case "ProvisionedThroughputExceededException":
    case "LimitExceededException":
      return { status: 400, type: error, message: `Rate exceeded for stream ${stream} under account ${ACCOUNT}.` }
    case "KMSThrottlingException":
      return {
        status: 400,
        type: error,
        message: `Rate exceeded for KMS key used by stream ${stream} under account ${ACCOUNT}; retry with backoff.`
      }
    case "ResourceNotFoundException":
      return { status: 400, type: error, message: `Stream ${stream} under account ${ACCOUNT} not found.` }
    case "AccessDeniedException":
      return {
        status: 400,
        type: error,
        message: `User: arn:aws:iam::${ACCOUNT}:user/vacuum is not authorized to perform: kinesis:${call.target} on resource: ${arn} because no identity-based policy allows the kinesis:${call.target} action`
      }
    case "KMSAccessDeniedException":
      return {
        status: 400,
        type: error,
        message: `User: arn:aws:iam::${ACCOUNT}:user/vacuum is not authorized to perform: kms:GenerateDataKey on the KMS key of stream ${arn}`
      }
    case "UnrecognizedClientException":
      return { status: 400, type: error, message: "The security token included in the request is invalid." }
    case "ExpiredTokenException":
      return { status: 400, type: error, message: "The security token included in the request is expired" }
    case "InvalidSignatureException": {
      // As if the server's clock were 10 minutes past the signature's date (the reply's Date header stays true,
      // so the SDK corrects no clock offset from it).
      const signed = parseAmzDate(headers["x-amz-date"]) ?? Date.now() - 600_000
      return clockReply(signed, signed + 600_000)!
    }
  }
}

const jsonError = (status: number, type: string, message: string): Reply => ({
  status,
  headers: {
    "content-type": AMZ_JSON,
    // As AWS's front end writes it; the SDK reads the body's __type first and cuts the header at ':'.
    "x-amzn-errortype": `${type}:http://internal.amazon.com/coral/com.amazon.coral.service/`,
    "x-amzn-requestid": randomUUID()
  },
  body: Buffer.from(JSON.stringify({ __type: type, message }))
})

const selects = (selector: RecordSelector | undefined, record: RecordView): boolean =>
  selector === undefined ? false : typeof selector === "function" ? selector(record) : selector.includes(record.index)

/** The shard a record goes to: MD5 of its partition key (or its explicit hash key) within an open shard's range. */
const shardOf = (shards: ReadonlyArray<Shard>, partitionKey: string, explicitHashKey: string | undefined): string => {
  const hashKey = explicitHashKey !== undefined
    ? BigInt(explicitHashKey)
    : BigInt(`0x${createHash("md5").update(partitionKey, "utf8").digest("hex")}`)
  return shards.find((s) => s.open && s.startingHashKey <= hashKey && hashKey <= s.endingHashKey)?.shardId ?? "shardId-000000000000"
}

interface WireRecord {
  readonly Data: string
  readonly PartitionKey: string
  readonly ExplicitHashKey?: string
}

/** A fault proxy in front of a LocalKinesis: forwards what it is not told to fail, counts what it sees. */
export class KinesisProxy {
  /** Decides a fault for each request; none by default. */
  fault: (call: Call) => Fault | undefined = () => undefined
  /**
   * How far the server's clock is ahead of this machine's (negative: behind), in ms. Its replies carry its
   * time in `Date`, and a request whose `X-Amz-Date` is more than 5 minutes from it is refused as AWS
   * refuses it ("Signature expired" / "Signature not yet current"), before any fault.
   */
  clockSkewMillis = 0
  private _repliesLost = 0
  private _clockRefusals = 0
  private _requests = 0
  private _putRecordsCalls = 0
  private _recordsForwarded = 0
  private _recordsFailed = 0
  private readonly perTarget = new Map<string, number>()
  private readonly sockets = new Set<Socket>()
  private readonly shardsOf = new Map<string, Promise<ReadonlyArray<Shard>>>()
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 })
  private readonly upstream: URL

  private constructor(private readonly server: http.Server, private readonly target: LocalKinesis) {
    this.upstream = new URL(target.endpoint)
    server.on("connection", (socket) => {
      this.sockets.add(socket)
      socket.on("close", () => this.sockets.delete(socket))
    })
  }

  /** Listens on 127.0.0.1 (only), on a free port. */
  static async start(target: LocalKinesis): Promise<KinesisProxy> {
    let self: KinesisProxy | undefined
    const server = http.createServer((req, res) => self!.handle(req, res))
    self = new KinesisProxy(server, target)
    await listen(server)
    return self
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }
  /** Every request, whatever its target. */
  get requests(): number {
    return this._requests
  }
  get putRecordsCalls(): number {
    return this._putRecordsCalls
  }
  /** Records sent on to kinesalite (PutRecords and PutRecord), whatever it answered. */
  get recordsForwarded(): number {
    return this._recordsForwarded
  }
  /** Records answered as failed by a `records` fault. */
  get recordsFailed(): number {
    return this._recordsFailed
  }
  /** Replies not sent because the client had closed the connection first. */
  get repliesLost(): number {
    return this._repliesLost
  }
  /** Requests refused because their signature's date was out of the server clock's window. */
  get clockRefusals(): number {
    return this._clockRefusals
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    this.agent.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private shards(stream: string): Promise<ReadonlyArray<Shard>> {
    let shards = this.shardsOf.get(stream)
    if (shards === undefined) {
      shards = this.target.shards(stream)
      // A stream not there yet is asked again next time.
      shards.catch(() => this.shardsOf.delete(stream))
      this.shardsOf.set(stream, shards)
    }
    return shards
  }

  private forward(req: http.IncomingMessage, body: Buffer, records: number): Promise<Reply> {
    this._recordsForwarded += records
    const headers: http.OutgoingHttpHeaders = { "content-length": body.length }
    for (const [k, v] of Object.entries(req.headers)) if (!HOP_HEADERS.has(k) && v !== undefined) headers[k] = v
    return new Promise<Reply>((resolve) => {
      const up = http.request(
        { host: this.upstream.hostname, port: this.upstream.port, method: req.method, path: req.url, headers, agent: this.agent },
        (res) => {
          const chunks: Array<Buffer> = []
          res.on("data", (c: Buffer) => chunks.push(c))
          res.on("end", () => {
            const out: http.OutgoingHttpHeaders = {}
            for (const [k, v] of Object.entries(res.headers)) if (!HOP_HEADERS.has(k) && v !== undefined) out[k] = v
            resolve({ status: res.statusCode ?? 502, headers: out, body: Buffer.concat(chunks) })
          })
          res.on("error", (e) => resolve(jsonError(502, "ProxyUpstreamError", String(e))))
        }
      )
      up.on("error", (e) => resolve(jsonError(502, "ProxyUpstreamError", String(e))))
      up.end(body)
    })
  }

  /** Forwards the records not selected, answers all of them in request order. */
  private async failRecords(
    req: http.IncomingMessage,
    parsed: { StreamName?: string; Records: ReadonlyArray<WireRecord> },
    stream: string | undefined,
    fault: Extract<Fault, { kind: "records" }>
  ): Promise<Reply> {
    const verdicts = parsed.Records.map((r, index) => {
      const view: RecordView = { index, partitionKey: r.PartitionKey, data: Buffer.from(r.Data, "base64").toString("utf8") }
      return selects(fault.throttled, view) ? "throttled" as const : selects(fault.failed, view) ? "failed" as const : "ok" as const
    })
    const kept = parsed.Records.filter((_, i) => verdicts[i] === "ok")
    const shards = verdicts.includes("throttled") && stream !== undefined ? await this.shards(stream) : []
    let stored: ReadonlyArray<{ SequenceNumber: string; ShardId: string }> = []
    let rest: Record<string, unknown> = {}
    if (kept.length > 0) {
      const upstream = await this.forward(req, Buffer.from(JSON.stringify({ ...parsed, Records: kept })), kept.length)
      if (upstream.status !== 200) return upstream
      const answer = JSON.parse(upstream.body.toString("utf8")) as {
        FailedRecordCount: number
        Records: ReadonlyArray<{ SequenceNumber: string; ShardId: string }>
      }
      const { Records, FailedRecordCount: _failed, ...others } = answer
      stored = Records
      rest = others
    }
    let next = 0
    const records = parsed.Records.map((r, i) => {
      switch (verdicts[i]) {
        case "throttled":
          return {
            ErrorCode: "ProvisionedThroughputExceededException",
            ErrorMessage: `Rate exceeded for shard ${shardOf(shards, r.PartitionKey, r.ExplicitHashKey)} in stream ${stream} under account ${ACCOUNT}.`
          }
        case "failed":
          return { ErrorCode: "InternalFailure", ErrorMessage: "Internal service failure." }
        default:
          return stored[next++]!
      }
    })
    const failedCount = parsed.Records.length - kept.length
    this._recordsFailed += failedCount
    return {
      status: 200,
      headers: { "content-type": AMZ_JSON, "x-amzn-requestid": randomUUID() },
      body: Buffer.from(JSON.stringify({ ...rest, FailedRecordCount: failedCount, Records: records }))
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const body = Buffer.concat(chunks)
      this._requests++
      const send = (reply: Reply) => {
        if (res.destroyed || res.socket === null || res.socket.destroyed) return void this._repliesLost++
        // The server's time, as AWS's front end sends it (the SDK corrects its clock offset from it).
        const date = new Date(Date.now() + this.clockSkewMillis).toUTCString()
        res.writeHead(reply.status, { ...reply.headers, date, "content-length": reply.body.length })
        res.end(reply.body)
      }
      const target = String(req.headers["x-amz-target"] ?? "").split(".")[1] ?? ""
      const json = String(req.headers["content-type"] ?? "").split(";")[0]!.trim() === AMZ_JSON
      let parsed: { StreamName?: string; StreamARN?: string; Records?: ReadonlyArray<WireRecord> } | undefined
      if (json) {
        try {
          parsed = JSON.parse(body.toString("utf8"))
        } catch {
          parsed = undefined
        }
      }
      const stream = parsed?.StreamName ?? parsed?.StreamARN?.split(":stream/")[1]
      const records = target === "PutRecords" && Array.isArray(parsed?.Records)
        ? parsed.Records.length
        : target === "PutRecord" && parsed !== undefined
        ? 1
        : 0
      const n = (this.perTarget.get(target) ?? 0) + 1
      this.perTarget.set(target, n)
      if (target === "PutRecords") this._putRecordsCalls++
      const call: Call = { target, stream, records, n }
      const signed = parseAmzDate(req.headers["x-amz-date"])
      const skewed = signed === undefined ? undefined : clockReply(signed, Date.now() + this.clockSkewMillis)
      if (skewed !== undefined) {
        this._clockRefusals++
        return send(jsonError(skewed.status, skewed.type, skewed.message))
      }
      const fault = this.fault(call)
      const forward = () => this.forward(req, body, records)

      switch (fault?.kind) {
        case undefined:
          return void forward().then(send)
        case "error": {
          const e = errorReply(fault.error, call, req.headers)
          return send(jsonError(e.status, e.type, e.message))
        }
        case "reply":
          return send(jsonError(fault.status, fault.type, fault.message))
        case "records":
          if (target !== "PutRecords" || parsed?.Records === undefined) {
            return send(jsonError(500, "ProxyMisuse", `a records fault on ${target || "a request"} that is not JSON PutRecords`))
          }
          return void this.failRecords(req, { ...parsed, Records: parsed.Records }, stream, fault).then(send)
        case "slow": {
          const timer = setTimeout(() => void forward().then(send), fault.millis)
          res.on("close", () => clearTimeout(timer))
          return
        }
        case "late-reply":
          return void forward().then((reply) => {
            const timer = setTimeout(() => send(reply), fault.millis)
            res.on("close", () => clearTimeout(timer))
          })
        case "drop":
          if (fault.afterForwarding) return void forward().then(() => req.socket.destroy())
          return void req.socket.destroy()
        case "held":
          return void forward().then((reply) => fault.until.then(() => send(reply), () => send(reply)))
      }
    })
  }
}

/** A fault proxy in front of `target`, on 127.0.0.1 and a free port. */
export const startKinesisProxy = (target: LocalKinesis): Promise<KinesisProxy> => KinesisProxy.start(target)
