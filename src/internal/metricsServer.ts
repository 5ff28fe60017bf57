/**
 * The metrics endpoint of a run: `GET /metrics` (the Prometheus text) and
 * `GET /health` (JSON; 200 while ok or degraded, 503 once a sink stopped),
 * nothing else. It listens on 127.0.0.1 unless given another host, for the
 * length of its scope: closing it ends every connection, so a slow or
 * endless client never holds a run open past its end.
 *
 * @internal
 */
import { Effect, Runtime } from "effect"
import type { Scope } from "effect/Scope"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Prometheus from "../Prometheus.js"
import type { Scraper } from "./scrape.js"

export { parseAddress } from "./settings/address.js"

export interface Endpoint {
  /** Where it listens, as a URL base (`http://127.0.0.1:9464`). */
  readonly url: string
}

export const serve = (
  address: { readonly host: string; readonly port: number },
  scraper: Scraper
): Effect.Effect<Endpoint, Error, Scope> =>
  Effect.gen(function*() {
    const runtime = yield* Effect.runtime<never>()
    const run = Runtime.runPromise(runtime)
    const server = http.createServer((req, res) => {
      const path = (req.url ?? "/").split("?")[0]
      if (path !== "/metrics" && path !== "/health") {
        res.writeHead(404, { "content-type": "text/plain" }).end("not found: this endpoint answers GET /metrics and GET /health\n")
        return
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { "content-type": "text/plain", allow: "GET, HEAD" }).end("only GET\n")
        return
      }
      const answer = path === "/metrics"
        ? run(scraper.metrics).then((text) => [200, Prometheus.contentType, text] as const)
        : run(scraper.health).then((h) => [h.status === "stopped" ? 503 : 200, "application/json", JSON.stringify(h) + "\n"] as const)
      answer.then(
        ([status, type, body]) => res.writeHead(status, { "content-type": type }).end(req.method === "HEAD" ? undefined : body),
        () => res.writeHead(500, { "content-type": "text/plain" }).end("the vacuum could not answer\n")
      )
    })
    // A client that sends nothing, or slowly, is cut off.
    server.requestTimeout = 10_000
    server.headersTimeout = 5_000
    server.keepAliveTimeout = 5_000
    yield* Effect.async<void, Error>((resume) => {
      server.once("error", (e) => resume(Effect.fail(new Error(`cannot listen on ${address.host}:${address.port}: ${e.message}`))))
      server.listen(address.port, address.host, () => resume(Effect.void))
    })
    yield* Effect.addFinalizer(() =>
      Effect.async<void>((resume) => {
        server.close(() => resume(Effect.void))
        server.closeAllConnections()
      })
    )
    const bound = server.address() as AddressInfo
    const host = bound.family === "IPv6" ? `[${bound.address}]` : bound.address
    return { url: `http://${host}:${bound.port}` }
  })
