/**
 * The evaluation record: what the ao CU knows after evaluating one message, and
 * the rule that finds the log text inside it.
 *
 * @since 0.1.0
 */
import { Effect, Either, ParseResult, Schema } from "effect"

const formatActual = (actual: unknown): string => {
  try {
    return JSON.stringify(actual) ?? String(actual)
  } catch {
    return String(actual)
  }
}

/**
 * A number the CU may give as a JSON number or as a numeric string
 * (`"1727000002464"`); decodes to a finite number.
 */
const NumberLike = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(
  Schema.filter((n) => Number.isFinite(n)),
  Schema.annotations({
    identifier: "NumberLike",
    message: (issue) => ({
      message: `Expected a finite number or numeric string, actual ${formatActual(issue.actual)}`,
      override: true
    })
  })
)

/** The largest epoch milliseconds a JavaScript `Date` can hold. */
const MAX_TIME = 8.64e15

/**
 * Epoch milliseconds, an integer within what a `Date` can hold. A timestamp is
 * a position in the process's history: one far off would move its watermark
 * past every real evaluation, so it is refused at the door.
 */
const Timestamp = Schema.Union(Schema.Number, Schema.NumberFromString).pipe(
  Schema.filter((n) => Number.isInteger(n) && n >= 0 && n <= MAX_TIME),
  Schema.annotations({
    identifier: "Timestamp",
    message: (issue) => ({
      message: `Expected epoch milliseconds as an integer from 0 to 8.64e15 (a number or numeric string), actual ${formatActual(issue.actual)}`,
      override: true
    })
  })
)

const DIGITS = /^[0-9]+$/

/**
 * The message's nonce: decimal digits, given as a string (leading zeros and any
 * length kept as they are) or as a non-negative safe integer (decoded to its
 * digits). It is a position: anything else would compare as text, so that
 * every later evaluation would count as already handed off.
 */
const Ordinate = Schema.Union(
  Schema.String,
  Schema.transform(Schema.NonNegativeInt, Schema.String, { strict: true, decode: String, encode: Number })
).pipe(
  Schema.filter((s) => DIGITS.test(s)),
  Schema.annotations({
    identifier: "Ordinate",
    message: (issue) => ({
      message: `Expected the message's nonce as decimal digits (a string or a non-negative integer up to 2^53 - 1), actual ${formatActual(issue.actual)}`,
      override: true
    })
  })
)

/**
 * The `Output` of a successful evaluation when it is an object: aos puts its log
 * text in `data`, next to the `prompt`. Other keys (`print`, `test`, ...) are
 * ignored.
 *
 * @since 0.1.0
 */
export const OutputObject = Schema.Struct({
  data: Schema.optional(Schema.Unknown),
  prompt: Schema.optional(Schema.Unknown),
  print: Schema.optional(Schema.Unknown)
})

/**
 * The result of evaluating one message, as the ao CU reports it.
 *
 * @since 0.1.0
 */
export const EvaluationOutput = Schema.Struct({
  Output: Schema.optionalWith(Schema.Union(Schema.String, OutputObject, Schema.Null), { default: () => null }),
  Error: Schema.optionalWith(Schema.Unknown, { default: () => null }),
  GasUsed: Schema.optionalWith(Schema.NullOr(NumberLike), { default: () => null }),
  memorySize: Schema.optionalWith(Schema.NullOr(NumberLike), { default: () => null })
})

/**
 * One evaluation record: a message (or cron tick) a process evaluated, and its
 * output.
 *
 * @since 0.1.0
 */
export class Evaluation extends Schema.Class<Evaluation>("Evaluation")({
  processId: Schema.String.pipe(Schema.minLength(1)),
  messageId: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  ordinate: Ordinate,
  cron: Schema.optionalWith(Schema.NullOr(Schema.String), { default: () => null }),
  timestamp: Timestamp,
  blockHeight: Schema.optionalWith(Schema.NullOr(NumberLike), { default: () => null }),
  readOnly: Schema.optionalWith(Schema.Boolean, { default: () => false }),
  output: EvaluationOutput
}) {}

/**
 * The JSON shape of an evaluation record as it arrives from the CU.
 *
 * @since 0.1.0
 */
export type EvaluationEncoded = typeof Evaluation.Encoded

/**
 * An evaluation record that could not be decoded. `message` names every bad
 * field by its path, e.g. `output.GasUsed: Expected a finite number`.
 *
 * @since 0.1.0
 */
export class EvaluationDecodeError extends Schema.TaggedError<EvaluationDecodeError>()(
  "EvaluationDecodeError",
  { issues: Schema.Array(Schema.String) }
) {
  override get message(): string {
    return `Invalid evaluation record: ${this.issues.join("; ")}`
  }
}

const decodeEither = Schema.decodeUnknownEither(Evaluation, { errors: "all" })

const formatPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.length === 0 ? "(record)" : path.map(String).join(".")

/** One line per bad field: a union's alternatives all fail at the same path, the first says enough. */
const toDecodeError = (error: ParseResult.ParseError): EvaluationDecodeError => {
  const byPath = new Map<string, string>()
  for (const issue of ParseResult.ArrayFormatter.formatErrorSync(error)) {
    const path = formatPath(issue.path)
    if (!byPath.has(path)) byPath.set(path, `${path}: ${issue.message}`)
  }
  return new EvaluationDecodeError({ issues: [...byPath.values()] })
}

/**
 * Decodes an evaluation record synchronously; for hot paths that cannot afford
 * an Effect per call.
 *
 * @since 0.1.0
 */
