import * as z from "zod/mini"
import { Role } from "./role.js"

/**
 * A user name: a lowercase ASCII letter, then up to 31 of `a-z 0-9 _ -`. ASCII only, so no
 * path separator, dot or lookalike letter (a Cyrillic `а` for `a`) ever names a user.
 * `owner` and `viewer` are the server's built-in users and cannot be added or removed.
 */
export const UserName = z
  .string()
  .check(
    z.maxLength(32),
    z.regex(/^[a-z][a-z0-9_-]{0,31}$/, "must match ^[a-z][a-z0-9_-]{0,31}$ (ASCII only)"),
  )
export type UserName = z.infer<typeof UserName>

/** `POST /api/users`: a new user; the answer carries their token, shown this once. */
export const CreateUserRequest = z.strictObject({ name: UserName, role: Role })
export type CreateUserRequest = z.infer<typeof CreateUserRequest>

/** `201` of `POST /api/users`. The server keeps only a hash of `token`: it cannot show it again. */
export const CreatedUser = z.object({
  name: UserName,
  role: Role,
  /** 32 random bytes, base64url: the user's bearer token and login link (`/?token=`). */
  token: z.string(),
})
export type CreatedUser = z.infer<typeof CreatedUser>

/** `PATCH /api/users/:name`: a new role, applied from the user's next request and frame. */
export const UpdateUserRequest = z.strictObject({ role: Role })
export type UpdateUserRequest = z.infer<typeof UpdateUserRequest>

/** Path parameters of `/api/users/:name`. */
export const UserParams = z.strictObject({ name: UserName })
export type UserParams = z.infer<typeof UserParams>

/** One entry of `GET /api/users` (and the answer of `PATCH /api/users/:name`). */
export const UserInfo = z.object({
  name: UserName,
  role: Role,
  /** ISO 8601; for a built-in user, when this server started. */
  createdAt: z.string(),
  /** ISO 8601, to the minute: the user's last authenticated request. */
  lastSeenAt: z.optional(z.string()),
  /** `owner` and `viewer`, whose tokens come from the environment or `tokens.json`. */
  builtin: z.optional(z.boolean()),
})
export type UserInfo = z.infer<typeof UserInfo>
