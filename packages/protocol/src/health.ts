import * as z from "zod/mini"

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
    ok: z.optional(z.boolean()),
    error: z.optional(z.string()),
    /** Since when tmux has been unreachable (ms since the epoch). */
    since: z.optional(z.int().check(z.nonnegative())),
  }),
})
export type HealthResponse = z.infer<typeof HealthResponse>

/** The one JSON shape of every error response. */
export const ErrorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    /** `GitOperationError` of a refused merge: the files in conflict. */
    conflicts: z.optional(z.array(z.string())),
  }),
})
export type ErrorResponse = z.infer<typeof ErrorResponse>