export const decodeSync = (input: unknown): Either.Either<Evaluation, EvaluationDecodeError> => {
  const fast = decodeCommon(input)
  return fast !== undefined ? Either.right(fast) : Either.mapLeft(decodeEither(input), toDecodeError)
}

const has = Object.prototype.hasOwnProperty

const isPlainObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

const finite = (u: unknown): u is number => typeof u === "number" && Number.isFinite(u)

const integer = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u)

/** `null` for absent or null, the number when finite; `undefined` when the schema must decide. */
const nullableNumber = (o: Record<string, unknown>, key: string): number | null | undefined => {
  if (!has.call(o, key)) return null
  const v = o[key]
  return v === null ? null : finite(v) ? v : undefined
}

const nullableString = (o: Record<string, unknown>, key: string): string | null | undefined => {
  if (!has.call(o, key)) return null
  const v = o[key]
  return v === null ? null : typeof v === "string" ? v : undefined
}

/**
 * The fields of an evaluation record, as plain data: what {@link readPlain}
 * gives without building an `Evaluation`.
 *
 * @since 0.4.0
 */
export type EvaluationFields = {
  readonly [K in keyof typeof Evaluation.Type]: (typeof Evaluation.Type)[K]
}

/**
 * The hot path of decoding: a record in the shape the CU sends (strings and
 * finite numbers where expected) is read directly, without the schema's
 * interpreter, into exactly the fields the schema would give. Anything else
 * (numeric strings, numeric ordinates, `undefined` values, errors) returns
 * undefined and goes through the schema, which also words the errors. A
 * property test holds the two to the same answers.
 *
 * @since 0.4.0
 */
export const readPlain = (input: unknown): EvaluationFields | undefined => {
  if (!isPlainObject(input)) return undefined
  const { processId, ordinate, timestamp, output } = input
  if (typeof processId !== "string" || processId.length === 0) return undefined
  if (typeof ordinate !== "string" || !DIGITS.test(ordinate)) return undefined
  if (!integer(timestamp) || timestamp < 0 || timestamp > MAX_TIME) return undefined
  const messageId = nullableString(input, "messageId")
  const cron = nullableString(input, "cron")
  const blockHeight = nullableNumber(input, "blockHeight")
  if (messageId === undefined || cron === undefined || blockHeight === undefined) return undefined
  let readOnly = false
  if (has.call(input, "readOnly")) {
    if (typeof input.readOnly !== "boolean") return undefined
    readOnly = input.readOnly
  }
  if (!isPlainObject(output)) return undefined
  const GasUsed = nullableNumber(output, "GasUsed")
  const memorySize = nullableNumber(output, "memorySize")
  if (GasUsed === undefined || memorySize === undefined) return undefined
  let Error: unknown = null
  if (has.call(output, "Error")) {
    if (output.Error === undefined) return undefined
    Error = output.Error
  }
  let Output: typeof EvaluationOutput.Type["Output"] = null
  if (has.call(output, "Output")) {
    const o = output.Output
    if (typeof o === "string" || o === null) Output = o
    else if (isPlainObject(o)) {
      const kept: { data?: unknown; prompt?: unknown; print?: unknown } = {}
      if (has.call(o, "data")) kept.data = o.data
      if (has.call(o, "prompt")) kept.prompt = o.prompt
      if (has.call(o, "print")) kept.print = o.print
      Output = kept
    } else return undefined
  }
  return { processId, messageId, ordinate, cron, timestamp, blockHeight, readOnly, output: { Output, Error, GasUsed, memorySize } }
}

const decodeCommon = (input: unknown): Evaluation | undefined => {
  const fields = readPlain(input)
  return fields === undefined ? undefined : new Evaluation(fields, true)
}

/**
 * Decodes an evaluation record, failing with an error that names the bad fields.
 *
 * @since 0.1.0
 */
export const decode = (input: unknown): Effect.Effect<Evaluation, EvaluationDecodeError> => decodeSync(input)

/**
 * Why an evaluation yielded no log text.
 *
 * - `no_output`: neither `Error` nor `Output` holds anything.
 * - `data_not_text`: `Output` is an object whose `data` is missing or not a string.
 * - `error_not_text`: the evaluation failed with a non-string `Error` and no other text.
 *
 * @since 0.1.0
 */
export type NoTextReason = "no_output" | "data_not_text" | "error_not_text"

/**
 * Where an evaluation's log text came from, or why there is none. `failed` is
 * true whenever `Error` holds anything, even when the text came from elsewhere.
 *
 * @since 0.1.0
 */
export type LogText =
  | { readonly _tag: "Text"; readonly text: string; readonly source: "Error" | "Output.data" | "Output"; readonly failed: boolean }
  | { readonly _tag: "NoText"; readonly reason: NoTextReason; readonly failed: boolean }

/**
 * The log-text rule of the ao CU: `Error` when it is a string, else
 * `Output.data`, else `Output` when it is a string.
 *
 * @since 0.1.0
 */
export const logText = (output: typeof EvaluationOutput.Type): LogText => {
  const error = output.Error
  const failed = error !== null && error !== undefined
  if (typeof error === "string") return { _tag: "Text", text: error, source: "Error", failed }
  const out = output.Output
  if (typeof out === "string") return { _tag: "Text", text: out, source: "Output", failed }
  if (out !== null && typeof out.data === "string") {
    return { _tag: "Text", text: out.data, source: "Output.data", failed }
  }
  const reason: NoTextReason = failed ? "error_not_text" : out === null ? "no_output" : "data_not_text"
  return { _tag: "NoText", reason, failed }
}
