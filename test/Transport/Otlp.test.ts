/**
 * The OTLP sink against a faithful local OTLP/HTTP receiver on 127.0.0.1
 * (test/support/otlp.ts, which decodes protobuf with the official schema and
 * checks OTLP/JSON against the spec's mapping): the vacuum over the example,
 * in both protocols, and under each fault the spec names. Every event arrives
 * exactly once, its fields and context as attributes, its time exact.
 */
import * as NodeHttpClient from "@effect/platform-node/NodeHttpClient"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Option, type Scope, TestClock } from "effect"
import type { OutboundEvent } from "../../src/Enrich.js"
import type { Sink } from "../../src/Transport.js"
import * as Otlp from "../../src/Transport/Otlp.js"
import { copiesOfExample, expectedOutbound, sleep } from "../support/guarantees.js"
import { captureLogs, memory, start } from "../support/harness.js"
import type { Received } from "../support/otlp.js"
import { FakeOtlp } from "../support/otlp.js"

/**
 * Values to compare: nulls out of objects (they are left out), and numbers
 * as numbers whichever way they came (an int as bigint, a double; the
 * example writes one integer as `9.007199254741e+15`, which stays a double).
 * That integers beyond 2^53 stay exact is test/Transport/otlp's.
 */
const comparable = (value: unknown): unknown => {
  if (Array.isArray(value)) return value.map(comparable)
  if (typeof value === "bigint") return Number(value)
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, comparable(v)]))
  }
  return value
}

const receiver = Effect.acquireRelease(Effect.promise(() => FakeOtlp.start({ headers: { "x-test-key": "k-123" } })), (r) =>
  Effect.promise(() => r.close()))

/** The sink on an HTTP client that lives as long as the test's scope. */
const sinkFor = (r: FakeOtlp, options: Otlp.Options = {}): Effect.Effect<Sink, never, Scope.Scope> =>
  Effect.flatMap(Layer.build(NodeHttpClient.layerUndici), (http) =>
    Otlp.make({ endpoint: r.url, headers: "x-test-key=k-123", flushInterval: "10 millis", ...options }).pipe(
      Effect.provide(http),
      Effect.orDie
    ))

/** Fast retries for live tests. */
const live = { flushInterval: "10 millis", storeLinger: 0, retryBaseDelay: "10 millis", retryMaxDelay: "50 millis" } as const

/** Every expected event received exactly once, as it should read; answers the records by eventId. */
const checkAll = (r: FakeOtlp, expected: Map<string, OutboundEvent>, except: ReadonlySet<string> = new Set()) => {
  const byId = new Map<string, Received>()
  for (const record of r.received) {
    const id = record.attributes.eventId as string
    assert.isFalse(byId.has(id), `${id} received twice`)
    byId.set(id, record)
  }
  assert.strictEqual(byId.size, expected.size - except.size)
  for (const [id, event] of expected) {
    const got = byId.get(id)
    if (except.has(id)) {
      assert.isUndefined(got, `${id} should not have arrived`)
      continue
    }
    assert.isDefined(got, `${id} missing`)
    const fields = JSON.parse(event.data) as Record<string, unknown>
    const { SampleRate: _rate, ...attributes } = got!.attributes
    assert.deepStrictEqual(comparable(attributes), comparable(fields), id)
    assert.strictEqual(got!.timeUnixNano, (BigInt(event.time) * 1_000_000n).toString(), id)
    assert.strictEqual(got!.severityNumber, fields.failed === true ? 17 : 9)
    assert.strictEqual(got!.severityText, fields.failed === true ? "ERROR" : "INFO")
    assert.isString(got!.body)
    assert.include(got!.body as string, `process ${fields.processId as string}`)
    assert.deepStrictEqual(got!.resource, { "service.name": "ao-event-vacuum" })
    assert.strictEqual(got!.scope.name, "ao-event-vacuum")
  }
  return byId
}

