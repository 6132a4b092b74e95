import { Effect } from "effect"
import type { JournalStore } from "../journal/journal-store.js"
import { encodeRunnerState } from "./runner-codec.js"
import type { RunnerState } from "./runner-state.js"

/** Journal size (records) at which it is compacted while running. */
const COMPACT_EVERY = 2_000

/**
 * Runner states into the journal, one writer at a time, so the last record written is the last
 * state read; compacted every `COMPACT_EVERY` records. A journal that cannot be written is
 * logged, never a runner's failure.
 */
export const makePersistence = (journal: JournalStore) =>
  Effect.gen(function* () {
    const lock = yield* Effect.makeSemaphore(1)
    let appended = 0

    const warn = (e: { readonly message: string }) => Effect.logWarning(`journal: ${e.message}`)

    /** Appends the state `read` gives when the append runs (nothing for `undefined`). */
    const persist = (runnerId: string, read: () => Effect.Effect<RunnerState> | undefined) =>
      lock
        .withPermits(1)(
          Effect.suspend(() => {
            const state = read()
            if (state === undefined) return Effect.void
            return Effect.flatMap(state, (s) =>
              journal.append({ type: "runner", runnerId, data: encodeRunnerState(s) }),
            )
          }),
        )
        .pipe(
          Effect.tap(() => {
            appended++
            return appended % COMPACT_EVERY === 0 ? Effect.ignore(journal.compact) : Effect.void
          }),
          Effect.catchAll(warn),
        )

    const persistRemoved = (runnerId: string) =>
      lock.withPermits(1)(journal.append({ type: "removed", runnerId }).pipe(Effect.catchAll(warn)))

    return { persist, persistRemoved } as const
  })
