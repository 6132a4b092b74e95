import type { RunnerStatus, RunnerSummary } from "@geppetto/protocol"
import type { ScreenAnswer } from "../attention/rules.js"
import type { AttentionState } from "../attention/signals.js"
import type { ActivityState } from "../domain/events.js"
import type { ProviderMode } from "../providers/provider.js"
import type { AgentSessionRef } from "../transcripts/agent-session.js"
import type { RunnerUsage } from "../transcripts/usage-tally.js"
import { type BudgetNotice, budgetShown, dismissBudgetNotice } from "./budget-notice.js"

/** Counters of one runner's life; `*Ms` totals exclude the segment still open. */
export interface RunnerMetrics {
  readonly bytesOut: number
  readonly lines: number
  readonly startedAt?: number
  readonly endedAt?: number
  readonly activeMs: number
  readonly idleMs: number
  readonly lastActivityAt?: number
  readonly attentionCount: number
  readonly waitingMs: number
  readonly exitCode?: number
}

/** Where a runner works in git: the contract's `Workspace`, as the journal keeps it. */
export interface WorkspaceState {
  /** The main work tree's top folder. */
  readonly repo: string
  /** The work tree the runner works in (its own worktree when `isolated`). */
  readonly path: string
  /** The branch checked out there; empty on a detached HEAD. */
  readonly branch: string
  /** What the changes are measured against: a branch name, or a commit id. */
  readonly base: string
  readonly baseCommit: string
  readonly isolated: boolean
  /** Lines added and deleted against `baseCommit`, as last computed. */
  readonly additions?: number
  readonly deletions?: number
  /** The worktree folder is gone (deleted by hand). */
  readonly missing?: boolean
}

/** Why a live runner stopped, when we caused it. */
export type StopCause = "terminated" | "timeout"

/**
 * Everything known about one runner: what the API shows plus what a restart needs.
 * Pure data: the journal stores it and the registry rebuilds from it.
 */
export interface RunnerState {
  readonly id: string
  readonly name: string
  readonly provider: string
  readonly mode: ProviderMode
  readonly cwd: string
  readonly prompt?: string
  readonly accountId?: string
  readonly maxDurationMs?: number
  /** Adopted from a session made outside Geppetto. */
  readonly adopted: boolean
  /** The pane size last set by us; kept for drawing a finished runner's log. */
  readonly cols?: number
  readonly rows?: number
  readonly createdAt: number
  readonly startedAt?: number
  readonly endedAt?: number
  readonly exitCode?: number
  readonly signal?: string
  readonly failureReason?: string
  readonly live: boolean
  readonly paused: boolean
  readonly stopCause?: StopCause
  readonly activity: ActivityState
  readonly activitySince: number
  readonly waitingForInput: boolean
  readonly attentionReason?: string
  readonly attentionSince?: number
  readonly answers?: ReadonlyArray<ScreenAnswer>
  /** While waiting: which prompt (see `applyAttention`); a new one gets a new id. */
  readonly attentionId?: string
  /** While waiting: the rule that matched, what it asks for, and which dialog it is. */
  readonly attentionRuleId?: string
  readonly attentionDetail?: string
  readonly attentionFingerprint?: string
  /** While waiting: the rule's "yes" answer, when it declares one. */
  readonly attentionYes?: ScreenAnswer
  /** The permission prompts to answer for a person (`StartRunnerRequest.autoApprove`). */
  readonly autoApprove?: { readonly allow: ReadonlyArray<string> }
  /** The prompt auto-approve last answered: never answered twice, even across a restart. */
  readonly autoAnsweredId?: string
  /** The last error the monitor reported (a vanished session, a lost exit status). */
  readonly lastError?: string
  /** The last non-blank line of output as plain text (see `lastLineOf`). */
  readonly lastLine?: string
  /** Where the runner works in git (its own worktree when `isolated`). */
  readonly workspace?: WorkspaceState
  /** The schedule that started it. */
  readonly scheduleId?: string
  /** The runner whose agent conversation this one continues or forks. */
  readonly parentId?: string
  /** The agent's own session file: the id we gave it and where it writes (transcripts/). */
  readonly agentSession?: AgentSessionRef
  /** Tokens and cost as read from the agent's session file. */
  readonly usage?: RunnerUsage
  /**
   * A budget this runner's usage went over while it ran, not yet seen by a person: shown as
   * attention `budget` (see `budgetShown`) until someone types into the runner or it ends.
   */
  readonly budgetNotice?: BudgetNotice
  /** Crossings already raised (`budgetCrossingKey`): each once, kept across restarts. */
  readonly budgetCrossings?: ReadonlyArray<string>
  readonly metrics: RunnerMetrics
}

