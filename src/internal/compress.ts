/**
 * Compression of a request body. On the vacuum's own thread it runs there,
 * synchronously: at that thread's (lowered) priority, and off the process's
 * libuv pool, which the CU's own file and DNS work shares. On any other
 * thread (`EVENT_VACUUM_THREAD=caller`) it goes to the pool, so the caller's
 * thread never blocks on it.
 *
 * @internal
 */
import { Effect } from "effect"
import * as zlib from "node:zlib"

let ownThread = false

/** Said once by the vacuum's own thread, before it builds a sink. */
export const onOwnThread = (): void => {
  ownThread = true
}

type Compress = (body: Uint8Array, done: (error: Error | null, out: Buffer) => void) => void
type CompressSync = (body: Uint8Array) => Buffer

const compressWith = (async: Compress, sync: CompressSync) => (body: Uint8Array): Effect.Effect<Uint8Array> =>
  ownThread
    ? Effect.sync(() => sync(body))
    : Effect.async<Uint8Array>((resume) => async(body, (error, out) => resume(error ? Effect.die(error) : Effect.succeed(out))))

/** gzip at zlib's default level. */
export const gzip: (body: Uint8Array) => Effect.Effect<Uint8Array> = compressWith(zlib.gzip, zlib.gzipSync)

const z = zlib as unknown as { zstdCompress?: Compress; zstdCompressSync?: CompressSync }

/** Whether this runtime has zstd (Node 22.15 and later). */
export const hasZstd = (): boolean => typeof z.zstdCompress === "function"

/** zstd, where the runtime has it (see {@link hasZstd}). */
export const zstd = (body: Uint8Array): Effect.Effect<Uint8Array> => compressWith(z.zstdCompress!, z.zstdCompressSync!)(body)
