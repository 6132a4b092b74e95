import { Effect, Stream } from "effect"
import type { NotFoundError } from "../domain/errors.js"
import type { RegistryContext } from "../runners/registry-context.js"
import { readState } from "../runners/runner-entry.js"
import {
  type LogSearchEvent,
  type LogSearchOptions,
  type SearchTarget,
  searchLogs,
} from "./search-logs.js"

/** `AiRunner.searchLogs`' options: the search's, and one runner to search alone. */
export interface RunnerSearchOptions extends LogSearchOptions {
  readonly runnerId?: string | undefined
}

/** Searches running at once at most; the next waits (its time budget running meanwhile). */
const CONCURRENT_SEARCHES = 4

/**
 * Search over the registry's runners: newest first (the likeliest to be looked for), each
 * runner's main pane log (an adopted session's other panes are not searched).
 */
export const makeRegistrySearch = (ctx: RegistryContext) =>
  Effect.map(Effect.makeSemaphore(CONCURRENT_SEARCHES), (permits) => {
    const targets = (runnerId: string | undefined) =>
      Effect.gen(function* () {
        const entries =
          runnerId === undefined ? [...ctx.entries.values()] : [yield* ctx.entryOf(runnerId)]
        const listed = yield* Effect.forEach(entries, (entry) =>
          Effect.map(readState(entry), (state) => ({
            target: {
              runnerId: entry.id,
              name: state.name,
              logDir: entry.logDir,
            } as SearchTarget,
            createdAt: state.createdAt,
          })),
        )
        return listed.sort((a, b) => b.createdAt - a.createdAt).map((l) => l.target)
      })

    const searchRunnerLogs = (
      options: RunnerSearchOptions,
    ): Stream.Stream<LogSearchEvent, NotFoundError> =>
      Stream.unwrapScoped(
        Effect.gen(function* () {
          const list = yield* targets(options.runnerId)
          yield* permits.take(1)
          yield* Effect.addFinalizer(() => permits.release(1))
          return searchLogs(list, options)
        }),
      )
    return { searchRunnerLogs } as const
  })
