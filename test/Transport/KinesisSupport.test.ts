/**
 * The Kinesis sink's test support, checked through the SDK client a sink
 * would use (one attempt): kinesalite stores what the proxy lets through,
 * and each fault reaches the caller as the SDK reads it from Kinesis.
 */
import type { PutRecordsRequestEntry } from "@aws-sdk/client-kinesis"
import { PutRecordsCommand } from "@aws-sdk/client-kinesis"
import type { KinesisClient } from "@aws-sdk/client-kinesis"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { Fault, LocalKinesis, RequestError } from "../support/kinesis.js"
import { kinesisClient, startKinesalite, startKinesisProxy } from "../support/kinesis.js"

const STREAM = "ao-events"

/** kinesalite with a 4-shard stream, the proxy in front, a client on the proxy: all closed with the scope. */
const setUp = (client: { readonly requestTimeout?: number } = {}) =>
  Effect.gen(function*() {
    const kinesis = yield* Effect.acquireRelease(Effect.promise(startKinesalite), (k) => Effect.promise(() => k.close()))
    yield* Effect.promise(() => kinesis.createStream(STREAM, 4))
    const proxy = yield* Effect.acquireRelease(Effect.promise(() => startKinesisProxy(kinesis)), (p) => Effect.promise(() => p.close()))
    const sdk = yield* Effect.acquireRelease(
      Effect.sync(() => kinesisClient(proxy.endpoint, client)),
      (c) => Effect.sync(() => c.destroy())
    )
    return { kinesis, proxy, sdk }
  })

/** `n` small JSON records over 8 process ids, their data `{"i":..}`. */
const records = (n: number): Array<PutRecordsRequestEntry> =>
  Array.from({ length: n }, (_, i) => ({
    PartitionKey: `process-${i % 8}`,
    Data: Buffer.from(JSON.stringify({ i, processId: `process-${i % 8}` }))
  }))

const dataOf = (r: PutRecordsRequestEntry) => Buffer.from(r.Data!).toString("utf8")

const put = (sdk: KinesisClient, entries: Array<PutRecordsRequestEntry>) =>
  Effect.promise(() => sdk.send(new PutRecordsCommand({ StreamName: STREAM, Records: entries })))

/** What a failed send threw, as a sink would classify it. */
interface Failure {
  readonly name: string
  readonly status: number | undefined
  readonly fault: string | undefined
  readonly code: string | undefined
  readonly message: string
}

const putFailure = (sdk: KinesisClient, entries: Array<PutRecordsRequestEntry>) =>
  Effect.tryPromise({
    try: () => sdk.send(new PutRecordsCommand({ StreamName: STREAM, Records: entries })),
    catch: (e): Failure => {
      const error = e as Error & { $metadata?: { httpStatusCode?: number }; $fault?: string; code?: string }
      return { name: error.name, status: error.$metadata?.httpStatusCode, fault: error.$fault, code: error.code, message: error.message }
    }
  }).pipe(Effect.flip)

const storedData = (kinesis: LocalKinesis) => Effect.promise(() => kinesis.readAll(STREAM)).pipe(Effect.map((all) => all.map((r) => r.data).sort()))

