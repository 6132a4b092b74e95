import { Deferred, Effect, Ref, type Scope } from "effect"
import type { CompiledScreenRule } from "../attention/rules.js"
import type { RunnerSession } from "../domain/runner.js"
import type { ProcessMonitorHandle } from "../ports.js"
import { emptyTally, type OutputTally, takeTally } from "./output-tally.js"
import type { RunnerState } from "./runner-state.js"

/**
 * One runner as the registry keeps it. Its state lives in a `Ref`; the output
 * callback, which runs for every chunk outside any fiber, only adds to `tally` (plain
 * counters), which every read of the state takes in first (see `readState`).
 * The other fields are the wiring of a live runner to its monitor, set by the registry.
 */
export interface RunnerEntry {
  readonly id: string
  readonly logDir: string
  readonly state: Ref.Ref<RunnerState>
  /** Output since the state was last read. */
  readonly tally: OutputTally
  /** Resolved with the final state once the runner has ended. */
  readonly done: Deferred.Deferred<RunnerState>
  session: RunnerSession | undefined
  handle: ProcessMonitorHandle | undefined
  scope: Scope.CloseableScope | undefined
  /** The last summary sent to watchers, without `bytesOut` (sent at most once a second). */
  published: string
  removed: boolean
  /**
   * Set while a live runner found at start-up is listed but not yet watched: operations on it
   * wait for this.
   */
  attaching: Deferred.Deferred<void> | undefined
  /** Set while the exit waits for the output before it to be counted. */
  outputWait: { readonly offset: number; readonly reached: Deferred.Deferred<void> } | undefined
  /**
   * `state.live` and whether the state holds a budget notice, kept in step by `modifyState`:
   * the keystroke path reads them from plain code, where reading the `Ref` would cost a fiber
   * per key.
   */
  live: boolean
  budgetNoticeOpen: boolean
  /**
   * The screen rules its attention is judged by, once it is watched: a quick answer checks a
   * fresh capture against them before it types (see `promptOnScreen`).
   */
  screenRules: ReadonlyArray<CompiledScreenRule> | undefined
}

export const makeEntry = (state: RunnerState, logDir: string) =>
  Effect.gen(function* () {
    const ref = yield* Ref.make(state)
    const done = yield* Deferred.make<RunnerState>()
    return {
      id: state.id,
      logDir,
      state: ref,
      tally: emptyTally(),
      done,
      session: undefined,
      handle: undefined,
      scope: undefined,
      published: "",
      removed: false,
      attaching: undefined,
      outputWait: undefined,
      live: state.live,
      budgetNoticeOpen: state.budgetNotice !== undefined,
      screenRules: undefined,
    } satisfies RunnerEntry as RunnerEntry
  })

/** The state with every chunk of output seen so far taken in. */
export const readState = (entry: RunnerEntry): Effect.Effect<RunnerState> =>
  Ref.modify(entry.state, (s) => {
    const next = takeTally(s, entry.tally)
    return [next, next]
  })

/** Replaces the state by `f` of the current one (output seen so far taken in); returns both. */
export const modifyState = (
  entry: RunnerEntry,
  f: (s: RunnerState) => RunnerState,
): Effect.Effect<readonly [before: RunnerState, after: RunnerState]> =>
  Ref.modify(entry.state, (s) => {
    const before = takeTally(s, entry.tally)
    const after = f(before)
    entry.live = after.live
    entry.budgetNoticeOpen = after.budgetNotice !== undefined
    return [[before, after] as const, after]
  })

export const setState = (entry: RunnerEntry, f: (s: RunnerState) => RunnerState) =>
  Effect.asVoid(modifyState(entry, f))
