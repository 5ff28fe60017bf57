/**
 * A local Honeycomb to try the Honeycomb sink against: the test suite's
 * receiver (the batch API, gzip, per-event statuses), listening on
 * 127.0.0.1. It prints each request it accepts.
 *
 *   npx tsx examples/local-honeycomb.ts            # listens on 127.0.0.1:8787, key "local-key"
 *
 * then, in another terminal:
 *
 *   EVENT_VACUUM_TRANSPORTS=honeycomb HONEYCOMB_API_HOST=http://127.0.0.1:8787 \
 *   HONEYCOMB_API_KEY=local-key HONEYCOMB_DATASET=ao-events \
 *   node dist/cli/bin.js run examples/aos-token-evaluations.ndjson
 */
import { FakeHoneycomb } from "../test/support/honeycomb.js"

const port = Number(process.env.PORT ?? 8787)
const key = process.env.HONEYCOMB_API_KEY ?? "local-key"

const hc = await FakeHoneycomb.start(key, port)
hc.onRequest = (request, accepted) => {
  console.log(
    `POST /1/batch/${request.dataset}: ${request.events} events, ${request.wireBytes} bytes (${request.encoding ?? "identity"}), ` +
      `${accepted} accepted; ${hc.accepted.length} in all`
  )
}
console.log(`local Honeycomb on ${hc.url}, key ${JSON.stringify(key)}; Ctrl-C to stop`)