describe("Kinesis test support", () => {
  describe("per-record faults", () => {
    it.scopedLive("throttled and failed records are not stored, the others are, and one answer says which in request order", () =>
      Effect.gen(function*() {
        const { kinesis, proxy, sdk } = yield* setUp()
        const entries = records(20)
        proxy.fault = (call) =>
          call.target === "PutRecords" && call.n === 1
            ? { kind: "records", throttled: [1, 5, 6], failed: (r) => r.data.startsWith("{\"i\":10,") }
            : undefined
        const answer = yield* put(sdk, entries)
        const failedAt = [1, 5, 6, 10]

        assert.strictEqual(answer.FailedRecordCount, 4)
        assert.strictEqual(answer.Records!.length, 20)
        for (const i of [1, 5, 6]) {
          assert.strictEqual(answer.Records![i]!.ErrorCode, "ProvisionedThroughputExceededException")
          assert.match(answer.Records![i]!.ErrorMessage!, /^Rate exceeded for shard shardId-\d{12} in stream ao-events under account \d{12}\.$/)
          assert.isUndefined(answer.Records![i]!.SequenceNumber)
        }
        assert.strictEqual(answer.Records![10]!.ErrorCode, "InternalFailure")

        const stored = yield* Effect.promise(() => kinesis.readAll(STREAM))
        assert.deepStrictEqual(stored.map((r) => r.data).sort(), entries.filter((_, i) => !failedAt.includes(i)).map(dataOf).sort())
        // Each success carries kinesalite's own sequence number and shard for that record.
        entries.forEach((entry, i) => {
          if (failedAt.includes(i)) return
          const found = stored.find((r) => r.data === dataOf(entry))!
          assert.strictEqual(answer.Records![i]!.SequenceNumber, found.sequenceNumber)
          assert.strictEqual(answer.Records![i]!.ShardId, found.shardId)
          assert.strictEqual(found.partitionKey, entry.PartitionKey)
        })
        // A throttled record names the shard its partition key goes to.
        for (const i of [1, 5, 6]) {
          const sameKey = stored.find((r) => r.partitionKey === entries[i]!.PartitionKey)!
          assert.include(answer.Records![i]!.ErrorMessage!, sameKey.shardId)
        }
        assert.isAbove(new Set(stored.map((r) => r.shardId)).size, 1)
        assert.deepStrictEqual(
          { calls: proxy.putRecordsCalls, forwarded: proxy.recordsForwarded, failed: proxy.recordsFailed },
          { calls: 1, forwarded: 16, failed: 4 }
        )

        // The re-send of what failed goes through: every record stored once.
        const again = yield* put(sdk, failedAt.map((i) => entries[i]!))
        assert.strictEqual(again.FailedRecordCount, 0)
        assert.deepStrictEqual(yield* storedData(kinesis), entries.map(dataOf).sort())
      }))

    it.scopedLive("a request whose every record fails forwards nothing", () =>
      Effect.gen(function*() {
        const { kinesis, proxy, sdk } = yield* setUp()
        proxy.fault = () => ({ kind: "records", throttled: () => true })
        const answer = yield* put(sdk, records(5))
        assert.strictEqual(answer.FailedRecordCount, 5)
        assert.deepStrictEqual(answer.Records!.map((r) => r.ErrorCode), Array(5).fill("ProvisionedThroughputExceededException"))
        assert.strictEqual(proxy.recordsForwarded, 0)
        assert.deepStrictEqual(yield* storedData(kinesis), [])
      }))
  })

  describe("whole-request faults surface from the SDK with the error's name and status", () => {
    const cases: ReadonlyArray<readonly [RequestError, number, "client" | "server"]> = [
      ["InternalFailure", 500, "server"],
      ["InternalFailureException", 500, "server"],
      ["ServiceUnavailable", 503, "server"],
      ["ProvisionedThroughputExceededException", 400, "client"],
      ["LimitExceededException", 400, "client"],
      ["KMSThrottlingException", 400, "client"],
      ["ResourceNotFoundException", 400, "client"],
      ["AccessDeniedException", 400, "client"],
      ["KMSAccessDeniedException", 400, "client"],
      ["UnrecognizedClientException", 400, "client"],
      ["ExpiredTokenException", 400, "client"],
      ["InvalidSignatureException", 400, "client"]
    ]
    for (const [error, status, fault] of cases) {
      it.scopedLive(`${error}: ${status}, nothing stored`, () =>
        Effect.gen(function*() {
          const { kinesis, proxy, sdk } = yield* setUp()
          proxy.fault = () => ({ kind: "error", error })
          const failure = yield* putFailure(sdk, records(3))
          assert.deepStrictEqual([failure.name, failure.status, failure.fault], [error, status, fault])
          assert.notStrictEqual(failure.message, "UnknownError")
          assert.strictEqual(proxy.recordsForwarded, 0)
          assert.deepStrictEqual(yield* storedData(kinesis), [])
        }))
    }

    it.scopedLive("a signature expired says so, as the SDK's transient check reads it", () =>
      Effect.gen(function*() {
        const { proxy, sdk } = yield* setUp()
        proxy.fault = () => ({ kind: "error", error: "InvalidSignatureException" })
        const failure = yield* putFailure(sdk, records(1))
        assert.match(failure.message, /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/)
      }))

    it.scopedLive("any other error reply, as given: a 403 signature expired keeps its name and status", () =>
      Effect.gen(function*() {
        const { proxy, sdk } = yield* setUp()
        proxy.fault = () => ({ kind: "reply", status: 403, type: "InvalidSignatureException", message: "Signature expired: 20200101T000000Z" })
        const failure = yield* putFailure(sdk, records(1))
        assert.deepStrictEqual([failure.name, failure.status, failure.message], [
          "InvalidSignatureException",
          403,
          "Signature expired: 20200101T000000Z"
        ])
      }))

    it.scopedLive("a fault for one call only: the next goes through", () =>
      Effect.gen(function*() {
        const { kinesis, proxy, sdk } = yield* setUp()
        proxy.fault = (call) => (call.target === "PutRecords" && call.n === 1 ? { kind: "error", error: "InternalFailure" } : undefined)
        const entries = records(4)
        assert.strictEqual((yield* putFailure(sdk, entries)).name, "InternalFailure")
        assert.strictEqual((yield* put(sdk, entries)).FailedRecordCount, 0)
        assert.deepStrictEqual(yield* storedData(kinesis), entries.map(dataOf).sort())
        assert.deepStrictEqual([proxy.putRecordsCalls, proxy.recordsForwarded], [2, 4])
      }))
  })

  describe("the connection", () => {
    it.scopedLive("a dropped connection is a network error without a status, and nothing is stored", () =>
      Effect.gen(function*() {
        const { kinesis, proxy, sdk } = yield* setUp()
        proxy.fault = () => ({ kind: "drop" })
        const failure = yield* putFailure(sdk, records(3))
        // The SDK's HTTP handler renames ECONNRESET to TimeoutError.
        assert.deepStrictEqual([failure.name, failure.code, failure.status], ["TimeoutError", "ECONNRESET", undefined])
        assert.strictEqual(proxy.recordsForwarded, 0)
        assert.deepStrictEqual(yield* storedData(kinesis), [])
      }))

    it.scopedLive("a connection dropped after forwarding: the caller sees a network error, yet the records are stored", () =>
      Effect.gen(function*() {
        const { kinesis, proxy, sdk } = yield* setUp()
        proxy.fault = () => ({ kind: "drop", afterForwarding: true })
        const entries = records(3)
        const failure = yield* putFailure(sdk, entries)
        assert.strictEqual(failure.code, "ECONNRESET")
        assert.deepStrictEqual(yield* storedData(kinesis), entries.map(dataOf).sort())
      }))

    it.scopedLive("a slow reply is forwarded after its delay: stored, answered in full", () =>
      Effect.gen(function*() {
        const { kinesis, proxy, sdk } = yield* setUp()
        proxy.fault = (): Fault => ({ kind: "slow", millis: 200 })
        const entries = records(3)
        const answer = yield* put(sdk, entries)
        assert.strictEqual(answer.FailedRecordCount, 0)
        assert.deepStrictEqual(yield* storedData(kinesis), entries.map(dataOf).sort())
      }))

    it.scopedLive("a caller that gives up on a slow reply stores nothing", () =>
      Effect.gen(function*() {
        const { kinesis, proxy, sdk } = yield* setUp({ requestTimeout: 100 })
        proxy.fault = () => ({ kind: "slow", millis: 300 })
        const failure = yield* putFailure(sdk, records(3))
        assert.deepStrictEqual([failure.name, failure.code], ["TimeoutError", "ETIMEDOUT"])
        // Past the delay: had the proxy forwarded anyway, the records would be there now.
        yield* Effect.sleep("700 millis")
        assert.strictEqual(proxy.recordsForwarded, 0)
        assert.deepStrictEqual(yield* storedData(kinesis), [])
      }))

    it.scopedLive("a caller that gives up on a late reply: the records are stored all the same", () =>
      Effect.gen(function*() {
        const { kinesis, proxy, sdk } = yield* setUp({ requestTimeout: 300 })
        proxy.fault = () => ({ kind: "late-reply", millis: 3_000 })
        const entries = records(3)
        const failure = yield* putFailure(sdk, entries)
        assert.deepStrictEqual([failure.name, failure.code], ["TimeoutError", "ETIMEDOUT"])
        assert.deepStrictEqual(yield* storedData(kinesis), entries.map(dataOf).sort())
      }))
  })
})
