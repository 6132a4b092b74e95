import type { RunnerStatus } from "@geppetto/protocol"

/** What a status looks like: the icon and colour key, the word, and the waiting reason. */
export interface StatusView {
  readonly tone: "waiting" | "running" | "ready" | "paused" | "completed" | "failed"
  readonly word: string
  readonly reason: string | undefined
}

interface StatusLike {
  readonly status: RunnerStatus
  readonly waitingForInput: boolean
  readonly attentionReason?: string | undefined
}

const REASONS: Readonly<Record<string, string>> = {
  permission: "permission",
  question: "question",
  ready: "ready for a prompt",
  bell: "bell",
}

/**
 * Waiting outranks the status word while the runner is live; `idle` (an agent back at its
 * prompt) reads "Ready".
 */
export const statusView = (r: StatusLike): StatusView => {
  const live = r.status === "running" || r.status === "idle" || r.status === "paused"
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
