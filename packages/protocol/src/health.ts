import { z } from "zod"

/** `GET /api/health`: answered without auth, so it carries nothing secret. */
export const HealthResponse = z.object({
  status: z.literal("ok"),
  version: z.string(),
  tmux: z.object({ version: z.string() }),
})
export type HealthResponse = z.infer<typeof HealthResponse>

/** The one JSON shape of every error response. */
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
})
export type ErrorResponse = z.infer<typeof ErrorResponse>
