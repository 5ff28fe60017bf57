/**
 * The Kinesis sink's settings: a table that loads without the sink (or the
 * AWS SDK).
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Setting from "../../Setting.js"
import { selectionSettings } from "./selection.js"
import { timingSettings } from "./sink.js"

/**
 * Kinesis's limits per `PutRecords` request: records, and bytes of data and
 * partition keys together.
 *
 * @since 0.3.0
 */
export const limits = { maxRecords: 500, maxRequestBytes: 5 * 1024 * 1024, maxRecordBytes: 1024 * 1024 } as const

/**
 * The largest request and record the settings allow: AWS's newer limits (10
 * MiB), for streams that take them; the defaults stay at {@link limits}.
 */
const LARGEST = 10 * 1024 * 1024

const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/

/** A field name, or a dotted path of them (`user.id`). */
const PARTITION_KEY = /^[A-Za-z0-9_$-]+(\.[A-Za-z0-9_$-]+)*$/

/**
 * The value a partition key setting names in an event's fields (context
 * included): the field of that whole name when there is one (a name that
 * has dots of its own, `user.id`), else the path through nested objects
 * (`{"user": {"id": ...}}`); undefined when neither is there.
 *
 * @since 0.3.0
 */
export const partitionValue = (fields: Record<string, unknown>, name: string): unknown => {
  if (Object.hasOwn(fields, name)) return fields[name]
  if (!name.includes(".")) return undefined
  let at: unknown = fields
  for (const part of name.split(".")) {
    if (typeof at !== "object" || at === null || Array.isArray(at) || !Object.hasOwn(at, part)) return undefined
    at = (at as Record<string, unknown>)[part]
  }
  return at
}

/**
 * The region the sink uses: its own setting, else `AWS_REGION`, else `us-east-1`.
 *
 * @since 0.3.0
 */
export const resolveRegion = (region: string, env: Record<string, string | undefined> = process.env): string =>
  region !== "auto" ? region : env.AWS_REGION !== undefined && env.AWS_REGION !== "" ? env.AWS_REGION : "us-east-1"

/**
 * The Kinesis sink's settings, declared once.
 *
 * @since 0.3.0
 */
export const settings = {
  streamName: Setting.make(
    Setting.text((s) => (/^[a-zA-Z0-9_.-]{1,128}$/.test(s) ? undefined : "a stream name is 1 to 128 of a-z A-Z 0-9 _ . -")),
    { env: "KINESIS_STREAM_NAME", value: "<name>", doc: "the stream (required for the kinesis sink)" }
  ),
  region: Setting.make(
    Setting.text((s) => (s === "auto" || REGION.test(s) ? undefined : "expected a region such as eu-west-1, or auto")),
    { env: "KINESIS_REGION", value: "<region>", default: "auto", doc: "the stream's region; auto: AWS_REGION, else us-east-1" }
  ),
  endpoint: Setting.make(
    Setting.text((s) => {
      if (s === "aws") return undefined
      try {
        const u = new URL(s)
        return u.protocol === "http:" || u.protocol === "https:" ? undefined : "expected an http(s) URL, or aws"
      } catch {
        return "expected an http(s) URL, or aws"
      }
    }),
    { env: "KINESIS_ENDPOINT", value: "<url>", default: "aws", doc: "aws (the region's endpoint), or a local or compatible Kinesis's URL" }
  ),
  partitionKey: Setting.make(
    Setting.text((s) =>
      s.length <= 256 && PARTITION_KEY.test(s)
        ? undefined
        : "expected a field name, or a dotted path into the event's objects such as user.id (parts of A-Z a-z 0-9 _ - $, none empty)"
    ),
    {
      env: "KINESIS_PARTITION_KEY",
      value: "<field>",
      default: "processId",
      doc:
        "the field (or dotted path, such as user.id) whose value is a record's partition key; processId where an event has none (a process's events keep their order in a shard)"
    }
  ),
  maxBatchEvents: Setting.make(Setting.int({ min: 1, max: limits.maxRecords }), {
    env: "KINESIS_BATCH_MAX_EVENTS",
    default: limits.maxRecords,
    doc: "records a PutRecords request (Kinesis takes at most 500)"
  }),
  maxBatchBytes: Setting.make(Setting.int({ min: 1, max: LARGEST }), {
    env: "KINESIS_BATCH_MAX_BYTES",
    default: limits.maxRequestBytes,
    doc: "bytes of records and partition keys a request (Kinesis takes 5 MiB; up to 10 MiB where AWS allows more)"
  }),
  maxRecordBytes: Setting.make(Setting.int({ min: 1, max: LARGEST }), {
    env: "KINESIS_MAX_RECORD_BYTES",
    default: limits.maxRecordBytes,
    doc:
      "bytes of one record and its partition key, at most KINESIS_BATCH_MAX_BYTES; a larger event is dead-lettered unsent (up to 10 MiB where AWS allows more)"
  }),
  ...timingSettings("KINESIS_", "Kinesis"),
  ...selectionSettings("KINESIS_", "kinesis")
}

/**
 * Whether the settings can work together, or why not.
 *
 * @since 0.3.0
 */
export const check = (values: { readonly maxBatchBytes: number; readonly maxRecordBytes: number }): Either.Either<void, string> =>
  values.maxRecordBytes > values.maxBatchBytes
    ? Either.left(
      `KINESIS_MAX_RECORD_BYTES (${values.maxRecordBytes}) is more than KINESIS_BATCH_MAX_BYTES (${values.maxBatchBytes}): such a record could never be sent; lower the one or raise the other`
    )
    : Either.right(undefined)
