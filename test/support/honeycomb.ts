/**
 * A faithful local Honeycomb: a real HTTP server on 127.0.0.1 speaking the
 * batch API (`POST /1/batch/{dataset}`): it checks the key, decodes gzip or
 * zstd, answers one `{status, error?}` per event (202 accepted; 400 for an
 * event with too many columns or without data), and records what it
 * accepted and the bytes it received. Faults are injected per request.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as zlib from "node:zlib"

export interface Accepted {
  readonly dataset: string
  readonly data: Record<string, unknown>
  readonly time: string
  /** As Honeycomb counts it: 1 when the element had none. */
  readonly samplerate: number
  /** The element's keys, as sent. */
  readonly keys: ReadonlyArray<string>
}

/** What to do with one request instead of (or on top of) the normal answer. */
export type Fault =
  | { readonly kind: "status"; readonly status: number; readonly body?: string }
  | { readonly kind: "garbage" }
  | { readonly kind: "single-error"; readonly error: string }
  | { readonly kind: "drop" }
  | { readonly kind: "slow"; readonly millis: number }
  /** Accepts the events at once, answers only after the delay: a reply lost to a crash means a re-send. */
  | { readonly kind: "late-reply"; readonly millis: number }
  | { readonly kind: "short-array" }
  /** Per-event statuses: `refuse(data)` gives a 4xx error text, `retry(data)` a 5xx, else normal. */
  | {
    readonly kind: "per-event"
    readonly refuse?: (data: Record<string, unknown>) => string | undefined
    readonly retry?: (data: Record<string, unknown>) => boolean
  }

export interface Request {
  readonly dataset: string
  readonly encoding: string | undefined
  readonly wireBytes: number
  readonly events: number
  readonly headers: http.IncomingHttpHeaders
}

export class FakeHoneycomb {
  readonly accepted: Array<Accepted> = []
  readonly requests: Array<Request> = []
  /** Decides a fault for request number `n` (1-based); none by default. */
  fault: (n: number, events: ReadonlyArray<Record<string, unknown>>) => Fault | undefined = () => undefined
  private readonly sockets = new Set<import("node:net").Socket>()

  private constructor(readonly server: http.Server, readonly key: string) {
    server.on("connection", (socket) => {
      this.sockets.add(socket)
      socket.on("close", () => this.sockets.delete(socket))
    })
  }

  /** Listens on 127.0.0.1 (only), on `port` or a free one. */
  static async start(key = "test-key-0123456789", port = 0): Promise<FakeHoneycomb> {
    let self: FakeHoneycomb | undefined
    const server = http.createServer((req, res) => self!.handle(req, res))
    self = new FakeHoneycomb(server, key)
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, "127.0.0.1", resolve)
    })
    return self
  }

  /** Called after each request with what it did. */
  onRequest: (request: Request, accepted: number) => void = () => {}

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** Accepted events' ids, in order of acceptance. */
  get ids(): Array<string> {
    return this.accepted.map((a) => String(a.data.eventId))
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const wire = Buffer.concat(chunks)
      const reply = (status: number, body: unknown) => {
        res.writeHead(status, { "content-type": "application/json" })
        res.end(typeof body === "string" ? body : JSON.stringify(body))
      }
      const match = /^\/1\/batch\/([^/]+)$/.exec(req.url ?? "")
      if (req.method !== "POST" || match === null) return reply(404, { error: "not found" })
      const dataset = decodeURIComponent(match[1]!)
      if (req.headers["x-honeycomb-team"] !== this.key) {
        return reply(401, { error: "unknown API key - check your credentials, region, and API URL" })
      }
      const encoding = req.headers["content-encoding"]
      let events: Array<{ data?: unknown; time?: unknown; samplerate?: unknown }>
      try {
        const raw = encoding === "gzip"
          ? zlib.gunzipSync(wire)
          : encoding === "zstd"
          ? (zlib as unknown as { zstdDecompressSync: (b: Buffer) => Buffer }).zstdDecompressSync(wire)
          : wire
        events = JSON.parse(raw.toString("utf8"))
        if (!Array.isArray(events)) throw new Error("not an array")
      } catch {
        return reply(400, { error: "request body should be a JSON array of events" })
      }
      if (wire.length > 5_000_000) return reply(413, { error: "request body is too large" })
      const datas = events.map((e) => (typeof e.data === "object" && e.data !== null ? e.data as Record<string, unknown> : {}))
      this.requests.push({ dataset, encoding, wireBytes: wire.length, events: events.length, headers: req.headers })
      const fault = this.fault(this.requests.length, datas)

      const process = () => {
        // With "short-array", Honeycomb processed only the events it answers for.
        const processed = fault?.kind === "short-array" ? events.slice(0, 1) : events
        return processed.map((e, i) => {
          const data = datas[i]!
          if (typeof e.data !== "object" || e.data === null) return { status: 400, error: "event has no data" }
          if (Object.keys(data).length > 2000) return { status: 400, error: "Event has too many columns." }
          if (fault?.kind === "per-event") {
            const refused = fault.refuse?.(data)
            if (refused !== undefined) return { status: 400, error: refused }
            if (fault.retry?.(data)) return { status: 503, error: "try again" }
          }
          this.accepted.push({
            dataset,
            data,
            time: String(e.time),
            samplerate: typeof e.samplerate === "number" ? e.samplerate : 1,
            keys: Object.keys(e)
          })
          return { status: 202 }
        })
      }
      const answer = (statuses = process()) => {
        reply(200, statuses)
        this.onRequest(this.requests[this.requests.length - 1]!, statuses.filter((st) => st.status === 202).length)
      }

      switch (fault?.kind) {
        case "status":
          return reply(fault.status, fault.body ?? { error: `injected ${fault.status}` })
        case "garbage":
          return reply(200, "<html>502 Bad Gateway</html>")
        case "single-error":
          return reply(200, { error: fault.error })
        case "drop":
          return req.socket.destroy()
        case "slow": {
          // Answers (and accepts) only after the delay, as a slow Honeycomb would.
          const timer = setTimeout(() => answer(), fault.millis)
          res.on("close", () => clearTimeout(timer))
          return
        }
        case "late-reply": {
          const statuses = process()
          const timer = setTimeout(() => answer(statuses), fault.millis)
          res.on("close", () => clearTimeout(timer))
          return
        }
        default:
          return answer()
      }
    })
  }
}
