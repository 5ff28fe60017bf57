/**
 * A setting, declared once: its option name, env key, CLI flag, default,
 * validation and one line of doc. A module declares its settings as a table;
 * its `Options` type, its `Config`, the CLI's flags and the README's check
 * all derive from that table, so a new setting costs one declaration.
 *
 * ```ts
 * const settings = {
 *   batchMaxEvents: Setting.int({ env: "EVENT_VACUUM_BATCH_MAX_EVENTS", min: 1, default: 500, doc: "largest batch" })
 * }
 * type Options = Setting.Options<typeof settings>   // { batchMaxEvents?: number | undefined }
 * const config = Setting.config(settings)           // Config of the decoded values, from env
 * const decoded = Setting.decode(settings, options) // Either: the values with defaults, or what is wrong
 * ```
 *
 * @since 0.2.0
 */
// Each module on its own, not the barrel: the tables load with `--help` and a disabled adapter,
// which must cost next to nothing.
import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"

/**
 * One setting. `A` is its value once decoded, `I` what code may pass for it,
 * `Required` whether it has no default.
 *
 * @since 0.2.0
 */
export interface Setting<A, I = A, Required extends boolean = boolean> {
  /** The environment variable. */
  readonly env: string
  /** The CLI flag, without its dashes: the env key in lower case, `EVENT_VACUUM_` dropped, `_` as `-`. */
  readonly flag: string
  /** One line of doc: shown by `--help`, and the README's table says it at more length. */
  readonly doc: string
  /** The default, decoded; none when the setting is required. */
  readonly default: Option.Option<A>
  /** The default as the README and `--help` write it (`500`, `1 second`). */
  readonly shown: string | undefined
  /** What its value is, as `--help` shows it: `<n>`, `<duration>`, `<true|false>`. */
  readonly value: string
  readonly required: Required
  /** Checks a value given in code; the error says what was expected. */
  readonly check: (input: unknown) => Either.Either<A, string>
  /** Reads the text of an env variable or flag; the error says what was expected. */
  readonly parse: (text: string) => Either.Either<A, string>
  /** A secret: its text is never repeated in an error. */
  readonly secret: boolean
  /** What code may pass for it: a type only, never set. */
  readonly Input?: I
}

/**
 * A module's settings, by option name.
 *
 * @since 0.2.0
 */
export type Table = { readonly [key: string]: Setting<any, any, boolean> }

type RequiredKeys<T extends Table> = { [K in keyof T]: T[K] extends Setting<any, any, true> ? K : never }[keyof T]

type InputOf<S> = S extends Setting<any, infer I, any> ? I : never
type ValueOf<S> = S extends Setting<infer A, any, any> ? A : never

/**
 * What code may pass: every setting optional but the required ones.
 *
 * @since 0.2.0
 */
export type Options<T extends Table> =
  & { readonly [K in RequiredKeys<T>]: InputOf<T[K]> }
  & { readonly [K in Exclude<keyof T, RequiredKeys<T>>]?: InputOf<T[K]> | undefined }

/**
 * The settings decoded, defaults filled in.
 *
 * @since 0.2.0
 */
export type Values<T extends Table> = { readonly [K in keyof T]: ValueOf<T[K]> }

/**
 * How a kind of setting reads and checks its values.
 *
 * @since 0.2.0
 */
export interface Kind<A, I> {
  /** Checks a value (as code gives it, or as `fromText` read it): the value decoded, or what was expected. */
  readonly check: (input: unknown) => Either.Either<A, string>
  /** From text to a value `check` then checks; the error is a whole sentence (a secret's never repeats its text). */
  readonly fromText: (text: string) => Either.Either<I, string>
  readonly secret?: boolean
  /** What its value is, as `--help` shows it; `<text>` unless given. */
  readonly value?: string
}

/**
 * What a declaration says besides its kind and default.
 *
 * @since 0.2.0
 */
export interface Spec {
  readonly env: string
  readonly doc: string
  /** What its value is, as `--help` shows it (`<file>`), when the kind's says too little. */
  readonly value?: string
}

/**
 * Declares a setting of a kind. `default` is given as code would pass it,
 * and checked at once: a bad default is a bug in the declaration.
 *
 * @since 0.2.0
 */
