import { z } from "zod"
import { RunnerId } from "./ids.js"
import { ActivityState, AttentionReason, RunnerStatus } from "./process-event.js"

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
  attentionReason: AttentionReason.optional(),
  cwd: z.string(),
  prompt: z.string().optional(),
  createdAt: z.number().int(),
  startedAt: z.number().int().optional(),
  endedAt: z.number().int().optional(),
  exitCode: z.number().int().optional(),
  failureReason: z.string().optional(),
  bytesOut: z.number().int().nonnegative(),
  /** The last non-blank line of output, escape sequences removed (for the board's cards). */
  lastLine: z.string().max(500).optional(),
})
export type RunnerSummary = z.infer<typeof RunnerSummary>
