import * as z from "zod/mini"
import { RunnerId } from "./ids.js"
import { Role } from "./role.js"
import { UserName } from "./users.js"

// ---------------------------------------------------------------------------------------
// The audit trail: GET /api/audit

/** Every action of the trail: one list, for the wire and for the runner package's store. */
export const AUDIT_ACTIONS = [
  "login",
  "login.failed",
  "runner.start",
  "runner.pause",
  "runner.resume",
  "runner.terminate",
  "runner.remove",
  "runner.input",
  "runner.reply",
  "runner.auto-approve",
  "session.adopt",
  "workspace.commit",
  "workspace.merge",
  "user.add",
  "user.role",
  "user.remove",
  "schedule.add",
  "schedule.remove",
  "schedule.pause",
  "schedule.resume",
] as const

/** What the audit trail records. */
export const AuditAction = z.enum(AUDIT_ACTIONS)
export type AuditAction = z.infer<typeof AuditAction>

/**
 * One entry of the trail. `at` is epoch milliseconds; `user` is who acted (on `login.failed`,
 * `anonymous`: what the client offered is never recorded, only its `address`).
 * `detail` is a short note, never keystroke content: `runner.input` says only `N bytes`.
 */
export const AuditEntry = z.object({
  at: z.int().check(z.nonnegative()),
  user: z.string(),
  action: AuditAction,
  runnerId: z.optional(z.string()),
  detail: z.optional(z.string()),
  /** The client's address, on `login` and `login.failed`. */
  address: z.optional(z.string()),
})
export type AuditEntry = z.infer<typeof AuditEntry>

export const AUDIT_LIMIT_MAX = 1000

/**
 * `GET /api/audit?user=&runner=&action=&limit=&follow=` (admins). `limit` is 1..1000
 * (default 100). `follow=true` answers `application/x-ndjson`: the newest `limit` matching
 * entries oldest first, then each new one as it is recorded, one JSON `AuditEntry` per line.
 */
export const AuditQuery = z.strictObject({
  user: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
  runner: z.optional(RunnerId),
  action: z.optional(AuditAction),
  limit: z.optional(
    z.pipe(
      z.pipe(
        z.string().check(z.regex(/^[0-9]{1,4}$/, "must be a whole number from 1 to 1000")),
        z.transform(Number),
      ),
      z.int().check(z.minimum(1), z.maximum(AUDIT_LIMIT_MAX)),
    ),
  ),
  follow: z.optional(z.enum(["true", "false", "1", "0"])),
})
export type AuditQuery = z.infer<typeof AuditQuery>

/** `200` of `GET /api/audit`: newest first. */
export const AuditResponse = z.object({ entries: z.array(AuditEntry) })
export type AuditResponse = z.infer<typeof AuditResponse>

// ---------------------------------------------------------------------------------------
// Presence

/**
 * Someone with the runner's terminal open: once per user however many tabs they have.
 * `since` is epoch ms of their earliest open socket; `typing` is true while they typed in the
 * last few seconds.
 */
export const Viewer = z.object({
  user: UserName,
  role: Role,
  since: z.int().check(z.nonnegative()),
  typing: z.boolean(),
})
export type Viewer = z.infer<typeof Viewer>

/** On `/api/events`: the runner's viewers changed (an empty list: nobody is watching now). */
export const PresenceMessage = z.object({
  type: z.literal("presence"),
  runnerId: RunnerId,
  viewers: z.array(Viewer),
})
export type PresenceMessage = z.infer<typeof PresenceMessage>
