import type { RunnerSummary } from "@geppetto/protocol"
import { Effect, PubSub } from "effect"
import type { RegistryEvent, RegistryEventBody } from "../domain/runner.js"
import type { RunnerChanges } from "../ports.js"

/** Queue depth of the change feed; a watcher further behind sees a `seq` gap and resyncs. */
const FEED_CAPACITY = 8192

/**
 * The registry's change feed: every change to every runner, numbered (`seq`), on a bounded
 * sliding `PubSub` for `/api/events`, and told synchronously to the listeners of one runner
 * (a terminal viewer would otherwise wake for every change of every runner).
 */
export const makeChangeFeed = Effect.gen(function* () {
  const feed = yield* PubSub.sliding<RegistryEvent>(FEED_CAPACITY)
  const listeners = new Map<string, Set<(event: RegistryEvent) => void>>()
  let seq = 0

  const emit = (body: RegistryEventBody) =>
    Effect.suspend(() => {
      const event = { ...body, seq: ++seq } as RegistryEvent
      const own = listeners.get(event.type === "runner" ? event.runner.id : event.runnerId)
      if (own !== undefined) {
        for (const listener of own) {
          try {
            listener(event)
          } catch {
            // A listener's fault is its own: the change still reaches everyone else.
          }
        }
      }
      return PubSub.publish(feed, event)
    })

  /** Calls `listener` with each change of runner `id` until the scope closes. */
  const onRunnerEvent = (id: string, listener: (event: RegistryEvent) => void) =>
    Effect.acquireRelease(
      Effect.sync(() => {
        let set = listeners.get(id)
        if (set === undefined) {
          set = new Set()
          listeners.set(id, set)
        }
        set.add(listener)
        return set
      }),
      (set) =>
        Effect.sync(() => {
          set.delete(listener)
          if (set.size === 0 && listeners.get(id) === set) listeners.delete(id)
        }),
    ).pipe(Effect.asVoid)

  /** The runner list as `list` reads it, and every change after it, until the scope closes. */
  const subscribe = (list: Effect.Effect<ReadonlyArray<RunnerSummary>>) =>
    Effect.gen(function* () {
      const queue = yield* PubSub.subscribe(feed)
      // Read after subscribing: a change in between is both in the list and on the queue,
      // which a watcher tells by `seq`; never missing from both.
      const at = seq
      const runners = yield* list
      return { runners, seq: at, queue } satisfies RunnerChanges
    })

  return { emit, onRunnerEvent, subscribe } as const
})

export type ChangeFeed = Effect.Effect.Success<typeof makeChangeFeed>
