import { Effect, Runtime } from "effect"
import type { ProcessMonitorError } from "../domain/errors.js"
import type { PaneId } from "../domain/ids.js"
import { dismissBudgetNotice } from "./budget-notice.js"
import type { RegistryContext } from "./registry-context.js"
import type { RunnerEntry } from "./runner-entry.js"

/**
 * `AiRunner.writeNow`: a terminal socket's keystrokes from plain code, straight to the tmux
 * control client. The checks are those of `write` (live, the pane is the runner's), read
 * from the entry's plain fields; anything they cannot settle at once (a pane split since
 * the runner was listed, a runner still attaching, no tmux connection) returns false, and
 * the caller takes `write`, which says why or gets there.
 */
export const makeWriteNow = (ctx: RegistryContext) =>
  Effect.map(Effect.runtime<never>(), (runtime) => {
    const runFork = Runtime.runFork(runtime)
    /** What `write` does after typing: an open budget notice counts as seen. */
    const seen = (entry: RunnerEntry) =>
      Effect.zipRight(ctx.update(entry, dismissBudgetNotice), ctx.persist(entry))
    return (
      id: string,
      data: Uint8Array,
      paneId: PaneId | undefined,
      done: (error: ProcessMonitorError | undefined) => void,
    ): boolean => {
      const entry = ctx.entries.get(id)
      const handle = entry?.handle
      if (
        entry === undefined ||
        handle?.writeNow === undefined ||
        entry.removed ||
        !entry.live ||
        entry.attaching !== undefined
      )
        return false
      const main = paneId === undefined || paneId === entry.session?.paneId
      if (!main && !entry.session?.panes.some((p) => p.id === paneId)) return false
      if (!handle.writeNow(data, main ? undefined : paneId, done)) return false
      if (entry.budgetNoticeOpen) runFork(seen(entry))
      return true
    }
  })