/** The seed's status, one derivation for the API, the CLI and the board. */
export const statusOf = (s: RunnerState): RunnerStatus => {
  if (!s.live) return s.exitCode === 0 && s.stopCause !== "timeout" ? "completed" : "failed"
  if (s.paused) return "paused"
  // An interactive agent back at its prompt has finished its turn: nothing runs.
  if (s.waitingForInput && s.attentionReason === "ready") return "idle"
  return "running"
}

/** Shown in `failureReason` for a runner that ended badly. */
export const failureReasonOf = (s: {
  readonly exitCode?: number | undefined
  readonly signal?: string | undefined
  readonly stopCause?: StopCause | undefined
  readonly lastError?: string | undefined
  readonly maxDurationMs?: number | undefined
}): string | undefined => {
  if (s.stopCause === "timeout")
    return `timeout: ran longer than maxDurationMs (${s.maxDurationMs ?? "?"} ms)`
  if (s.exitCode === 0) return undefined
  const how =
    s.exitCode !== undefined
      ? `exited with code ${s.exitCode}`
      : s.signal !== undefined
        ? `killed by ${s.signal}`
        : (s.lastError ?? "ended without an exit status")
  // The monitor's error says why a signal came (the session vanished, the tmux server died).
  const why = s.lastError !== undefined && s.lastError !== how ? `${how}: ${s.lastError}` : how
  return s.stopCause === "terminated" ? `terminated: ${why}` : why
}

const opt = <K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } =>
  (value === undefined ? {} : { [key]: value }) as { [P in K]?: V }

/** The contract's `RunnerSummary`. Waiting is not shown while paused: the user stopped it. */
export const toSummary = (s: RunnerState): RunnerSummary => {
  const budget = budgetShown(s)
  const waiting = s.live && !s.paused && s.waitingForInput && budget === undefined
  return {
    id: s.id,
    name: s.name,
    provider: s.provider,
    mode: s.mode,
    status: statusOf(s),
    activity: s.live ? s.activity : "idle",
    waitingForInput: waiting || budget !== undefined,
    ...opt(
      "attentionReason",
      budget !== undefined ? "budget" : waiting ? s.attentionReason : undefined,
    ),
    ...opt("attentionId", budget !== undefined ? budget.id : waiting ? s.attentionId : undefined),
    ...opt(
      "attentionDetail",
      budget !== undefined ? budget.detail : waiting ? s.attentionDetail : undefined,
    ),
    cwd: s.cwd,
    ...opt("prompt", s.prompt),
    createdAt: s.createdAt,
    ...opt("startedAt", s.startedAt),
    ...opt("endedAt", s.endedAt),
    ...opt("exitCode", s.exitCode),
    ...opt("failureReason", s.live ? undefined : s.failureReason),
    bytesOut: s.metrics.bytesOut,
    ...opt("lastLine", s.lastLine),
    ...opt("workspace", s.workspace),
    ...opt("scheduleId", s.scheduleId),
    ...opt("parentId", s.parentId),
    ...opt("autoApprove", s.autoApprove && { allow: [...s.autoApprove.allow] }),
    ...opt("usage", s.usage),
  }
}

/** Metrics with the open activity and waiting segments counted up to `now`. */
export const metricsAt = (s: RunnerState, now: number): RunnerMetrics => {
  if (!s.live) return s.metrics
  const open = Math.max(0, now - s.activitySince)
  const waiting =
    s.waitingForInput && s.attentionSince !== undefined ? Math.max(0, now - s.attentionSince) : 0
  return {
    ...s.metrics,
    activeMs: s.metrics.activeMs + (s.activity === "active" ? open : 0),
    idleMs: s.metrics.idleMs + (s.activity === "idle" ? open : 0),
    waitingMs: s.metrics.waitingMs + waiting,
  }
}

export const applyActivity = (s: RunnerState, state: ActivityState, at: number): RunnerState => {
  if (state === s.activity) return s
  const spent = Math.max(0, at - s.activitySince)
  return {
    ...s,
    activity: state,
    activitySince: at,
    metrics: {
      ...s.metrics,
      activeMs: s.metrics.activeMs + (s.activity === "active" ? spent : 0),
      idleMs: s.metrics.idleMs + (s.activity === "idle" ? spent : 0),
    },
  }
}

export interface Attention {
  readonly waitingForInput: boolean
  readonly reason?: string | undefined
  readonly answers?: ReadonlyArray<ScreenAnswer> | undefined
  readonly ruleId?: string | undefined
  readonly detail?: string | undefined
  readonly fingerprint?: string | undefined
  readonly yes?: ScreenAnswer | undefined
}

