/**
 * The OTLP sink's settings as an OpenTelemetry exporter reads them: the
 * logs URL from the base or as given, `k=v` lists with URL-decoded values,
 * header values never repeated in an error, `Retry-After` in both forms.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Either, Layer, Redacted } from "effect"
import * as Setting from "../../../src/Setting.js"
import { headersOf, logsUrl, parsePairs, resourcePairs, settings } from "../../../src/internal/settings/otlp.js"
import * as Otlp from "../../../src/Transport/Otlp.js"

const fromEnv = (env: Record<string, string>) =>
  Effect.either(Effect.withConfigProvider(Setting.config(settings), ConfigProvider.fromMap(new Map(Object.entries(env)))))

describe("the OTLP sink's settings", () => {
  it("appends /v1/logs to the base endpoint, keeping its path; takes the logs endpoint as it is", () => {
    assert.strictEqual(logsUrl({ endpoint: "http://localhost:4318", logsEndpoint: "unset" }), "http://localhost:4318/v1/logs")
    assert.strictEqual(logsUrl({ endpoint: "https://otel.example/prefix/", logsEndpoint: "unset" }), "https://otel.example/prefix/v1/logs")
    assert.strictEqual(logsUrl({ endpoint: "http://a:4318", logsEndpoint: "http://b:9/custom/logs" }), "http://b:9/custom/logs")
  })

  it("reads k=v lists with URL-decoded values and trimmed spaces", () => {
    assert.deepStrictEqual(
      Either.getOrThrow(parsePairs(" x-honeycomb-team = abc%3D%3D , x-honeycomb-dataset=ao%20events,", { key: () => true, keyIs: "" })),
      [["x-honeycomb-team", "abc=="], ["x-honeycomb-dataset", "ao events"]]
    )
    assert.deepStrictEqual(Either.getOrThrow(resourcePairs("deployment.environment=prod,service.namespace=ao")), [
      ["deployment.environment", "prod"],
      ["service.namespace", "ao"]
    ])
    assert.deepStrictEqual(headersOf(Redacted.make("none")), [])
  })

  it("refuses a header list it cannot read, naming the entry but never a value", () => {
    const secret = "sEcReT-VaLuE-123"
    for (const bad of [`x-honeycomb-team${secret}`, `bad header=${secret}`, `x=%E0%A4%A${secret}`]) {
      const result = Effect.runSync(fromEnv({ OTEL_EXPORTER_OTLP_HEADERS: bad }))
      assert.isTrue(Either.isLeft(result), bad)
      const text = String(Either.isLeft(result) ? result.left : "")
      assert.include(text, "OTEL_EXPORTER_OTLP_HEADERS")
      assert.notInclude(text, secret)
    }
  })

  it("refuses what is not a setting's: grpc, a URL that is not http(s), an unknown compression", () => {
    for (const [key, value] of [
      ["OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"],
      ["OTEL_EXPORTER_OTLP_ENDPOINT", "ftp://x"],
      ["OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "nope"],
      ["OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"],
      ["OTEL_EXPORTER_OTLP_TIMEOUT", "10 seconds"]
    ] as const) {
      const result = Effect.runSync(fromEnv({ [key]: value }))
      assert.isTrue(Either.isLeft(result), `${key}=${value}`)
      assert.include(String(Either.isLeft(result) ? result.left : ""), key)
    }
  })

  it("reads Retry-After as seconds or an HTTP date, at most five minutes, none when unreadable", () => {
    const now = Date.parse("2026-12-04T00:00:00Z")
    assert.strictEqual(Otlp.retryAfterMillis("30", now), 30_000)
    assert.strictEqual(Otlp.retryAfterMillis(" 0 ", now), 0)
    assert.strictEqual(Otlp.retryAfterMillis("Fri, 04 Dec 2026 00:00:12 GMT", now), 12_000)
    assert.strictEqual(Otlp.retryAfterMillis("Thu, 03 Dec 2026 23:00:00 GMT", now), 0)
    assert.strictEqual(Otlp.retryAfterMillis("86400", now), 300_000)
    assert.isUndefined(Otlp.retryAfterMillis("soon", now))
    assert.isUndefined(Otlp.retryAfterMillis(undefined, now))
  })

  it.effect("fails at start with one line naming the setting: its option in code, its env key from env", () =>
    Effect.gen(function*() {
      const inCode = yield* Effect.flip(Layer.build(Otlp.layer({ resourceAttributes: "=x" })).pipe(Effect.scoped))
      assert.strictEqual(inCode.message, `invalid sink otlp options: resourceAttributes: entry 1: "" is not an attribute name`)
      const fromEnv = yield* Effect.flip(
        Layer.build(Otlp.layerConfig()).pipe(
          Effect.scoped,
          Effect.withConfigProvider(ConfigProvider.fromMap(new Map([["OTEL_RESOURCE_ATTRIBUTES", "=x"]])))
        )
      )
      assert.include(String(fromEnv), "OTEL_RESOURCE_ATTRIBUTES")
      assert.notInclude(String(fromEnv), "\n")
    }))
})
