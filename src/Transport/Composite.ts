/**
 * Several sinks at once. Each child keeps its own name, and so its own
 * watermark, outbox and delivery fiber in the vacuum: a failing child never
 * blocks, delays or duplicates another.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer } from "effect"
import type { TransportConfigError } from "../Transport.js"
import { make, Transport } from "../Transport.js"

/**
 * The children's sinks together, built concurrently; names must stay unique.
 *
 * @since 0.1.0
 */
export const layer = <const Children extends ReadonlyArray<Layer.Layer<Transport, any, any>>>(
  ...children: Children
): Layer.Layer<
  Transport,
  Layer.Layer.Error<Children[number]> | TransportConfigError,
  Layer.Layer.Context<Children[number]>
> =>
  Layer.scoped(
    Transport,
    Effect.gen(function*() {
      const built = yield* Effect.all(children.map((child) => Layer.build(child)), { concurrency: "unbounded" })
      return yield* make(built.flatMap((context) => Context.get(context, Transport).sinks))
    })
  )