export const make: {
  <A, I>(kind: Kind<A, I>, spec: Spec & { readonly default: NoInfer<I> }): Setting<A, I, false>
  <A, I>(kind: Kind<A, I>, spec: Spec): Setting<A, I, true>
} = <A, I>(kind: Kind<A, I>, spec: Spec & { readonly default?: I }): any => {
  const check = (value: unknown, text: string | undefined): Either.Either<A, string> =>
    Either.mapLeft(kind.check(value), (said) =>
      // The value once: a check that already quotes it is not followed by it again.
      kind.secret === true || text === undefined || said.includes(JSON.stringify(text)) ? said : `${said}, got ${JSON.stringify(text)}`
    )
  const hasDefault = "default" in spec
  let fallback = Option.none<A>()
  if (hasDefault) {
    const decoded = check(spec.default, undefined)
    if (Either.isLeft(decoded)) throw new Error(`${spec.env}: its default does not pass its own check: ${decoded.left}`)
    fallback = Option.some(decoded.right)
  }
  const setting: Setting<A, I, boolean> = {
    env: spec.env,
    flag: spec.env.replace(/^EVENT_VACUUM_/, "").toLowerCase().replaceAll("_", "-"),
    doc: spec.doc,
    default: fallback,
    shown: hasDefault ? String(spec.default) : undefined,
    value: spec.value ?? kind.value ?? "<text>",
    required: !hasDefault,
    check: kind.check,
    parse: (text) => Either.flatMap(kind.fromText(text), (value) => check(value, text)),
    secret: kind.secret === true
  }
  return setting
}

const got = (what: string, text: string) => Either.left(`expected ${what}, got ${JSON.stringify(text)}`)

const DECIMAL = /^[0-9]+$/

/**
 * An integer in a range. Its text is decimal digits only: ` 12 `, `0x40` and `1e3` are refused.
 *
 * @since 0.2.0
 */
export const int = (range: { readonly min: number; readonly max?: number | undefined }): Kind<number, number> => {
  const what = `an integer from ${range.min}${range.max === undefined ? "" : ` to ${range.max}`}`
  return {
    check: (n) =>
      typeof n === "number" && Number.isSafeInteger(n) && n >= range.min && (range.max === undefined || n <= range.max)
        ? Either.right(n)
        : Either.left(`expected ${what}`),
    fromText: (text) => (DECIMAL.test(text) ? Either.right(Number(text)) : got(what, text)),
    value: "<n>"
  }
}

/**
 * A duration: `500 millis`, `10 seconds`, `1 minute` (as text), or any `Duration.DurationInput` in code.
 *
 * @since 0.2.0
 */
export const duration = (range: { readonly min?: Duration.DurationInput } = {}): Kind<Duration.Duration, Duration.DurationInput> => {
  const min = Duration.decode(range.min ?? 0)
  const what = `a duration such as "500 millis" or "10 seconds"${Duration.toMillis(min) > 0 ? ` of at least ${Duration.format(min)}` : ""}`
  return {
    check: (input) =>
      Option.match(Duration.decodeUnknown(input), {
        onNone: () => Either.left(`expected ${what}`),
        onSome: (d) =>
          Duration.lessThan(d, min) || (typeof input === "number" && input < 0) ? Either.left(`expected ${what}`) : Either.right(d)
      }),
    fromText: (text) => (/^\d/.test(text) ? Either.right(text as Duration.DurationInput) : got(what, text)),
    value: "<duration>"
  }
}

const TRUE = new Set(["true", "yes", "on", "1"])
const FALSE = new Set(["false", "no", "off", "0"])

/**
 * A boolean: `true`, `yes`, `on`, `1` or `false`, `no`, `off`, `0`.
 *
 * @since 0.2.0
 */
export const boolean: Kind<boolean, boolean> = {
  check: (b) => (typeof b === "boolean" ? Either.right(b) : Either.left("expected true or false")),
  fromText: (text) =>
    TRUE.has(text) ? Either.right(true) : FALSE.has(text) ? Either.right(false) : got("true or false", text),
  value: "<true|false>"
}

/**
 * One of a few words.
 *
 * @since 0.2.0
 */
export const literal = <const L extends ReadonlyArray<string>>(...values: L): Kind<L[number], L[number]> => {
  const what = `one of ${values.join(", ")}`
  const known = (x: unknown): x is L[number] => typeof x === "string" && (values as ReadonlyArray<string>).includes(x)
  return {
    check: (x) => (known(x) ? Either.right(x) : Either.left(`expected ${what}`)),
    fromText: (text) => (known(text) ? Either.right(text) : got(what, text)),
    value: `<${values.join("|")}>`
  }
}