/** The prompt a runner's state shows, in the detector's terms (a restart starts from it). */
export const attentionOf = (s: RunnerState): AttentionState =>
  s.waitingForInput
    ? {
        waitingForInput: true,
        ...opt("reason", s.attentionReason),
        ...opt("answers", s.answers),
        ...opt("ruleId", s.attentionRuleId),
        ...opt("detail", s.attentionDetail),
        ...opt("fingerprint", s.attentionFingerprint),
        ...opt("yes", s.attentionYes),
      }
    : { waitingForInput: false }

/** A detector transition; counts each entry into waiting once, and the time spent there. */
export const applyAttention = (s: RunnerState, a: Attention, at: number): RunnerState => {
  const wasWaiting = s.waitingForInput
  const closed =
    wasWaiting && s.attentionSince !== undefined ? Math.max(0, at - s.attentionSince) : 0
  const {
    attentionReason: _r,
    attentionSince: _s,
    answers: _a,
    attentionId: _i,
    attentionRuleId: _u,
    attentionDetail: _d,
    attentionFingerprint: _f,
    attentionYes: _y,
    ...rest
  } = s
  const metrics = {
    ...s.metrics,
    waitingMs: s.metrics.waitingMs + closed,
    attentionCount: s.metrics.attentionCount + (a.waitingForInput ? 1 : 0),
  }
  if (!a.waitingForInput) return { ...rest, waitingForInput: false, metrics }
  return {
    ...rest,
    waitingForInput: true,
    ...opt("attentionReason", a.reason),
    attentionSince: at,
    ...opt("answers", a.answers),
    // Each prompt entered is counted once: its count is its id, unique within the runner and
    // kept by the journal, so a reply or a push made before a restart still names it.
    attentionId: `a${metrics.attentionCount}`,
    ...opt("attentionRuleId", a.ruleId),
    ...opt("attentionDetail", a.detail),
    ...opt("attentionFingerprint", a.fingerprint),
    ...opt("attentionYes", a.yes),
    metrics,
  }
}

/** The process ended (or vanished): the runner is finished for good. */
export const applyExit = (
  s: RunnerState,
  exit: { readonly exitCode: number | null; readonly signal: string | null },
  at: number,
): RunnerState => {
  const closed = applyAttention(
    applyActivity(dismissBudgetNotice(s), "idle", at),
    { waitingForInput: false },
    at,
  )
  const exitCode = exit.exitCode ?? undefined
  const signal = exit.signal ?? undefined
  const ended = {
    ...closed,
    live: false,
    paused: false,
    endedAt: at,
    ...opt("exitCode", exitCode),
    ...opt("signal", signal),
  }
  const failureReason = failureReasonOf(ended)
  return {
    ...ended,
    ...opt("failureReason", failureReason),
    metrics: {
      ...closed.metrics,
      endedAt: at,
      ...opt("exitCode", exitCode),
    },
  }
}

/** A runner just started (or adopted) at `at`. */
export const newRunnerState = (input: {
  readonly id: string
  readonly name: string
  readonly provider: string
  readonly mode: ProviderMode
  readonly cwd: string
  readonly prompt?: string | undefined
  readonly accountId?: string | undefined
  readonly maxDurationMs?: number | undefined
  readonly adopted: boolean
  readonly at: number
  readonly bytesOut?: number
  readonly cols?: number | undefined
  readonly rows?: number | undefined
  readonly workspace?: WorkspaceState | undefined
  readonly scheduleId?: string | undefined
  readonly parentId?: string | undefined
  readonly autoApprove?: { readonly allow: ReadonlyArray<string> } | undefined
}): RunnerState => ({
  id: input.id,
  name: input.name,
  provider: input.provider,
  mode: input.mode,
  cwd: input.cwd,
  ...opt("prompt", input.prompt),
  ...opt("accountId", input.accountId),
  ...opt("maxDurationMs", input.maxDurationMs),
  adopted: input.adopted,
  ...opt("cols", input.cols),
  ...opt("rows", input.rows),
  ...opt("workspace", input.workspace),
  ...opt("scheduleId", input.scheduleId),
  ...opt("parentId", input.parentId),
  ...opt("autoApprove", input.autoApprove),
  createdAt: input.at,
  startedAt: input.at,
  live: true,
  paused: false,
  activity: "active",
  activitySince: input.at,
  waitingForInput: false,
  metrics: {
    bytesOut: input.bytesOut ?? 0,
    lines: 0,
    startedAt: input.at,
    activeMs: 0,
    idleMs: 0,
    attentionCount: 0,
    waitingMs: 0,
  },
})
