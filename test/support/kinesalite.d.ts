/** kinesalite 3.3 ships no types: what test/support/kinesis.ts uses of it. */
declare module "kinesalite" {
  import type { Server } from "node:http"

  interface KinesaliteOptions {
    /** A LevelDB directory; in memory when absent (leveldown is not built here: leave it out). */
    readonly path?: string
    readonly ssl?: boolean
    /** Milliseconds a stream stays CREATING / DELETING / UPDATING (500 by default). */
    readonly createStreamMs?: number
    readonly deleteStreamMs?: number
    readonly updateStreamMs?: number
    /** Open shards allowed over all streams (10 by default). */
    readonly shardLimit?: number
  }

  /** An HTTP server not yet listening; its `close` also closes the store. */
  function kinesalite(options?: KinesaliteOptions): Server
  export = kinesalite
}
