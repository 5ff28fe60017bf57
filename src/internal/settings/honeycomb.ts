/**
 * The Honeycomb sink's settings, and the hosts and URL they are checked against: a table that loads without the sink.
 *
 * @internal
 */
import * as Either from "effect/Either"
import * as Setting from "../../Setting.js"
import { selectionSettings } from "./selection.js"
import { timingSettings } from "./sink.js"

/**
 * Honeycomb's US API host.
 *
 * @since 0.1.0
 */
export const US = "https://api.honeycomb.io"

/**
 * Honeycomb's EU API host.
 *
 * @since 0.1.0
 */
export const EU = "https://api.eu1.honeycomb.io"

/**
 * The request URL for a dataset, or why the settings cannot work.
 *
 * @since 0.1.0
 */
export const batchUrl = (apiHost: string, dataset: string): Either.Either<string, string> => {
  if (dataset.trim().length === 0) return Either.left("the dataset name is empty")
  if (dataset.includes("/")) return Either.left(`the dataset name ${JSON.stringify(dataset)} has a slash, which Honeycomb does not allow`)
  let host: URL
  try {
    host = new URL(apiHost)
  } catch {
    return Either.left(`the API host ${JSON.stringify(apiHost)} is not a URL`)
  }
  if (host.protocol !== "https:" && host.protocol !== "http:") {
    return Either.left(`the API host ${JSON.stringify(apiHost)} is not http(s)`)
  }
  return Either.right(`${host.origin}${host.pathname.replace(/\/+$/, "")}/1/batch/${encodeURIComponent(dataset)}`)
}

/**
 * The Honeycomb sink's settings, declared once.
 *
 * @since 0.2.0
 */
export const settings = {
  apiKey: Setting.make(Setting.secret, {
    env: "HONEYCOMB_API_KEY",
    doc: "the ingest key (required for the honeycomb sink); kept redacted"
  }),
  dataset: Setting.make(
    Setting.text((s) => Either.match(batchUrl(US, s), { onLeft: (why) => why, onRight: () => undefined })),
    { env: "HONEYCOMB_DATASET", value: "<name>", doc: "the dataset (required for the honeycomb sink)" }
  ),
  apiHost: Setting.make(
    Setting.text((s) => Either.match(batchUrl(s, "d"), { onLeft: (why) => why, onRight: () => undefined })),
    { env: "HONEYCOMB_API_HOST", value: "<url>", default: US, doc: "the API host; https://api.eu1.honeycomb.io for the EU" }
  ),
  compression: Setting.make(Setting.literal("gzip", "zstd", "none"), {
    env: "HONEYCOMB_COMPRESSION",
    default: "gzip",
    doc: "gzip, zstd (Node 22.15 and later) or none"
  }),
  maxBatchEvents: Setting.make(Setting.int({ min: 1 }), {
    env: "HONEYCOMB_BATCH_MAX_EVENTS",
    default: 500,
    doc: "events a request"
  }),
  maxBatchBytes: Setting.make(Setting.int({ min: 1, max: 4_900_000 }), {
    env: "HONEYCOMB_BATCH_MAX_BYTES",
    default: 4_500_000,
    doc: "bytes of event data a request (the body must stay under 5,000,000)"
  }),
  ...timingSettings("HONEYCOMB_", "Honeycomb"),
  ...selectionSettings("HONEYCOMB_", "honeycomb")
}