/**
 * Text, not empty (nor only spaces), with an optional check of its own that answers what is wrong.
 *
 * @since 0.2.0
 */
export const text = (check: (text: string) => string | undefined = () => undefined): Kind<string, string> => ({
  check: (s) => {
    if (typeof s !== "string" || s.trim().length === 0) return Either.left("expected text, not empty")
    const wrong = check(s)
    return wrong === undefined ? Either.right(s) : Either.left(wrong)
  },
  fromText: Either.right
})

/**
 * A secret (a key): not empty, kept `Redacted` and never repeated in an error.
 *
 * @since 0.2.0
 */
export const secret: Kind<Redacted.Redacted<string>, Redacted.Redacted<string> | string> = {
  check: (x) => {
    const r = typeof x === "string" ? Redacted.make(x) : Redacted.isRedacted(x) ? x : undefined
    const inside = r === undefined ? undefined : Redacted.value(r)
    return typeof inside === "string" && inside.trim().length > 0
      ? Either.right(r as Redacted.Redacted<string>)
      : Either.left("expected a key, not empty")
  },
  fromText: Either.right,
  secret: true,
  value: "<key>"
}

/**
 * A kind of its own: a value the schema checks, read from text by `fromText`.
 *
 * @since 0.2.0
 */
export const custom = <A, I>(kind: Kind<A, I>): Kind<A, I> => kind

/**
 * Settings given in code that do not pass their checks; names each.
 *
 * @since 0.2.0
 */
export class InvalidSettingsError extends Data.TaggedError("InvalidSettingsError")<{
  /** Whose settings: `vacuum`, `sink honeycomb`, … */
  readonly scope: string
  readonly issues: ReadonlyArray<string>
}> {
  override get message(): string {
    return `invalid ${this.scope} options: ${this.issues.join("; ")}`
  }
}

/**
 * Checks the options given in code against the table, filling in defaults;
 * the error names every bad or missing setting by its option name. An
 * explicit `undefined` is the same as leaving a setting out.
 *
 * @since 0.2.0
 */
export const decode = <T extends Table>(
  table: T,
  options: Options<T>,
  scope: string
): Either.Either<Values<T>, InvalidSettingsError> => {
  const values: Record<string, unknown> = {}
  const issues: Array<string> = []
  const given = options as Record<string, unknown>
  for (const [key, s] of Object.entries(table)) {
    const value = given[key]
    if (value === undefined) {
      if (Option.isSome(s.default)) values[key] = s.default.value
      else issues.push(`${key}: is missing`)
      continue
    }
    const decoded = s.check(value)
    if (Either.isRight(decoded)) values[key] = decoded.right
    else issues.push(`${key}: ${decoded.left}`)
  }
  return issues.length > 0
    ? Either.left(new InvalidSettingsError({ scope, issues }))
    : Either.right(values as Values<T>)
}

/**
 * One setting from env: its key, read and checked; the default when it is
 * not set; a `ConfigError` naming the key when it is bad or missing.
 *
 * @since 0.2.0
 */
export const configOf = <A, I, R extends boolean>(setting: Setting<A, I, R>): Config.Config<A> => {
  const read = Config.string(setting.env).pipe(
    // The path is the key's already: mapOrFail puts it in front.
    Config.mapOrFail((text) =>
      Either.mapLeft(setting.parse(text), (why) => ConfigError.InvalidData([], `${why} (flag --${setting.flag})`))
    )
  )
  const withDefault = Option.match(setting.default, { onNone: () => read, onSome: (value) => Config.withDefault(read, value) })
  return Config.withDescription(withDefault, setting.doc)
}

/**
 * A module's settings from env, decoded: pass it to the module's `layerConfig`,
 * or build a `Config.Wrap` of other keys for it.
 *
 * @since 0.2.0
 */
export const config = <T extends Table>(table: T): Config.Config<Values<T>> =>
  Config.all(Object.fromEntries(Object.entries(table).map(([key, s]) => [key, configOf(s)]))) as unknown as Config.Config<
    Values<T>
  >

/**
 * Every setting of the tables, in order, for the CLI's flags and the README's check.
 *
 * @since 0.2.0
 */
export const all = (...tables: ReadonlyArray<Table>): ReadonlyArray<Setting<unknown, unknown, boolean>> =>
  tables.flatMap((t) => Object.values(t))
