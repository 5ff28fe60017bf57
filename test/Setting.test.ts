import { assert, describe, it } from "@effect/vitest"
import { ConfigError, ConfigProvider, Duration, Effect, Either, Option, Redacted } from "effect"
import { settings as cliSettings } from "../src/cli/Cli.js"
import * as Setting from "../src/Setting.js"

const provider = (env: Record<string, string>) => ConfigProvider.fromMap(new Map(Object.entries(env)))

const right = <A, E>(result: Either.Either<A, E>): A => {
  if (Either.isLeft(result)) assert.fail(`expected a value, got ${String(result.left)}`)
  return result.right
}

const left = <A, E>(result: Either.Either<A, E>): E => {
  if (Either.isRight(result)) assert.fail(`expected an error, got ${String(result.right)}`)
  return result.left
}

/** The millis of a parsed duration, to compare exactly. */
const millis = (result: Either.Either<Duration.Duration, string>): number => Duration.toMillis(right(result))

/** The issues of one setting decoded alone from code. */
const codeIssues = <A, I>(setting: Setting.Setting<A, I, boolean>, value: unknown): ReadonlyArray<string> =>
  left(Setting.decode({ x: setting }, { x: value } as never, "test")).issues

const codeValue = <A, I>(setting: Setting.Setting<A, I, boolean>, value: unknown): A =>
  right(Setting.decode({ x: setting }, { x: value } as never, "test")).x

