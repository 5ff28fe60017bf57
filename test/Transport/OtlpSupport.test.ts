/**
 * The OTLP sink's test support, checked with real requests (Node's fetch) on
 * 127.0.0.1: the same records read from binary protobuf and from hand-written
 * OTLP/JSON, gzipped or not; what OTLP/JSON must not say refused with the
 * reason; the routing, header and body checks; and each fault as a client
 * gets it.
 */
import { assert, describe, it } from "@effect/vitest"
import type { AddressInfo } from "node:net"
import * as zlib from "node:zlib"
import { logsSchema } from "../../src/Transport/otlp/schema.js"
import type { Fault, Options, Received } from "../support/otlp.js"
import { anyValue, attributes, FakeOtlp, plainOptions, readStatus } from "../support/otlp.js"

const { ExportLogsServiceRequest, ExportLogsServiceResponse } = logsSchema()

const TRACE_ID = "5b8efff798038103d269b633813fc60c"
const SPAN_ID = "eee19b7ec3c1b174"
const base64 = (hex: string) => Buffer.from(hex, "hex").toString("base64")

/** Two records in the schema's plain form (ids in base64, as protobuf.js takes bytes), to be encoded as binary protobuf. */
const plainRequest = {
  resourceLogs: [{
    resource: {
      attributes: [
        { key: "service.name", value: { stringValue: "ao-event-vacuum" } },
        { key: "process.pid", value: { intValue: "4242" } }
      ]
    },
    scopeLogs: [{
      scope: { name: "ao-event-vacuum", version: "0.1.0" },
      logRecords: [
        {
          timeUnixNano: "1700000000123456789",
          observedTimeUnixNano: "1700000000223456789",
          severityNumber: 9,
          severityText: "INFO",
          body: {
            kvlistValue: {
              values: [
                { key: "message", value: { stringValue: "hello" } },
                {
                  key: "nested",
                  value: {
                    kvlistValue: {
                      values: [
                        {
                          key: "deep",
                          value: {
                            arrayValue: {
                              values: [{ intValue: "1" }, { stringValue: "two" }, { boolValue: true }, { doubleValue: 2.5 }]
                            }
                          }
                        },
                        { key: "empty", value: { kvlistValue: {} } }
                      ]
                    }
                  }
                }
              ]
            }
          },
          attributes: [
            { key: "ao.big", value: { intValue: "9007199254740993" } },
            { key: "ao.max", value: { intValue: "9223372036854775807" } },
            { key: "ao.negative", value: { intValue: "-42" } },
            { key: "ao.ratio", value: { doubleValue: 0.1 } },
            { key: "ao.ok", value: { boolValue: false } },
            { key: "ao.tags", value: { arrayValue: { values: [{ stringValue: "a" }, { stringValue: "b" }] } } },
            { key: "ao.bytes", value: { bytesValue: "AAEC/w==" } }
          ],
          traceId: base64(TRACE_ID),
          spanId: base64(SPAN_ID),
          eventName: "ao.message"
        },
        { timeUnixNano: "1700000000999999999", body: { stringValue: "second" } }
      ]
    }]
  }]
}

/** The same two records written by hand in OTLP/JSON: 64-bit integers as strings, ids in hex (upper case: hex is case-insensitive). */
const jsonRequest = `{
  "resourceLogs": [{
    "resource": {
      "attributes": [
        { "key": "service.name", "value": { "stringValue": "ao-event-vacuum" } },
        { "key": "process.pid", "value": { "intValue": "4242" } }
      ]
    },
    "scopeLogs": [{
      "scope": { "name": "ao-event-vacuum", "version": "0.1.0" },
      "logRecords": [
        {
          "timeUnixNano": "1700000000123456789",
          "observedTimeUnixNano": "1700000000223456789",
          "severityNumber": 9,
          "severityText": "INFO",
          "body": { "kvlistValue": { "values": [
            { "key": "message", "value": { "stringValue": "hello" } },
            { "key": "nested", "value": { "kvlistValue": { "values": [
              { "key": "deep", "value": { "arrayValue": { "values": [
                { "intValue": "1" }, { "stringValue": "two" }, { "boolValue": true }, { "doubleValue": 2.5 }
              ] } } },
              { "key": "empty", "value": { "kvlistValue": {} } }
            ] } } }
          ] } },
          "attributes": [
            { "key": "ao.big", "value": { "intValue": "9007199254740993" } },
            { "key": "ao.max", "value": { "intValue": "9223372036854775807" } },
            { "key": "ao.negative", "value": { "intValue": "-42" } },
            { "key": "ao.ratio", "value": { "doubleValue": 0.1 } },
            { "key": "ao.ok", "value": { "boolValue": false } },
            { "key": "ao.tags", "value": { "arrayValue": { "values": [{ "stringValue": "a" }, { "stringValue": "b" }] } } },
            { "key": "ao.bytes", "value": { "bytesValue": "AAEC/w==" } }
          ],
          "traceId": "${TRACE_ID.toUpperCase()}",
          "spanId": "${SPAN_ID}",
          "eventName": "ao.message"
        },
        { "timeUnixNano": "1700000000999999999", "body": { "stringValue": "second" } }
      ]
    }]
  }]
}`

