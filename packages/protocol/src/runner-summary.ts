import * as z from "zod/mini"
import { RunnerId } from "./ids.js"
import { ActivityState, AttentionReason, RunnerStatus } from "./process-event.js"
import { Workspace } from "./workspace.js"

export const RunnerMode = z.enum(["interactive", "oneshot"])
export type RunnerMode = z.infer<typeof RunnerMode>

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
})
export type RunnerSummary = z.infer<typeof RunnerSummary>
