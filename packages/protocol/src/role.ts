import * as z from "zod/mini"

/**
 * `viewer < operator < admin`: a viewer reads and watches; an operator may do everything to
 * runners; an admin is an operator who also manages users and reads the audit trail.
 */
export const Role = z.enum(["viewer", "operator", "admin"])
export type Role = z.infer<typeof Role>
