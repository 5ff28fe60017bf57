/**
 * What a scrape reads: the vacuum's snapshot, at most once a second however
 * often it is asked (the store's counts are a query), and never waited for
 * longer than a bound: a store that does not answer in time leaves the last
 * snapshot standing, marked as the store not answering, so a scrape always
 * answers. The CU's call never waits on any of it.
 *
 * @internal
 */
import { Duration, Effect, Option } from "effect"
import type { Health } from "../Prometheus.js"
import * as Prometheus from "../Prometheus.js"
import { emptySnapshot, type Snapshot } from "../Vacuum.js"

export interface Scraper {
  readonly snapshot: Effect.Effect<Snapshot>
  readonly metrics: Effect.Effect<string>
  readonly health: Effect.Effect<Health>
}

export const make = (
  snapshot: Effect.Effect<Snapshot>,
  options: { readonly cacheFor?: Duration.DurationInput; readonly bound?: Duration.DurationInput } = {}
): Effect.Effect<Scraper> =>
  Effect.gen(function*() {
    const bound = Duration.decode(options.bound ?? "2 seconds")
    let last: Snapshot | undefined
    const bounded = snapshot.pipe(
      Effect.tap((s) => Effect.sync(() => (last = s))),
      Effect.timeoutOption(bound),
      Effect.flatMap(Option.match({
        onSome: Effect.succeed,
        onNone: () =>
          Effect.succeed({
            ...(last ?? emptySnapshot()),
            storeError: `the state store did not answer within ${Duration.format(bound)}`
          } satisfies Snapshot)
      }))
    )
    const cached = yield* Effect.cachedWithTTL(bounded, options.cacheFor ?? "1 second")
    return {
      snapshot: cached,
      metrics: Effect.flatMap(cached, (s) => Effect.sync(() => Prometheus.exposition(s))),
      health: Effect.map(cached, Prometheus.health)
    }
  })
