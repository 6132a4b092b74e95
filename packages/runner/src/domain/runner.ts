import type {
  RunnerSummary,
  ProcessEvent as WireProcessEvent,
  WorktreeRequest,
} from "@geppetto/protocol"
import type { ScreenAnswer } from "../attention/rules.js"
import type { PaneSummary } from "../ports.js"
import type { ProviderMode } from "../providers/provider.js"
import type { RunnerMetrics } from "../runners/runner-state.js"
import type { PaneId } from "./ids.js"

/** What a client asks for (the contract's `POST /api/runners` body, already shape-checked). */
export interface StartRunnerRequest {
  readonly provider: string
  readonly mode?: ProviderMode | undefined
  readonly prompt?: string | undefined
  readonly command?: ReadonlyArray<string> | undefined
  readonly cwd?: string | undefined
  readonly name?: string | undefined
  readonly env?: Readonly<Record<string, string>> | undefined
  readonly maxDurationMs?: number | undefined
  readonly accountId?: string | undefined
  readonly cols?: number | undefined
  readonly rows?: number | undefined
  /** Run in a new git worktree of `cwd`'s repository, on a new branch. */
  readonly worktree?: WorktreeRequest | undefined
  /**
   * Answer the permission prompts whose detail one of `allow` matches as a whole (see
   * `runners/auto-approve.ts`); a pattern that does not compile matches nothing.
   */
  readonly autoApprove?: { readonly allow: ReadonlyArray<string> } | undefined
  /** Continue (or fork) the agent conversation of the finished runner `runnerId`. */
  readonly resume?: { readonly runnerId: string; readonly fork?: boolean | undefined } | undefined
}

/** What the server itself adds to a start, never a client: who started the runner. */
export interface StartRunnerOptions {
  /** The schedule whose run this is (`RunnerSummary.scheduleId`). */
  readonly scheduleId?: string | undefined
}

export interface RunnerSession {
  readonly name: string
  readonly sessionId: string
  readonly windowId: string
  readonly paneId: PaneId
  readonly attachCommand: string
  readonly panes: ReadonlyArray<PaneSummary>
}

/** One runner in full: the summary, its metrics, where it lives, and its quick replies. */
export interface RunnerDetail {
  readonly runner: RunnerSummary
  readonly metrics: RunnerMetrics
  /** Absent once the runner finished (its tmux session is gone). */
  readonly session: RunnerSession | undefined
  readonly answers: ReadonlyArray<ScreenAnswer> | undefined
  readonly accountId: string | undefined
  /** `tmux attach` for the runner's session (by name; useless once it finished). */
  readonly attachCommand: string
}

/** A change for watchers; `seq` rises by one per event, so a watcher can tell it missed some. */
export type RegistryEvent =
  | { readonly seq: number; readonly type: "runner"; readonly runner: RunnerSummary }
  | { readonly seq: number; readonly type: "removed"; readonly runnerId: string }
  | {
      readonly seq: number
      readonly type: "resize"
      readonly runnerId: string
      readonly paneId: PaneId
      /** Whether it is the runner's main pane (the one a terminal socket naming none shows). */
      readonly main: boolean
      readonly cols: number
      readonly rows: number
    }
  | {
      readonly seq: number
      readonly type: "event"
      readonly runnerId: string
      readonly event: WireProcessEvent
    }

export type RegistryEventBody = RegistryEvent extends infer E
  ? E extends RegistryEvent
    ? Omit<E, "seq">
    : never
  : never

export interface UnmanagedSession {
  readonly name: string
  readonly windows: number
  readonly panes: number
  readonly attached: boolean
  readonly createdAt: number
  readonly command: string | undefined
}