/** The two records as the receiver should flatten them (without `raw`). */
const expected = [
  {
    resource: { "service.name": "ao-event-vacuum", "process.pid": 4242n },
    scope: { name: "ao-event-vacuum", version: "0.1.0" },
    timeUnixNano: "1700000000123456789",
    observedTimeUnixNano: "1700000000223456789",
    severityNumber: 9,
    severityText: "INFO",
    body: { message: "hello", nested: { deep: [1n, "two", true, 2.5], empty: {} } },
    attributes: {
      "ao.big": 9007199254740993n,
      "ao.max": 9223372036854775807n,
      "ao.negative": -42n,
      "ao.ratio": 0.1,
      "ao.ok": false,
      "ao.tags": ["a", "b"],
      "ao.bytes": "AAEC/w=="
    },
    traceId: TRACE_ID,
    spanId: SPAN_ID,
    eventName: "ao.message"
  },
  {
    resource: { "service.name": "ao-event-vacuum", "process.pid": 4242n },
    scope: { name: "ao-event-vacuum", version: "0.1.0" },
    timeUnixNano: "1700000000999999999",
    observedTimeUnixNano: "0",
    body: "second",
    attributes: {}
  }
]

const withoutRaw = ({ raw: _raw, ...rest }: Received) => rest

const protobufBody = (plain: object): Buffer => Buffer.from(ExportLogsServiceRequest.encode(ExportLogsServiceRequest.fromObject(plain)).finish())

const PROTOBUF = "application/x-protobuf"
const JSON_TYPE = "application/json"

interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly body: Buffer
}

/** One POST (by default to the receiver's endpoint), its reply read whole. */
const post = async (
  otlp: FakeOtlp,
  body: Buffer | string,
  options: {
    readonly type?: string | undefined
    readonly gzip?: boolean
    readonly encoding?: string
    readonly headers?: Record<string, string>
    readonly url?: string
    readonly method?: string
    readonly signal?: AbortSignal
  } = {}
): Promise<Reply> => {
  const raw = typeof body === "string" ? Buffer.from(body, "utf8") : body
  const wire = options.gzip ? zlib.gzipSync(raw) : raw
  const headers: Record<string, string> = { ...options.headers }
  if (options.type !== undefined) headers["content-type"] = options.type
  if (options.gzip) headers["content-encoding"] = "gzip"
  if (options.encoding !== undefined) headers["content-encoding"] = options.encoding
  const res = await fetch(options.url ?? otlp.endpoint, {
    method: options.method ?? "POST",
    headers,
    ...(options.method === "GET" ? {} : { body: new Uint8Array(wire) }),
    ...(options.signal === undefined ? {} : { signal: options.signal })
  })
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) }
}

const postProtobuf = (otlp: FakeOtlp, plain: object = plainRequest, options: Parameters<typeof post>[2] = {}) =>
  post(otlp, protobufBody(plain), { type: PROTOBUF, ...options })
const postJson = (otlp: FakeOtlp, json: string = jsonRequest, options: Parameters<typeof post>[2] = {}) =>
  post(otlp, json, { type: JSON_TYPE, ...options })

/** A receiver for the body of one test, closed after it whatever happens. */
const withOtlp = async (options: Options, body: (otlp: FakeOtlp) => Promise<void>) => {
  const otlp = await FakeOtlp.start(options)
  try {
    await body(otlp)
  } finally {
    await otlp.close()
  }
}

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

/** Polls until `done` holds (5 s at most). */
const until = async (done: () => boolean, what: string) => {
  for (let i = 0; i < 1000; i++) {
    if (done()) return
    await sleep(5)
  }
  assert.fail(`timed out waiting for ${what}`)
}