describe("Setting.int", () => {
  const percent = Setting.make(Setting.int({ min: 1, max: 100 }), { env: "EVENT_VACUUM_PERCENT", doc: "a percentage" })
  const count = Setting.make(Setting.int({ min: 0 }), { env: "EVENT_VACUUM_COUNT", doc: "a count" })

  it("reads decimal digits in range from text", () => {
    assert.deepStrictEqual(percent.parse("1"), Either.right(1))
    assert.deepStrictEqual(percent.parse("100"), Either.right(100))
    assert.deepStrictEqual(percent.parse("42"), Either.right(42))
    assert.deepStrictEqual(percent.parse("007"), Either.right(7))
    assert.deepStrictEqual(count.parse("0"), Either.right(0))
    assert.deepStrictEqual(count.parse("123456789"), Either.right(123456789))
  })

  it("refuses from text anything but decimal digits, saying what it expected and what it got", () => {
    for (const text of [" 12 ", "12 ", " 12", "0x40", "1e3", "-1", "+1", "1.5", "", "ten", "1_000", "1,000"]) {
      assert.deepStrictEqual(percent.parse(text), Either.left(`expected an integer from 1 to 100, got ${JSON.stringify(text)}`), text)
    }
    assert.deepStrictEqual(count.parse("-1"), Either.left(`expected an integer from 0, got "-1"`))
  })

  it("refuses from text digits out of range", () => {
    assert.deepStrictEqual(percent.parse("0"), Either.left(`expected an integer from 1 to 100, got "0"`))
    assert.deepStrictEqual(percent.parse("101"), Either.left(`expected an integer from 1 to 100, got "101"`))
    // Beyond the safe integers: not an exact integer any more.
    assert.deepStrictEqual(count.parse("99999999999999999999"), Either.left(`expected an integer from 0, got "99999999999999999999"`))
  })

  it("accepts in code the integers of the range", () => {
    assert.strictEqual(codeValue(percent, 1), 1)
    assert.strictEqual(codeValue(percent, 100), 100)
    assert.strictEqual(codeValue(count, 0), 0)
    assert.strictEqual(codeValue(count, Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER)
  })

  it("refuses in code values out of range and non-integers", () => {
    for (const value of [0, 101, -1, 1.5, 99.999, Number.NaN, Number.POSITIVE_INFINITY, "5", null]) {
      assert.deepStrictEqual(codeIssues(percent, value), ["x: expected an integer from 1 to 100"], String(value))
    }
    assert.deepStrictEqual(codeIssues(count, Number.MAX_SAFE_INTEGER + 1), ["x: expected an integer from 0"])
  })
})

describe("Setting.duration", () => {
  const wait = Setting.make(Setting.duration(), { env: "EVENT_VACUUM_WAIT", doc: "a wait" })
  const atLeast = Setting.make(Setting.duration({ min: "1 second" }), { env: "EVENT_VACUUM_AT_LEAST", doc: "a longer wait" })
  const what = `expected a duration such as "500 millis" or "10 seconds"`

  it("reads durations with their unit from text", () => {
    assert.strictEqual(millis(wait.parse("500 millis")), 500)
    assert.strictEqual(millis(wait.parse("10 seconds")), 10_000)
    assert.strictEqual(millis(wait.parse("1 minute")), 60_000)
    assert.strictEqual(millis(wait.parse("2 hours")), 7_200_000)
    assert.strictEqual(millis(wait.parse("0 millis")), 0)
  })

  it("refuses from text a bare number, a negative, words, and nothing", () => {
    for (const text of ["0", "500", "-1 seconds", "ten seconds", "", " 10 seconds", "10 fortnights"]) {
      assert.deepStrictEqual(wait.parse(text), Either.left(`${what}, got ${JSON.stringify(text)}`), text)
    }
  })

  it("refuses from text what is shorter than its minimum, naming the minimum", () => {
    assert.deepStrictEqual(atLeast.parse("999 millis"), Either.left(`${what} of at least 1s, got "999 millis"`))
    assert.strictEqual(millis(atLeast.parse("1 second")), 1000)
  })

  it("accepts in code numbers (millis), Duration values and strings", () => {
    assert.strictEqual(Duration.toMillis(codeValue(wait, 500)), 500)
    assert.strictEqual(Duration.toMillis(codeValue(wait, 0)), 0)
    assert.strictEqual(Duration.toMillis(codeValue(wait, Duration.seconds(2))), 2000)
    assert.strictEqual(Duration.toMillis(codeValue(wait, "3 seconds")), 3000)
    assert.strictEqual(Duration.toMillis(codeValue(wait, "250 millis")), 250)
    assert.strictEqual(Duration.toMillis(codeValue(atLeast, 1000)), 1000)
  })

  it("refuses in code a negative number, a string without a unit, other things, and less than the minimum", () => {
    for (const value of [-1, -0.5, "ten seconds", "10", true, {}]) {
      assert.deepStrictEqual(codeIssues(wait, value), [`x: ${what}`], String(value))
    }
    assert.deepStrictEqual(codeIssues(atLeast, 999), [`x: ${what} of at least 1s`])
    assert.deepStrictEqual(codeIssues(atLeast, "500 millis"), [`x: ${what} of at least 1s`])
  })
})

describe("Setting.boolean", () => {
  const flag = Setting.make(Setting.boolean, { env: "EVENT_VACUUM_FLAG", doc: "a flag" })

  it("reads true, yes, on, 1 and false, no, off, 0", () => {
    for (const text of ["true", "yes", "on", "1"]) assert.deepStrictEqual(flag.parse(text), Either.right(true), text)
    for (const text of ["false", "no", "off", "0"]) assert.deepStrictEqual(flag.parse(text), Either.right(false), text)
  })

  it("refuses other words", () => {
    for (const text of ["", "maybe", "2", "y", " true", "true "]) {
      assert.deepStrictEqual(flag.parse(text), Either.left(`expected true or false, got ${JSON.stringify(text)}`), text)
    }
  })

  it("accepts booleans in code and refuses anything else", () => {
    assert.strictEqual(codeValue(flag, true), true)
    assert.strictEqual(codeValue(flag, false), false)
    assert.deepStrictEqual(codeIssues(flag, "yes"), ["x: expected true or false"])
    assert.deepStrictEqual(codeIssues(flag, 1), ["x: expected true or false"])
  })
})

describe("Setting.literal", () => {
  const mode = Setting.make(Setting.literal("normal", "full"), { env: "EVENT_VACUUM_MODE", doc: "a mode" })

  it("reads one of its words, exactly", () => {
    assert.deepStrictEqual(mode.parse("normal"), Either.right("normal"))
    assert.deepStrictEqual(mode.parse("full"), Either.right("full"))
    for (const text of ["", "Normal", "full ", "half"]) {
      assert.deepStrictEqual(mode.parse(text), Either.left(`expected one of normal, full, got ${JSON.stringify(text)}`), text)
    }
  })

  it("accepts its words in code and refuses others", () => {
    assert.strictEqual(codeValue(mode, "full"), "full")
    assert.deepStrictEqual(codeIssues(mode, "half"), ["x: expected one of normal, full"])
  })
})

describe("Setting.text", () => {
  const name = Setting.make(Setting.text(), { env: "EVENT_VACUUM_NAME", doc: "a name" })
  const host = Setting.make(Setting.text((s) => (s.startsWith("https://") ? undefined : "expected an https:// address")), {
    env: "EVENT_VACUUM_HOST",
    doc: "a host"
  })

  it("reads any text that is not blank, as given", () => {
    assert.deepStrictEqual(name.parse("events"), Either.right("events"))
    assert.deepStrictEqual(name.parse(" padded "), Either.right(" padded "))
  })

  it("refuses empty and blank text", () => {
    for (const text of ["", " ", "\t\n "]) {
      assert.deepStrictEqual(name.parse(text), Either.left(`expected text, not empty, got ${JSON.stringify(text)}`), text)
    }
    assert.deepStrictEqual(codeIssues(name, "  "), ["x: expected text, not empty"])
  })

  it("applies its own check, whose answer is the error", () => {
    assert.deepStrictEqual(host.parse("https://api.example"), Either.right("https://api.example"))
    assert.deepStrictEqual(host.parse("http://api.example"), Either.left(`expected an https:// address, got "http://api.example"`))
    assert.deepStrictEqual(codeIssues(host, "ftp://x"), ["x: expected an https:// address"])
    // Blank is refused before the check runs.
    assert.deepStrictEqual(host.parse(""), Either.left(`expected text, not empty, got ""`))
  })
})

describe("Setting.secret", () => {
  const key = Setting.make(Setting.secret, { env: "HONEYCOMB_API_KEY", doc: "the key" })
  /** A key kind with a check of its own, so that a real-looking key can fail it. */
  const prefixedKey = Setting.custom({
    check: (s: unknown) =>
      typeof s === "string" && s.startsWith("hc") ? Either.right(s) : Either.left("expected a key starting with hc"),
    fromText: Either.right,
    secret: true
  })
  const LEAKED = "sk-live-3f9a1c77b2"

  it("decodes to a Redacted holding the text, from text and from code", () => {
    const parsed = right(key.parse("abc123"))
    assert.isTrue(Redacted.isRedacted(parsed))
    assert.strictEqual(Redacted.value(parsed), "abc123")
    assert.strictEqual(String(parsed), "<redacted>")
    assert.strictEqual(Redacted.value(codeValue(key, "from-code")), "from-code")
    const given = Redacted.make("already-redacted")
    assert.strictEqual(Redacted.value(codeValue(key, given)), "already-redacted")
    assert.isTrue(key.secret)
  })

  it("refuses an empty or blank key, from text and from code", () => {
    for (const text of ["", " ", " \t\n "]) {
      assert.deepStrictEqual(key.parse(text), Either.left("expected a key, not empty"), JSON.stringify(text))
    }
    assert.deepStrictEqual(codeIssues(key, "  "), ["x: expected a key, not empty"])
    assert.deepStrictEqual(codeIssues(key, Redacted.make(" ")), ["x: expected a key, not empty"])
  })

  it("never repeats a secret's text in the error of parse", () => {
    const setting = Setting.make(prefixedKey, { env: "EVENT_VACUUM_KEY", doc: "a key" })
    const error = left(setting.parse(LEAKED))
    assert.strictEqual(error, "expected a key starting with hc")
    assert.notInclude(error, LEAKED)
    assert.deepStrictEqual(setting.parse("hc-good"), Either.right("hc-good"))
  })

  it("never repeats a secret's text in the error of decode (a required secret)", () => {
    const table = { key: Setting.make(prefixedKey, { env: "EVENT_VACUUM_KEY", doc: "a key" }) }
    const error = left(Setting.decode(table, { key: LEAKED }, "sink test"))
    assert.notInclude(error.message, LEAKED)
    for (const issue of error.issues) assert.notInclude(issue, LEAKED)
    assert.deepStrictEqual(error.issues, ["key: expected a key starting with hc"])
  })

  it("never repeats a secret's text in the error of decode (a secret with a default)", () => {
    const table = { key: Setting.make(prefixedKey, { env: "EVENT_VACUUM_KEY", default: "hc-default", doc: "a key" }) }
    const error = left(Setting.decode(table, { key: LEAKED }, "sink test"))
    assert.notInclude(error.message, LEAKED)
    for (const issue of error.issues) assert.notInclude(issue, LEAKED)
  })

  it.effect("never repeats a secret's text in the error of configOf", () =>
    Effect.gen(function*() {
      const setting = Setting.make(prefixedKey, { env: "EVENT_VACUUM_KEY", doc: "a key" })
      const error = yield* Effect.flip(
        Setting.configOf(setting).pipe(Effect.withConfigProvider(provider({ EVENT_VACUUM_KEY: LEAKED })))
      )
      assert.notInclude(String(error), LEAKED)
      assert.include(String(error), "EVENT_VACUUM_KEY")
      assert.include(String(error), "expected a key starting with hc")
      const blank = yield* Effect.flip(Setting.configOf(key).pipe(Effect.withConfigProvider(provider({ HONEYCOMB_API_KEY: " \t " }))))
      assert.include(String(blank), "HONEYCOMB_API_KEY")
      assert.include(String(blank), "expected a key, not empty")
      assert.notInclude(String(blank), JSON.stringify(" \t "))
      const good = yield* Setting.configOf(key).pipe(Effect.withConfigProvider(provider({ HONEYCOMB_API_KEY: "hc-key" })))
      assert.strictEqual(Redacted.value(good), "hc-key")
    }))
})

describe("Setting.make", () => {
  it("derives the flag from the env key: EVENT_VACUUM_ dropped, lower case, _ as -", () => {
    const flag = (env: string) => Setting.make(Setting.boolean, { env, doc: "d" }).flag
    assert.strictEqual(flag("EVENT_VACUUM_BATCH_MAX_EVENTS"), "batch-max-events")
    assert.strictEqual(flag("EVENT_VACUUM_STATE_PATH"), "state-path")
    assert.strictEqual(flag("HONEYCOMB_API_KEY"), "honeycomb-api-key")
    assert.strictEqual(flag("HONEYCOMB_BATCH_MAX_BYTES"), "honeycomb-batch-max-bytes")
    // Only a leading EVENT_VACUUM_ is dropped.
    assert.strictEqual(flag("MY_EVENT_VACUUM_X"), "my-event-vacuum-x")
  })

  it("keeps env, doc and the kind's check and secrecy", () => {
    const s = Setting.make(Setting.int({ min: 1 }), { env: "EVENT_VACUUM_N", default: 3, doc: "how many" })
    assert.strictEqual(s.env, "EVENT_VACUUM_N")
    assert.strictEqual(s.doc, "how many")
    assert.strictEqual(s.secret, false)
    assert.deepStrictEqual(s.check(4), Either.right(4))
    assert.deepStrictEqual(s.check(0), Either.left("expected an integer from 1"))
  })

  it("writes the default as the README and --help show it, and decodes it", () => {
    const n = Setting.make(Setting.int({ min: 1 }), { env: "EVENT_VACUUM_N", default: 500, doc: "d" })
    const d = Setting.make(Setting.duration(), { env: "EVENT_VACUUM_D", default: "1 second", doc: "d" })
    const b = Setting.make(Setting.boolean, { env: "EVENT_VACUUM_B", default: true, doc: "d" })
    const l = Setting.make(Setting.literal("gzip", "none"), { env: "EVENT_VACUUM_L", default: "gzip", doc: "d" })
    assert.strictEqual(n.shown, "500")
    assert.strictEqual(d.shown, "1 second")
    assert.strictEqual(b.shown, "true")
    assert.strictEqual(l.shown, "gzip")
    assert.deepStrictEqual(n.default, Option.some(500))
    assert.strictEqual(Duration.toMillis(Option.getOrThrow(d.default)), 1000)
    assert.deepStrictEqual(b.default, Option.some(true))
    assert.deepStrictEqual(l.default, Option.some("gzip"))
    for (const s of [n, d, b, l]) assert.strictEqual(s.required, false)
  })

  it("marks a setting without a default as required, with nothing shown", () => {
    const s = Setting.make(Setting.text(), { env: "EVENT_VACUUM_PATH", doc: "d" })
    assert.strictEqual(s.required, true)
    assert.strictEqual(s.shown, undefined)
    assert.deepStrictEqual(s.default, Option.none())
  })

  it("throws at declaration when a default fails its own check", () => {
    assert.throws(
      () => Setting.make(Setting.int({ min: 1 }), { env: "EVENT_VACUUM_N", default: 0, doc: "d" }),
      "EVENT_VACUUM_N: its default does not pass its own check: expected an integer from 1"
    )
    assert.throws(
      () => Setting.make(Setting.duration({ min: "1 second" }), { env: "EVENT_VACUUM_D", default: "10 millis", doc: "d" }),
      `EVENT_VACUUM_D: its default does not pass its own check: expected a duration such as "500 millis" or "10 seconds" of at least 1s`
    )
    assert.throws(
      () => Setting.make(Setting.text(), { env: "EVENT_VACUUM_T", default: " ", doc: "d" }),
      "EVENT_VACUUM_T: its default does not pass its own check: expected text, not empty"
    )
  })
})

describe("Setting.decode", () => {
  const table = {
    batchMaxEvents: Setting.make(Setting.int({ min: 1, max: 1000 }), { env: "EVENT_VACUUM_T_BATCH", default: 500, doc: "d" }),
    flushInterval: Setting.make(Setting.duration(), { env: "EVENT_VACUUM_T_FLUSH", default: "1 second", doc: "d" }),
    skip: Setting.make(Setting.boolean, { env: "EVENT_VACUUM_T_SKIP", default: true, doc: "d" }),
    mode: Setting.make(Setting.literal("normal", "full"), { env: "EVENT_VACUUM_T_MODE", default: "normal", doc: "d" }),
    path: Setting.make(Setting.text(), { env: "EVENT_VACUUM_T_PATH", doc: "d" })
  }

  it("fills in the defaults", () => {
    const values = right(Setting.decode(table, { path: "/tmp/x" }, "vacuum"))
    assert.strictEqual(values.batchMaxEvents, 500)
    assert.strictEqual(Duration.toMillis(values.flushInterval), 1000)
    assert.strictEqual(values.skip, true)
    assert.strictEqual(values.mode, "normal")
    assert.strictEqual(values.path, "/tmp/x")
  })

  it("keeps the values given", () => {
    const values = right(
      Setting.decode(table, { batchMaxEvents: 7, flushInterval: 250, skip: false, mode: "full", path: "p" }, "vacuum")
    )
    assert.strictEqual(values.batchMaxEvents, 7)
    assert.strictEqual(Duration.toMillis(values.flushInterval), 250)
    assert.strictEqual(values.skip, false)
    assert.strictEqual(values.mode, "full")
    assert.strictEqual(values.path, "p")
  })

  it("treats an explicit undefined as absent", () => {
    const values = right(
      Setting.decode(table, { batchMaxEvents: undefined, flushInterval: undefined, skip: undefined, mode: undefined, path: "p" }, "vacuum")
    )
    assert.strictEqual(values.batchMaxEvents, 500)
    assert.strictEqual(Duration.toMillis(values.flushInterval), 1000)
    assert.strictEqual(values.skip, true)
    assert.strictEqual(values.mode, "normal")
  })

  it("ignores options it does not declare", () => {
    const values = right(Setting.decode(table, { path: "p", other: 1 } as never, "vacuum"))
    assert.isFalse("other" in values)
  })

  it("reports a missing required setting by its option name", () => {
    const error = left(Setting.decode(table, {} as never, "sink file"))
    assert.strictEqual(error._tag, "InvalidSettingsError")
    assert.strictEqual(error.scope, "sink file")
    assert.deepStrictEqual(error.issues, ["path: is missing"])
    assert.strictEqual(error.message, "invalid sink file options: path: is missing")
  })

  it("lists every bad setting in one error, by option name (a required one)", () => {
    const required = {
      count: Setting.make(Setting.int({ min: 1 }), { env: "EVENT_VACUUM_T_COUNT", doc: "d" }),
      wait: Setting.make(Setting.duration(), { env: "EVENT_VACUUM_T_WAIT", doc: "d" }),
      path: Setting.make(Setting.text(), { env: "EVENT_VACUUM_T_PATH2", doc: "d" })
    }
    const error = left(Setting.decode(required, { count: 0, wait: -5 } as never, "vacuum"))
    assert.deepStrictEqual(error.issues, [
      "count: expected an integer from 1",
      `wait: expected a duration such as "500 millis" or "10 seconds"`,
      "path: is missing"
    ])
    assert.strictEqual(
      error.message,
      `invalid vacuum options: count: expected an integer from 1; wait: expected a duration such as "500 millis" or "10 seconds"; path: is missing`
    )
  })

  it("lists each bad setting with a default once, by option name, in one error", () => {
    const error = left(
      Setting.decode(table, { batchMaxEvents: 0, flushInterval: "soon", skip: "yes", mode: "half", path: "p" } as never, "vacuum")
    )
    assert.deepStrictEqual(error.issues, [
      "batchMaxEvents: expected an integer from 1 to 1000",
      `flushInterval: expected a duration such as "500 millis" or "10 seconds"`,
      "skip: expected true or false",
      "mode: expected one of normal, full"
    ])
    assert.strictEqual(
      error.message,
      `invalid vacuum options: batchMaxEvents: expected an integer from 1 to 1000; flushInterval: expected a duration such as "500 millis" or "10 seconds"; skip: expected true or false; mode: expected one of normal, full`
    )
  })
})

describe("Setting.configOf and Setting.config", () => {
  const batch = Setting.make(Setting.int({ min: 1 }), { env: "EVENT_VACUUM_T_BATCH", default: 500, doc: "largest batch" })
  const path = Setting.make(Setting.text(), { env: "EVENT_VACUUM_T_PATH", doc: "the file" })
  const table = {
    batch,
    flush: Setting.make(Setting.duration(), { env: "EVENT_VACUUM_T_FLUSH", default: "1 second", doc: "d" }),
    path
  }
  const read = <A>(config: Effect.Effect<A, ConfigError.ConfigError>, env: Record<string, string>) =>
    Effect.withConfigProvider(config, provider(env))

  it.effect("reads a setting from its env key", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* read(Setting.configOf(batch), { EVENT_VACUUM_T_BATCH: "42" }), 42)
      assert.strictEqual(yield* read(Setting.configOf(path), { EVENT_VACUUM_T_PATH: "/var/x" }), "/var/x")
    }))

  it.effect("answers the default when the key is not set", () =>
    Effect.gen(function*() {
      assert.strictEqual(yield* read(Setting.configOf(batch), {}), 500)
      assert.strictEqual(yield* read(Setting.configOf(batch), { OTHER: "1" }), 500)
    }))

  it.effect("fails with a ConfigError naming the key when the value is bad, even with a default", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(read(Setting.configOf(batch), { EVENT_VACUUM_T_BATCH: "0x40" }))
      assert.isTrue(ConfigError.isConfigError(error))
      assert.isTrue(ConfigError.isInvalidData(error))
      assert.include(String(error), "EVENT_VACUUM_T_BATCH")
      assert.include(String(error), `expected an integer from 1, got "0x40"`)
    }))

  it.effect("names the key once in the path of a bad value", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(read(Setting.configOf(batch), { EVENT_VACUUM_T_BATCH: "0x40" }))
      if (!ConfigError.isInvalidData(error)) return assert.fail(String(error))
      assert.deepStrictEqual(error.path, ["EVENT_VACUUM_T_BATCH"])
      assert.strictEqual(
        String(error),
        `(Invalid data at EVENT_VACUUM_T_BATCH: "expected an integer from 1, got "0x40" (flag --t-batch)")`
      )
    }))

  it.effect("fails with a ConfigError naming the key when a required key is missing", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(read(Setting.configOf(path), {}))
      assert.isTrue(ConfigError.isMissingData(error))
      assert.include(String(error), "EVENT_VACUUM_T_PATH")
      const blank = yield* Effect.flip(read(Setting.configOf(path), { EVENT_VACUUM_T_PATH: "  " }))
      assert.isTrue(ConfigError.isInvalidData(blank))
      assert.include(String(blank), "EVENT_VACUUM_T_PATH")
    }))

  it.effect("config reads a whole table: the values given, the defaults for the rest", () =>
    Effect.gen(function*() {
      const values = yield* read(Setting.config(table), { EVENT_VACUUM_T_PATH: "/p", EVENT_VACUUM_T_FLUSH: "250 millis" })
      assert.strictEqual(values.batch, 500)
      assert.strictEqual(Duration.toMillis(values.flush), 250)
      assert.strictEqual(values.path, "/p")
    }))

  it.effect("config fails naming the bad key, and the missing required one", () =>
    Effect.gen(function*() {
      const bad = yield* Effect.flip(read(Setting.config(table), { EVENT_VACUUM_T_PATH: "/p", EVENT_VACUUM_T_FLUSH: "soon" }))
      assert.include(String(bad), "EVENT_VACUUM_T_FLUSH")
      assert.notInclude(String(bad), "EVENT_VACUUM_T_BATCH")
      const missing = yield* Effect.flip(read(Setting.config(table), {}))
      assert.include(String(missing), "EVENT_VACUUM_T_PATH")
      assert.notInclude(String(missing), "EVENT_VACUUM_T_FLUSH")
    }))
})