describe("the OTLP sink", () => {
  for (const protocol of ["http/protobuf", "http/json"] as const) {
    for (const compression of ["gzip", "none"] as const) {
      it.scopedLive(`delivers every example event once over ${protocol}, ${compression === "gzip" ? "gzipped" : "plain"}`, () =>
        Effect.gen(function*() {
          const r = yield* receiver
          const records = copiesOfExample(2)
          const expected = expectedOutbound(records)
          const v = yield* start(memory(), [yield* sinkFor(r, { protocol, compression })], live)
          for (const record of records) v.vacuum.unsafeVacuum(record)
          assert.isTrue(yield* v.vacuum.drain(30_000))
          checkAll(r, expected)
          for (const request of r.requests) {
            assert.strictEqual(request.contentType, protocol === "http/json" ? "application/json" : "application/x-protobuf")
            assert.strictEqual(request.encoding, compression === "gzip" ? "gzip" : undefined)
            assert.deepStrictEqual(request.problems, [])
            assert.strictEqual(request.url, "/v1/logs")
          }
        }), { timeout: 30_000 })
    }
  }

  it.scopedLive("through 503s, 502s, 504s, a 429, slow replies and dropped connections: every event once", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      r.fault = (n) => {
        const faults = [
          { kind: "status", status: 503 },
          { kind: "status", status: 429, retryAfter: "0" },
          { kind: "drop" },
          { kind: "status", status: 502 },
          { kind: "slow", millis: 1_500 },
          { kind: "status", status: 504 }
        ] as const
        return n % 2 === 1 ? faults[Math.floor(n / 2) % faults.length] : undefined
      }
      const records = copiesOfExample(2)
      const expected = expectedOutbound(records)
      const v = yield* start(memory(), [yield* sinkFor(r, { timeout: 500, maxBatchEvents: 20 })], live)
      for (const record of records) v.vacuum.unsafeVacuum(record)
      assert.isTrue(yield* v.vacuum.drain(60_000))
      checkAll(r, expected)
      const answered = new Set(r.requests.map((q) => q.status))
      for (const s of [503, 429, "dropped", 502, 504, 200]) assert.isTrue(answered.has(s as never), `no ${s} seen`)
      const snapshot = yield* v.vacuum.snapshot
      assert.strictEqual(snapshot.sinks[0]!.deadLettered, 0)
    }), { timeout: 90_000 })

  it.scopedLive("a 400 for one record: the batch is split down to it, it is dead-lettered with the receiver's words, the rest arrive once", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      const records = copiesOfExample(1)
      const expected = expectedOutbound(records)
      const poison = [...expected.keys()][7]!
      r.fault = () => ({ kind: "reject-record", where: (rec) => rec.attributes.eventId === poison })
      const v = yield* start(memory(), [yield* sinkFor(r)], live)
      for (const record of records) v.vacuum.unsafeVacuum(record)
      assert.isTrue(yield* v.vacuum.drain(30_000))
      checkAll(r, expected, new Set([poison]))
      const dead = yield* v.store.deadLetters({ sink: "otlp" })
      assert.deepStrictEqual(dead.map((d) => d.id), [poison])
      assert.match(dead[0]!.reason, /^refused by the sink when sent alone: 400: .+/)
    }), { timeout: 30_000 })

  it.scopedLive("a partial success is taken as delivered, counted and said once a batch, never sent again", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      r.fault = (n) => (n === 1 ? { kind: "partial", rejected: 3, message: "3 records too old" } : undefined)
      const logs = captureLogs()
      const records = copiesOfExample(1)
      const expected = expectedOutbound(records)
      const v = yield* start(memory(), [yield* sinkFor(r)], live).pipe(Effect.provide(logs.layer))
      for (const record of records) v.vacuum.unsafeVacuum(record)
      assert.isTrue(yield* v.vacuum.drain(30_000))
      checkAll(r, expected)
      const said = logs.logged.filter((l) => l.includes("dropped"))
      assert.strictEqual(said.length, 1, logs.logged.join("\n"))
      assert.match(said[0]!, /^sink otlp: the receiver took the batch but dropped 3 of \d+ record\(s\): 3 records too old/)
      assert.strictEqual((yield* v.vacuum.snapshot).sinks[0]!.delivered, expected.size)
    }), { timeout: 30_000 })

  for (const [status, cause] of [
    [401, "check OTEL_EXPORTER_OTLP_HEADERS"],
    [403, "check OTEL_EXPORTER_OTLP_HEADERS"],
    [404, "check OTEL_EXPORTER_OTLP_ENDPOINT"],
    [415, "check OTEL_EXPORTER_OTLP_PROTOCOL"]
  ] as const) {
    it.scopedLive(`a ${status} stops the sink with one line naming the cause, and keeps its events`, () =>
      Effect.gen(function*() {
        const r = yield* receiver
        r.fault = () => ({ kind: "status", status, body: "no, never" })
        const logs = captureLogs()
        const records = copiesOfExample(1)
        const expected = expectedOutbound(records)
        const v = yield* start(memory(), [yield* sinkFor(r)], live).pipe(Effect.provide(logs.layer))
        for (const record of records) v.vacuum.unsafeVacuum(record)
        yield* v.vacuum.drain(30_000)
        const snapshot = yield* v.vacuum.snapshot
        assert.include(snapshot.sinks[0]!.stopped ?? "", cause)
        const stopped = logs.logged.filter((l) => l.startsWith("sink otlp stopped"))
        assert.strictEqual(stopped.length, 1, logs.logged.join("\n"))
        assert.include(stopped[0]!, `${status}`)
        assert.include(stopped[0]!, "no, never")
        const stats = yield* v.store.stats
        assert.strictEqual(stats.find((s) => s.sink === "otlp")!.waiting, expected.size)
        assert.strictEqual(r.received.length, 0)
      }), { timeout: 30_000 })
  }

  it.scopedLive("a status the spec says not to retry (500): each event is tried up to its attempt limit, then dead-lettered", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      r.fault = () => ({ kind: "status", status: 500, body: "broken" })
      const records = copiesOfExample(1).slice(0, 10)
      const expected = expectedOutbound(records)
      const v = yield* start(memory(), [yield* sinkFor(r)], { ...live, maxEventAttempts: 3 })
      for (const record of records) v.vacuum.unsafeVacuum(record)
      assert.isTrue(yield* v.vacuum.drain(30_000))
      const dead = yield* v.store.deadLetters({ sink: "otlp" })
      assert.strictEqual(dead.length, expected.size)
      assert.isTrue(dead.every((d) => /^gave up after 3 attempts: 500: broken$/.test(d.reason)), dead[0]?.reason)
      assert.strictEqual(r.requests.length, 3)
    }), { timeout: 30_000 })

  it.scoped("Retry-After: the next attempt waits what the receiver asked when that is longer than the schedule's delay", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      r.fault = (n) => (n === 1 ? { kind: "status", status: 429, retryAfter: "120" } : undefined)
      const records = copiesOfExample(1).slice(0, 20)
      const expected = expectedOutbound(records)
      // The schedule alone would try again within 2 seconds.
      const v = yield* start(memory(), [yield* sinkFor(r)], { flushInterval: "10 millis", storeLinger: 0, retryBaseDelay: "1 second", retryMaxDelay: "2 seconds" })
      for (const record of records) v.vacuum.unsafeVacuum(record)
      yield* v.vacuum.flush
      const attempts = (n: number) =>
        Effect.gen(function*() {
          for (let i = 0; i < 500 && r.requests.length < n; i++) {
            yield* TestClock.adjust("10 millis")
            yield* Effect.promise(() => sleep(5))
          }
          return r.requests.length
        })
      assert.strictEqual(yield* attempts(1), 1)
      // A minute on: the schedule's delay is long past, the receiver's not.
      yield* TestClock.adjust("60 seconds")
      yield* Effect.promise(() => sleep(300))
      assert.strictEqual(r.requests.length, 1)
      yield* TestClock.adjust("55 seconds")
      yield* Effect.promise(() => sleep(300))
      assert.strictEqual(r.requests.length, 1)
      // Past the 120 seconds asked for.
      yield* TestClock.adjust("6 seconds")
      assert.strictEqual(yield* attempts(2), 2)
      const done = yield* Effect.fork(v.vacuum.drain(60_000))
      while (Option.isNone(yield* Fiber.poll(done))) {
        yield* TestClock.adjust("100 millis")
        yield* Effect.promise(() => sleep(2))
      }
      assert.isTrue(yield* Fiber.join(done))
      checkAll(r, expected)
    }), { timeout: 60_000 })

  it.scopedLive("service.name and resource attributes as the settings give them; the logs forms win", () =>
    Effect.gen(function*() {
      const r = yield* receiver
      const sink = yield* sinkFor(r, {
        endpoint: "http://127.0.0.1:9", // nothing there: the logs endpoint wins
        logsEndpoint: r.endpoint,
        protocol: "http/protobuf",
        logsProtocol: "http/json",
        headers: "x-test-key=wrong,x-other=a%20b",
        logsHeaders: "X-Test-Key=k-123",
        serviceName: "ao-events",
        resourceAttributes: "service.name=overridden,deployment.environment=test%2Fone"
      })
      const records = copiesOfExample(1).slice(0, 5)
      const v = yield* start(memory(), [sink], live)
      for (const record of records) v.vacuum.unsafeVacuum(record)
      assert.isTrue(yield* v.vacuum.drain(30_000))
      assert.isAbove(r.received.length, 0)
      assert.deepStrictEqual(r.received[0]!.resource, { "service.name": "ao-events", "deployment.environment": "test/one" })
      assert.strictEqual(r.requests[0]!.contentType, "application/json")
      assert.strictEqual(r.requests[0]!.headers["x-other"], "a b")
    }), { timeout: 30_000 })
})
