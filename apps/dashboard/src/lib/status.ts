import type { RunnerStatus } from "@geppetto/protocol"

/** What a status looks like: the icon and colour key, the word, and the waiting reason. */
export interface StatusView {
  readonly tone: "waiting" | "budget" | "running" | "ready" | "paused" | "completed" | "failed"
  readonly word: string
  readonly reason: string | undefined
}

interface StatusLike {
  readonly status: RunnerStatus
  readonly waitingForInput: boolean
  readonly attentionReason?: string | undefined
}

const isLiveStatus = (status: RunnerStatus): boolean =>
  status === "running" || status === "idle" || status === "paused"

/** Still running: not ended (a paused runner is live). */
export const isLive = (r: Pick<StatusLike, "status">): boolean => isLiveStatus(r.status)

/** Live and waiting for a person: a prompt, a question, back at its prompt, a budget notice. */
export const isWaiting = (r: Pick<StatusLike, "status" | "waitingForInput">): boolean =>
  r.waitingForInput && isLive(r)

type WaitingLike = Pick<StatusLike, "status" | "waitingForInput"> & {
  readonly attentionId?: string | undefined
}

/**
 * Whether `runner` now waits on a prompt it did not wait on `before`: newly waiting, or
 * waiting on another prompt (a new `attentionId`) with no step out of waiting between, as
 * from a budget notice straight to a permission prompt.
 */
export const newlyWaiting = (before: WaitingLike | undefined, runner: WaitingLike): boolean => {
  if (!isWaiting(runner)) return false
  if (before === undefined || !isWaiting(before)) return true
  return runner.attentionId !== undefined && runner.attentionId !== before.attentionId
}

/**
 * A budget notice (attention reason `budget`): a live runner's usage went over a budget. It is
 * no prompt — the server offers no answer and refuses a reply with 400 — so it gets no quick
 * replies and is not drawn as one; `attentionDetail` names the budget (config text, shown as
 * plain text).
 */
export const isBudgetNotice = (r: StatusLike): boolean =>
  isLiveStatus(r.status) && r.waitingForInput && r.attentionReason === "budget"

/** What to announce (a browser notification) when a runner starts waiting. */
export const announcement = (
  r: StatusLike & {
    readonly name: string
    readonly provider: string
    readonly attentionDetail?: string | undefined
  },
): { readonly title: string; readonly body: string } => {
  if (isBudgetNotice(r)) {
    return {
      title: `${r.name} is over budget`,
      body: `${r.attentionDetail ?? "A budget is spent"}. It keeps running · ${r.provider}`,
    }
  }
  const reason = statusView(r).reason
  return {
    title: `${r.name} is waiting for you`,
    body: reason === undefined ? r.provider : `${reason} · ${r.provider}`,
  }
}

const REASONS: Readonly<Record<string, string>> = {
  permission: "permission",
  question: "question",
  ready: "ready for a prompt",
  bell: "bell",
  budget: "over budget",
}

/**
 * Waiting outranks the status word while the runner is live; `idle` (an agent back at its
 * prompt) reads "Ready"; a budget notice reads "Over budget", in a tone of its own.
 */
export const statusView = (r: StatusLike): StatusView => {
  const live = isLiveStatus(r.status)
  if (isBudgetNotice(r)) return { tone: "budget", word: "Over budget", reason: undefined }
  if (live && r.waitingForInput) {
    const reason = r.attentionReason
    return {
      tone: "waiting",
      word: "Waiting",
      reason: reason === undefined ? undefined : (REASONS[reason] ?? reason),
    }
  }
  switch (r.status) {
    case "running":
      return { tone: "running", word: "Running", reason: undefined }
    case "idle":
      return { tone: "ready", word: "Ready", reason: undefined }
    case "paused":
      return { tone: "paused", word: "Paused", reason: undefined }
    case "completed":
      return { tone: "completed", word: "Completed", reason: undefined }
    case "failed":
      return { tone: "failed", word: "Failed", reason: undefined }
  }
}

/** The board's status filter: the statuses plus "waiting". */
export const STATUS_FILTERS = [
  { value: "all", label: "All" },
  { value: "waiting", label: "Waiting for you" },
  { value: "live", label: "Live" },
  { value: "running", label: "Running" },
  { value: "idle", label: "Ready" },
  { value: "paused", label: "Paused" },
  { value: "completed", label: "Completed" },
  { value: "failed", label: "Failed" },
] as const

export type StatusFilter = (typeof STATUS_FILTERS)[number]["value"]