describe("the CLI's settings (every table)", () => {
  const duplicates = (values: ReadonlyArray<string>) => values.filter((v, i) => values.indexOf(v) !== i)
  const withDefault = cliSettings.filter((s) => Option.isSome(s.default))

  it("has many settings, some required", () => {
    assert.isAtLeast(cliSettings.length, 20)
    assert.deepStrictEqual(
      cliSettings.filter((s) => s.required).map((s) => s.env).sort(),
      ["EVENT_VACUUM_CU_DB", "EVENT_VACUUM_FILE_PATH", "HONEYCOMB_API_KEY", "HONEYCOMB_DATASET", "KINESIS_STREAM_NAME"]
    )
  })

  it("has a unique env key and a unique flag for each setting", () => {
    assert.deepStrictEqual(duplicates(cliSettings.map((s) => s.env)), [])
    assert.deepStrictEqual(duplicates(cliSettings.map((s) => s.flag)), [])
  })

  it("derives each flag from its env key", () => {
    for (const s of cliSettings) {
      assert.strictEqual(s.flag, s.env.replace(/^EVENT_VACUUM_/, "").toLowerCase().replaceAll("_", "-"), s.env)
    }
  })

  it("shows a default exactly when there is one", () => {
    for (const s of cliSettings) assert.strictEqual(s.shown === undefined, s.required, s.env)
    for (const s of cliSettings) assert.strictEqual(Option.isNone(s.default), s.required, s.env)
  })

  it("decodes every default from code, alone in a table", () => {
    for (const s of withDefault) {
      const value = Option.getOrThrow(s.default)
      assert.deepStrictEqual(right(Setting.decode({ x: s }, {}, "test")).x, value, s.env)
      assert.deepStrictEqual(right(Setting.decode({ x: s }, { x: value }, "test")).x, value, s.env)
      assert.deepStrictEqual(right(s.check(value)), value, s.env)
    }
  })

  it("reads back every default from the text it shows (parse(shown) is the default)", () => {
    for (const s of withDefault) {
      assert.deepStrictEqual(right(s.parse(s.shown!)), Option.getOrThrow(s.default), `${s.env}=${s.shown}`)
    }
  })

  it.effect("reads back every default through the env, and the default when the key is unset", () =>
    Effect.gen(function*() {
      for (const s of withDefault) {
        const fromEnv = yield* Setting.configOf(s).pipe(Effect.withConfigProvider(provider({ [s.env]: s.shown! })))
        assert.deepStrictEqual(fromEnv, Option.getOrThrow(s.default), `${s.env}=${s.shown}`)
        const unset = yield* Setting.configOf(s).pipe(Effect.withConfigProvider(provider({})))
        assert.deepStrictEqual(unset, Option.getOrThrow(s.default), s.env)
      }
    }))

  it.effect("fails naming the key of every required setting when it is unset", () =>
    Effect.gen(function*() {
      for (const s of cliSettings.filter((s) => s.required)) {
        const error = yield* Effect.flip(Setting.configOf(s).pipe(Effect.withConfigProvider(provider({}))))
        assert.isTrue(ConfigError.isMissingData(error), s.env)
        assert.include(String(error), s.env)
      }
    }))
})