/** The reply of a 200, as the client reads it: an ExportLogsServiceResponse in the request's format. */
const exportResponse = (reply: Reply): Record<string, unknown> =>
  reply.headers.get("content-type") === JSON_TYPE
    ? JSON.parse(reply.body.toString("utf8"))
    : ExportLogsServiceResponse.toObject(ExportLogsServiceResponse.decode(reply.body), plainOptions)

describe("OTLP test support", () => {
  it("listens on 127.0.0.1 only, on a port of its own, at /v1/logs by default", () =>
    withOtlp({}, async (otlp) => {
      const address = otlp.server.address() as AddressInfo
      assert.strictEqual(address.address, "127.0.0.1")
      assert.notStrictEqual(address.port, 0)
      assert.strictEqual(otlp.url, `http://127.0.0.1:${address.port}`)
      assert.strictEqual(otlp.endpoint, `http://127.0.0.1:${address.port}/v1/logs`)
    }))

  describe("both protocols", () => {
    it("read the same records from protobuf and hand-written OTLP/JSON, gzipped or not, exactly", () =>
      withOtlp({}, async (otlp) => {
        const sent = [
          { type: PROTOBUF, gzip: false, body: protobufBody(plainRequest) },
          { type: PROTOBUF, gzip: true, body: protobufBody(plainRequest) },
          { type: JSON_TYPE, gzip: false, body: Buffer.from(jsonRequest) },
          { type: JSON_TYPE, gzip: true, body: Buffer.from(jsonRequest) }
        ]
        for (const s of sent) {
          const reply = await post(otlp, s.body, { type: s.type, gzip: s.gzip })
          assert.strictEqual(reply.status, 200, reply.body.toString())
          // Answered in the request's own format, partialSuccess left unset on full success.
          assert.strictEqual(reply.headers.get("content-type"), s.type)
          assert.deepStrictEqual(exportResponse(reply), {})
          if (s.type === JSON_TYPE) assert.strictEqual(reply.body.toString("utf8"), "{}")
          else assert.strictEqual(reply.body.length, 0)
        }

        assert.strictEqual(otlp.records, 8)
        assert.deepStrictEqual(otlp.received.slice(0, 2).map(withoutRaw), expected)
        // Every request gives the very same records, raw form included.
        for (const i of [2, 4, 6]) assert.deepStrictEqual(otlp.received.slice(i, i + 2), otlp.received.slice(0, 2))

        // Exact beyond 2^53: a double would have made 2^53 + 1 into 2^53.
        const big = otlp.received[2]!.attributes["ao.big"]
        assert.strictEqual(typeof big, "bigint")
        assert.strictEqual(big, 2n ** 53n + 1n)
        assert.notStrictEqual(big, BigInt(Number("9007199254740993")))
        assert.strictEqual(otlp.received[0]!.raw.timeUnixNano, "1700000000123456789")

        assert.deepStrictEqual(
          otlp.requests.map((r) => [r.contentType, r.encoding, r.wireBytes, r.records, r.problems, r.status]),
          sent.map((s) => [s.type, s.gzip ? "gzip" : undefined, s.gzip ? zlib.gzipSync(s.body).length : s.body.length, 2, [], 200])
        )
        assert.isBelow(otlp.requests[1]!.wireBytes, otlp.requests[0]!.wireBytes)
        assert.strictEqual(otlp.wireBytes, otlp.requests.reduce((sum, r) => sum + r.wireBytes, 0))
      }))

    it("take an empty request as a success with nothing in it", () =>
      withOtlp({}, async (otlp) => {
        const pb = await post(otlp, Buffer.alloc(0), { type: PROTOBUF })
        const json = await postJson(otlp, "{}")
        assert.deepStrictEqual([pb.status, json.status], [200, 200])
        assert.strictEqual(otlp.records, 0)
        assert.deepStrictEqual(otlp.requests.map((r) => r.records), [0, 0])
      }))

    it("take a charset on the JSON content type, and identity as an encoding", () =>
      withOtlp({}, async (otlp) => {
        const reply = await postJson(otlp, jsonRequest, { type: "application/json; charset=utf-8", encoding: "identity" })
        assert.strictEqual(reply.status, 200)
        assert.strictEqual(reply.headers.get("content-type"), JSON_TYPE)
        assert.strictEqual(otlp.records, 2)
      }))
  })

  describe("OTLP/JSON is checked against the mapping", () => {
    /** The hand-written request with one thing changed, and the problem it must give. */
    const cases: ReadonlyArray<readonly [string, string, RegExp]> = [
      [
        "a 64-bit timestamp as a JSON number",
        jsonRequest.replace(`"timeUnixNano": "1700000000123456789"`, `"timeUnixNano": 1700000000123456789`),
        /^resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.timeUnixNano: the JSON number 1700000000123456800; OTLP\/JSON writes 64-bit integers \(fixed64\) as decimal strings$/
      ],
      [
        "an intValue as a JSON number",
        jsonRequest.replace(`{ "intValue": "4242" }`, `{ "intValue": 4242 }`),
        /^resourceLogs\[0\]\.resource\.attributes\[1\]\.value\.intValue: the JSON number 4242; .*\(int64\) as decimal strings$/
      ],
      [
        "an intValue that is not decimal",
        jsonRequest.replace(`{ "intValue": "4242" }`, `{ "intValue": "0x10" }`),
        /intValue: "0x10" is not a decimal string \(int64\)$/
      ],
      [
        "an int64 out of range",
        jsonRequest.replace(`"9223372036854775807"`, `"9223372036854775808"`),
        /intValue: 9223372036854775808 is out of range for int64$/
      ],
      [
        "a key in snake_case (the proto field name)",
        jsonRequest.replace(`"observedTimeUnixNano"`, `"observed_time_unix_nano"`),
        /logRecords\[0\]\.observed_time_unix_nano: the proto field name; OTLP\/JSON keys are lowerCamelCase \("observedTimeUnixNano"\)$/
      ],
      [
        "an enum by name",
        jsonRequest.replace(`"severityNumber": 9`, `"severityNumber": "SEVERITY_NUMBER_INFO"`),
        /logRecords\[0\]\.severityNumber: the enum name "SEVERITY_NUMBER_INFO"; OTLP\/JSON writes enums as integers$/
      ],
      [
        "an enum that is not an integer",
        jsonRequest.replace(`"severityNumber": 9`, `"severityNumber": 9.5`),
        /severityNumber: 9\.5 is not an integer enum value$/
      ],
      [
        "a traceId in base64",
        jsonRequest.replace(TRACE_ID.toUpperCase(), base64(TRACE_ID)),
        /logRecords\[0\]\.traceId: ".*" is not hex; OTLP\/JSON writes traceId in hex, not base64$/
      ],
      [
        "a spanId of the wrong length",
        jsonRequest.replace(SPAN_ID, "eee19b7e"),
        /logRecords\[0\]\.spanId: 4 bytes, not 8 \(or none\)$/
      ],
      [
        "two values of one AnyValue",
        jsonRequest.replace(`{ "stringValue": "second" }`, `{ "stringValue": "second", "boolValue": true }`),
        /logRecords\[1\]\.body: stringValue and boolValue are both set, but are one of value$/
      ],
      [
        "a number where a string is due",
        jsonRequest.replace(`"severityText": "INFO"`, `"severityText": 9`),
        /severityText: 9 is not a string$/
      ],
      [
        "a repeated field that is not an array",
        jsonRequest.replace(`"attributes": [\n            { "key": "ao.big"`, `"attributes": {},"x": [\n            { "key": "ao.big"`),
        /logRecords\[0\]\.attributes: an object is not an array$/
      ],
      [
        "an attribute key twice",
        jsonRequest.replace(`{ "key": "ao.max"`, `{ "key": "ao.big"`),
        /^resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[0\]\.attributes: the key "ao\.big" is there twice$/
      ],
      ["a body that is not an object", `[${jsonRequest}]`, /^the body: an array is not an object \(ExportLogsServiceRequest\)$/],
      ["a body that is not JSON", jsonRequest.slice(0, -3), /^the body is not JSON: /]
    ]
    for (const [what, json, problem] of cases) {
      it(`refuses ${what} with 400, saying why, and keeps nothing`, () =>
        withOtlp({}, async (otlp) => {
          assert.notStrictEqual(json, jsonRequest, "the case changes the request")
          const reply = await postJson(otlp, json)
          assert.strictEqual(reply.status, 400)
          assert.strictEqual(reply.headers.get("content-type"), JSON_TYPE)
          const status = readStatus(reply.body, reply.headers.get("content-type"))
          assert.strictEqual(status.code, 3)
          assert.match(status.message!, new RegExp(problem.source.replace(/^\^|\$$/g, "")))
          assert.strictEqual(otlp.requests.length, 1)
          assert.strictEqual(otlp.requests[0]!.status, 400)
          assert.isTrue(otlp.requests[0]!.problems.some((p) => problem.test(p)), otlp.requests[0]!.problems.join("\n"))
          assert.strictEqual(otlp.records, 0)
        }))
    }

    it("ignores keys it does not know, as receivers MUST, and takes null as unset", () =>
      withOtlp({}, async (otlp) => {
        const json = jsonRequest
          .replace(`"severityText": "INFO"`, `"severityText": "INFO", "aFieldFromTheFuture": { "x": [1, 2] }`)
          .replace(`"eventName": "ao.message"`, `"eventName": "ao.message", "flags": null`)
          .replace(`"resourceLogs"`, `"somethingElse": 1, "resourceLogs"`)
        const reply = await postJson(otlp, json)
        assert.strictEqual(reply.status, 200, reply.body.toString())
        assert.deepStrictEqual(otlp.received.map(withoutRaw), expected)
        assert.notProperty(otlp.received[0]!.raw, "aFieldFromTheFuture")
        assert.notProperty(otlp.received[0]!.raw, "flags")
        assert.deepStrictEqual(otlp.requests[0]!.problems, [])
      }))
  })

  describe("protobuf bodies", () => {
    it("refuses what does not decode with 400 and a protobuf Status", () =>
      withOtlp({}, async (otlp) => {
        // resource_logs (field 1, length-delimited) claiming 127 bytes that are not there.
        const reply = await post(otlp, Buffer.from([0x0a, 0x7f, 0x01]), { type: PROTOBUF })
        assert.strictEqual(reply.status, 400)
        assert.strictEqual(reply.headers.get("content-type"), PROTOBUF)
        const status = readStatus(reply.body, reply.headers.get("content-type"))
        assert.strictEqual(status.code, 3)
        assert.match(status.message!, /^the body is not an ExportLogsServiceRequest: /)
        assert.match(otlp.requests[0]!.problems[0]!, /^the body is not an ExportLogsServiceRequest: /)
        assert.strictEqual(otlp.records, 0)
      }))

    it("refuses a traceId that is not 16 bytes, and a gzip body that does not gunzip", () =>
      withOtlp({}, async (otlp) => {
        const short = structuredClone(plainRequest)
        short.resourceLogs[0]!.scopeLogs[0]!.logRecords[0]!.traceId = Buffer.from("0102030405", "hex").toString("base64")
        const ids = await postProtobuf(otlp, short)
        const notGzip = await post(otlp, protobufBody(plainRequest), { type: PROTOBUF, encoding: "gzip" })
        assert.deepStrictEqual([ids.status, notGzip.status], [400, 400])
        assert.match(readStatus(ids.body, PROTOBUF).message!, /logRecords\[0\]\.traceId: 5 bytes, not 16 \(or none\)$/)
        assert.match(otlp.requests[1]!.problems[0]!, /^the body does not gunzip: /)
        assert.strictEqual(otlp.records, 0)
      }))

    it("refuses a body over the limit with 413, on the wire or after gunzip", () =>
      withOtlp({ maxBytes: 1024 }, async (otlp) => {
        const big = structuredClone(plainRequest)
        big.resourceLogs[0]!.scopeLogs[0]!.logRecords[1]!.body = { stringValue: "x".repeat(2000) }
        const wire = await postProtobuf(otlp, big)
        const unzipped = await postProtobuf(otlp, big, { gzip: true })
        assert.deepStrictEqual([wire.status, unzipped.status], [413, 413])
        assert.isBelow(otlp.requests[1]!.wireBytes, 1024)
        assert.match(otlp.requests[0]!.problems[0]!, /over the limit of 1024/)
        assert.match(otlp.requests[1]!.problems[0]!, /over the limit of 1024 bytes after gunzip/)
        assert.strictEqual(otlp.records, 0)
        // Under the limit it is taken.
        assert.strictEqual((await postProtobuf(otlp)).status, 200)
        assert.strictEqual(otlp.records, 2)
      }))
  })

  describe("routing, headers, content types", () => {
    it("answers 404 on another path, 405 to another method, and takes a query string", () =>
      withOtlp({}, async (otlp) => {
        const traces = await postProtobuf(otlp, plainRequest, { url: `${otlp.url}/v1/traces` })
        const get = await post(otlp, "", { method: "GET" })
        const query = await postProtobuf(otlp, plainRequest, { url: `${otlp.endpoint}?tenant=ao` })
        assert.deepStrictEqual([traces.status, get.status, query.status], [404, 405, 200])
        assert.strictEqual(get.headers.get("allow"), "POST")
        assert.deepStrictEqual(otlp.requests.map((r) => [r.method, r.url]), [["POST", "/v1/traces"], ["GET", "/v1/logs"], ["POST", "/v1/logs?tenant=ao"]])
        assert.strictEqual(otlp.records, 2)
      }))

    it("listens on the path it is given", () =>
      withOtlp({ path: "/otlp/v1/logs" }, async (otlp) => {
        assert.strictEqual(otlp.endpoint, `${otlp.url}/otlp/v1/logs`)
        const elsewhere = await postProtobuf(otlp, plainRequest, { url: `${otlp.url}/v1/logs` })
        const there = await postProtobuf(otlp)
        assert.deepStrictEqual([elsewhere.status, there.status], [404, 200])
        assert.strictEqual(otlp.records, 2)
      }))

    it("answers 401 to a missing or wrong required header, names its headers case-insensitively, and checks values exactly", () =>
      withOtlp({ headers: { Authorization: "Bearer t0k3n", "x-tenant": "ao" } }, async (otlp) => {
        const none = await postProtobuf(otlp)
        const half = await postProtobuf(otlp, plainRequest, { headers: { authorization: "Bearer t0k3n" } })
        const wrong = await postProtobuf(otlp, plainRequest, { headers: { authorization: "bearer t0k3n", "x-tenant": "ao" } })
        const right = await postProtobuf(otlp, plainRequest, { headers: { AUTHORIZATION: "Bearer t0k3n", "X-Tenant": "ao" } })
        assert.deepStrictEqual([none.status, half.status, wrong.status, right.status], [401, 401, 401, 200])
        assert.match(none.headers.get("content-type")!, /^text\/plain/)
        assert.strictEqual(none.body.toString(), "401 unauthorized: no authorization header")
        assert.strictEqual(half.body.toString(), "401 unauthorized: no x-tenant header")
        assert.strictEqual(wrong.body.toString(), "401 unauthorized: the authorization header is not the expected one")
        assert.strictEqual(otlp.records, 2)
        assert.strictEqual(otlp.requests[3]!.headers["x-tenant"], "ao")
      }))

    it("answers 415 to another content type or content encoding", () =>
      withOtlp({}, async (otlp) => {
        const text = await post(otlp, jsonRequest, { type: "text/plain" })
        const none = await post(otlp, protobufBody(plainRequest), { type: undefined })
        const protobufJson = await post(otlp, protobufBody(plainRequest), { type: "application/protobuf" })
        const brotli = await postProtobuf(otlp, plainRequest, { encoding: "br" })
        assert.deepStrictEqual([text.status, none.status, protobufJson.status, brotli.status], [415, 415, 415, 415])
        assert.match(text.body.toString(), /^415 unsupported media type "text\/plain", supported: \[application\/json, application\/x-protobuf\]$/)
        assert.match(brotli.body.toString(), /^415 unsupported content encoding "br"/)
        assert.strictEqual(otlp.records, 0)
      }))
  })

  describe("faults", () => {
    it("are decided per request, from its number and its records", () =>
      withOtlp({}, async (otlp) => {
        const asked: Array<[number, Array<unknown>]> = []
        otlp.fault = (n, records) => {
          asked.push([n, records.map((r) => r.body)])
          return undefined
        }
        await postProtobuf(otlp)
        await post(otlp, "", { method: "GET" }) // counted, but never asked about: it is not an export
        await postJson(otlp)
        assert.deepStrictEqual(asked, [[1, [expected[0]!.body, "second"]], [3, [expected[0]!.body, "second"]]])
      }))

    it("status: answers it with Retry-After as given and a Status in the request's format, keeps nothing", () =>
      withOtlp({}, async (otlp) => {
        const faults: Record<number, Fault> = {
          1: { kind: "status", status: 503, retryAfter: "7" },
          2: { kind: "status", status: 429, retryAfter: "Wed, 21 Oct 2015 07:28:00 GMT", body: "slow down" },
          3: { kind: "status", status: 500 }
        }
        otlp.fault = (n) => faults[n]
        const unavailable = await postProtobuf(otlp)
        const throttled = await postJson(otlp)
        const internal = await postJson(otlp)
        assert.deepStrictEqual([unavailable.status, throttled.status, internal.status], [503, 429, 500])
        assert.strictEqual(unavailable.headers.get("retry-after"), "7")
        assert.deepStrictEqual(readStatus(unavailable.body, unavailable.headers.get("content-type")), { code: 14, message: "injected 503" })
        assert.strictEqual(throttled.headers.get("retry-after"), "Wed, 21 Oct 2015 07:28:00 GMT")
        assert.strictEqual(throttled.body.toString(), "slow down")
        assert.isNull(internal.headers.get("retry-after"))
        assert.deepStrictEqual(JSON.parse(internal.body.toString()), { code: 13, message: "injected 500" })
        assert.strictEqual(otlp.records, 0)
        assert.deepStrictEqual(otlp.requests.map((r) => [r.status, r.records]), [[503, 2], [429, 2], [500, 2]])
        // The next request has no fault: kept.
        assert.strictEqual((await postProtobuf(otlp)).status, 200)
        assert.strictEqual(otlp.records, 2)
      }))

    it("partial: 200 with partialSuccess in either format, every record kept", () =>
      withOtlp({}, async (otlp) => {
        otlp.fault = () => ({ kind: "partial", rejected: 1, message: "1 log record had no time" })
        const pb = await postProtobuf(otlp)
        const json = await postJson(otlp)
        assert.deepStrictEqual([pb.status, json.status], [200, 200])
        assert.strictEqual(pb.headers.get("content-type"), PROTOBUF)
        const partialSuccess = { rejectedLogRecords: "1", errorMessage: "1 log record had no time" }
        assert.deepStrictEqual(exportResponse(pb), { partialSuccess })
        // In JSON the int64 count is a string, as the mapping writes it.
        assert.strictEqual(json.headers.get("content-type"), JSON_TYPE)
        assert.deepStrictEqual(JSON.parse(json.body.toString()), { partialSuccess })
        assert.strictEqual(otlp.records, 4)
        assert.deepStrictEqual(otlp.requests.map((r) => r.partial), [
          { rejected: 1, message: "1 log record had no time" },
          { rejected: 1, message: "1 log record had no time" }
        ])
      }))

    it("reject-record: 400 naming how many when a record matches, nothing kept; else the normal answer", () =>
      withOtlp({}, async (otlp) => {
        otlp.fault = () => ({ kind: "reject-record", where: (r) => r.body === "second" })
        const pb = await postProtobuf(otlp)
        const json = await postJson(otlp)
        assert.deepStrictEqual([pb.status, json.status], [400, 400])
        const message = "1 of 2 log records refused; the request is refused whole"
        assert.deepStrictEqual(readStatus(pb.body, pb.headers.get("content-type")), { code: 3, message })
        assert.deepStrictEqual(JSON.parse(json.body.toString()), { code: 3, message })
        assert.deepStrictEqual(otlp.requests[0]!.problems, [message])
        assert.strictEqual(otlp.records, 0)

        const first = structuredClone(plainRequest)
        first.resourceLogs[0]!.scopeLogs[0]!.logRecords.pop()
        const fine = await postProtobuf(otlp, first)
        assert.strictEqual(fine.status, 200)
        assert.deepStrictEqual(otlp.received.map(withoutRaw), expected.slice(0, 1))
      }))

    it("drop: the connection ends without a reply, nothing kept, and the next request is answered", () =>
      withOtlp({}, async (otlp) => {
        otlp.fault = (n) => (n === 1 ? { kind: "drop" } : undefined)
        const error = await postProtobuf(otlp).then(() => undefined, (e: unknown) => e)
        assert.instanceOf(error, TypeError)
        assert.match(String((error as TypeError & { cause?: unknown }).cause), /other side closed|socket hang up|ECONNRESET/i)
        assert.strictEqual(otlp.records, 0)
        assert.strictEqual(otlp.requests[0]!.status, "dropped")
        assert.strictEqual((await postProtobuf(otlp)).status, 200)
        assert.strictEqual(otlp.records, 2)
      }))

    it("slow: keeps and answers only after the delay", () =>
      withOtlp({}, async (otlp) => {
        otlp.fault = () => ({ kind: "slow", millis: 400 })
        const started = Date.now()
        const reply = postProtobuf(otlp)
        await until(() => otlp.requests.length === 1, "the request")
        assert.isBelow(Date.now() - started, 400)
        assert.isUndefined(otlp.requests[0]!.status)
        assert.strictEqual(otlp.records, 0)
        assert.strictEqual((await reply).status, 200)
        assert.isAtLeast(Date.now() - started, 390)
        assert.strictEqual(otlp.records, 2)
      }))

    it("slow: a client gone before the delay leaves nothing kept", () =>
      withOtlp({}, async (otlp) => {
        otlp.fault = () => ({ kind: "slow", millis: 300 })
        const error = await postProtobuf(otlp, plainRequest, { signal: AbortSignal.timeout(100) }).then(() => undefined, (e: unknown) => e)
        assert.strictEqual((error as Error).name, "TimeoutError")
        await sleep(400)
        assert.strictEqual(otlp.records, 0)
        assert.isUndefined(otlp.requests[0]!.status)
      }))

    it("late-reply: keeps the records at once and answers after the delay, even to a client gone by then", () =>
      withOtlp({}, async (otlp) => {
        otlp.fault = () => ({ kind: "late-reply", millis: 400 })
        const started = Date.now()
        const reply = postProtobuf(otlp)
        await until(() => otlp.requests.length === 1, "the request")
        assert.isBelow(Date.now() - started, 400)
        assert.strictEqual(otlp.records, 2)
        assert.isUndefined(otlp.requests[0]!.status)
        const answered = await reply
        assert.strictEqual(answered.status, 200)
        assert.deepStrictEqual(exportResponse(answered), {})
        assert.isAtLeast(Date.now() - started, 390)

        // A client that times out first has had its records kept all the same: its re-send makes copies.
        const error = await postProtobuf(otlp, plainRequest, { signal: AbortSignal.timeout(100) }).then(() => undefined, (e: unknown) => e)
        assert.strictEqual((error as Error).name, "TimeoutError")
        assert.strictEqual(otlp.records, 4)
      }))
  })

  it("closes at once with a connection kept alive and a reply pending", async () => {
    const otlp = await FakeOtlp.start()
    assert.strictEqual((await postProtobuf(otlp)).status, 200)
    otlp.fault = () => ({ kind: "slow", millis: 60_000 })
    const pending = postProtobuf(otlp).then(() => "answered", () => "failed")
    await until(() => otlp.requests.length === 2, "the second request")
    const started = Date.now()
    await otlp.close()
    assert.isBelow(Date.now() - started, 1000)
    assert.strictEqual(await pending, "failed")
    assert.strictEqual(otlp.records, 2)
  })

  describe("anyValue and attributes", () => {
    it("give each AnyValue its JS value, exact for 64-bit ints, null when empty", () => {
      assert.isNull(anyValue({}))
      assert.isNull(anyValue(undefined))
      assert.strictEqual(anyValue({ stringValue: "" }), "")
      assert.strictEqual(anyValue({ boolValue: false }), false)
      assert.strictEqual(anyValue({ intValue: "0" }), 0n)
      assert.strictEqual(anyValue({ intValue: "-9223372036854775808" }), -(2n ** 63n))
      assert.strictEqual(anyValue({ doubleValue: 0 }), 0)
      assert.isNaN(anyValue({ doubleValue: NaN }) as number)
      assert.strictEqual(anyValue({ bytesValue: "AAEC/w==" }), "AAEC/w==")
      assert.deepStrictEqual(anyValue({ arrayValue: {} }), [])
      assert.deepStrictEqual(anyValue({ arrayValue: { values: [{}, { intValue: "3" }] } }), [null, 3n])
      assert.deepStrictEqual(anyValue({ kvlistValue: { values: [{ key: "a", value: { kvlistValue: { values: [{ key: "b" }] } } }] } }), {
        a: { b: null }
      })
      assert.throws(() => anyValue({ stringValueStrindex: 1 }), /profiles/)
    })

    it("make an object of a KeyValue list, and throw on a key there twice, however deep", () => {
      // "__proto__" is a key like any other, not the object's prototype.
      const kept = attributes([{ key: "a", value: { stringValue: "x" } }, { key: "__proto__", value: { intValue: "1" } }])
      assert.deepStrictEqual(Object.entries(kept), [["a", "x"], ["__proto__", 1n]])
      assert.strictEqual(Object.getPrototypeOf(kept), Object.prototype)
      assert.throws(() => attributes([{ key: "a", value: {} }, { key: "a", value: {} }]), `the key "a" is there twice`)
      assert.throws(
        () => anyValue({ kvlistValue: { values: [{ key: "x", value: { kvlistValue: { values: [{ key: "b" }, { key: "b" }] } } }] } }),
        `the key "b" is there twice`
      )
      assert.deepStrictEqual(attributes(undefined), {})
    })

    it("refuse a request with an attribute key there twice in protobuf too", () =>
      withOtlp({}, async (otlp) => {
        const twice = structuredClone(plainRequest)
        twice.resourceLogs[0]!.resource.attributes.push({ key: "service.name", value: { stringValue: "again" } })
        const reply = await postProtobuf(otlp, twice)
        assert.strictEqual(reply.status, 400)
        assert.strictEqual(readStatus(reply.body, PROTOBUF).message, `resourceLogs[0].resource.attributes: the key "service.name" is there twice`)
        assert.strictEqual(otlp.records, 0)
      }))
  })
})
