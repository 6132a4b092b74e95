import { z } from "zod"

/** `GET /api/health`: answered without auth, so it carries nothing secret. */
export const HealthResponse = z.object({
  /** The HTTP server answers; what it depends on is told apart below. */
  status: z.literal("ok"),
  version: z.string(),
  tmux: z.object({
    version: z.string(),
    /**
     * Whether the tmux server answers our control client. `false` once it is gone (killed,
     * crashed) until a new runner starts one again or someone else does; `error` says why.
     * Absent from servers older than this field.
     */
    ok: z.boolean().optional(),
    error: z.string().optional(),
    /** Since when tmux has been unreachable (ms since the epoch). */
    since: z.number().int().nonnegative().optional(),
  }),
})
export type HealthResponse = z.infer<typeof HealthResponse>

/** The one JSON shape of every error response. */
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
})
export type ErrorResponse = z.infer<typeof ErrorResponse>
