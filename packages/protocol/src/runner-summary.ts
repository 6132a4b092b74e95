import * as z from "zod/mini"
import { RunnerId } from "./ids.js"
import { ActivityState, AttentionReason, RunnerStatus } from "./process-event.js"
import { RunnerUsage } from "./transcript.js"
import { Workspace } from "./workspace.js"

export const RunnerMode = z.enum(["interactive", "oneshot"])
export type RunnerMode = z.infer<typeof RunnerMode>

/** Patterns of an `autoApprove.allow`: at most 50, each at most 500 characters, each compiles. */
export const MAX_AUTO_APPROVE_PATTERNS = 50
/** Whether `source` compiles as a JavaScript regular expression with the `u` flag. */
export const compilesAsRegex = (source: string): boolean => {
  try {
    new RegExp(source, "u")
    return true
  } catch {
    return false
  }
}
const ApprovePattern = z.string().check(
  z.minLength(1),
  z.maxLength(500),
  z.refine(compilesAsRegex, {
    message: "must be a valid regular expression (JavaScript, u flag)",
  }),
)

/**
 * Answer a permission prompt with its rule's "yes" only when what it asks for
 * (`attentionDetail`) matches one of `allow` as a whole (`^(?:PATTERN)$`).
 */
export const AutoApprove = z.strictObject({
  allow: z.array(ApprovePattern).check(z.minLength(1), z.maxLength(MAX_AUTO_APPROVE_PATTERNS)),
})
export type AutoApprove = z.infer<typeof AutoApprove>

/** What the board, the CLI and the API show for one runner, live or finished. */
export const RunnerSummary = z.object({
  id: RunnerId,
  name: z.string(),
  provider: z.string(),
  mode: RunnerMode,
  status: RunnerStatus,
  activity: ActivityState,
  waitingForInput: z.boolean(),
  attentionReason: z.optional(AttentionReason),
  /**
   * While waiting: which prompt it waits on. A new prompt (or the same dialog changed) gets a
   * new id; `POST /api/runners/:id/reply` answers only while the id is still this one.
   */
  attentionId: z.optional(z.string()),
  /**
   * While a permission prompt waits: what it asks for, as its rule extracts it (`npm test`).
   * With a `budget` notice: the budget spent and how much.
   */
  attentionDetail: z.optional(z.string()),
  cwd: z.string(),
  prompt: z.optional(z.string()),
  createdAt: z.int(),
  startedAt: z.optional(z.int()),
  endedAt: z.optional(z.int()),
  exitCode: z.optional(z.int()),
  failureReason: z.optional(z.string()),
  bytesOut: z.int().check(z.nonnegative()),
  /** The last non-blank line of output, escape sequences removed (for the board's cards). */
  lastLine: z.optional(z.string().check(z.maxLength(500))),
  /** Where the runner works in git, when its `cwd` lies in a git work tree. */
  workspace: z.optional(Workspace),
  /** The permission prompts answered for a person (see `AutoApprove`). */
  autoApprove: z.optional(AutoApprove),
  /** The schedule that started it (`POST /api/schedules`). */
  scheduleId: z.optional(z.string()),
  /** The runner whose agent conversation this one continues or forks (`StartRunnerRequest.resume`). */
  parentId: z.optional(z.string()),
  /**
   * Tokens and cost read from the agent's own session file (Claude Code, Codex, Gemini CLI, Qwen
   * Code); pushed as it grows. A session that runners continue (`parentId`) is counted once: each
   * runner counts what the agent reported between its start and its end.
   */
  usage: z.optional(RunnerUsage),
})
export type RunnerSummary = z.infer<typeof RunnerSummary>

/**
 * What a terminal socket's `status` frame says (status, waiting, why), as one key: a change of
 * it is news (a status frame; the runner page asks for the detail again), a repeat is not.
 */
export const statusKey = (
  r: Pick<RunnerSummary, "status" | "waitingForInput" | "attentionReason">,
): string => `${r.status}|${r.waitingForInput}|${r.attentionReason ?? ""}`
