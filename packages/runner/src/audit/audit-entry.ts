import { AUDIT_ACTIONS } from "@geppetto/protocol"
import { Schema } from "effect"

/**
 * What the audit trail records: who did what, when, to which runner. The rule that the store
 * cannot check but every caller must keep: **never keystroke content**. Typing into a runner is
 * recorded per burst as a byte count (`inputBurst`); `detail` is a short human note (a runner's
 * name, a branch, a cron expression), never what was typed, a token or a file's contents.
 */
export const AuditAction = Schema.Literal(...AUDIT_ACTIONS)
export type AuditAction = typeof AuditAction.Type

/** Bounds of the text fields, in UTF-16 code units; longer text is cut (see `cutText`). */
export const AUDIT_DETAIL_MAX = 500
export const AUDIT_USER_MAX = 200
export const AUDIT_RUNNER_ID_MAX = 200
export const AUDIT_ADDRESS_MAX = 200

/** One entry of the trail. `at` is ms since the epoch, stamped by the store. */
export const AuditEntry = Schema.Struct({
  at: Schema.Number,
  user: Schema.String.pipe(Schema.maxLength(AUDIT_USER_MAX)),
  action: AuditAction,
  runnerId: Schema.optional(Schema.String.pipe(Schema.maxLength(AUDIT_RUNNER_ID_MAX))),
  detail: Schema.optional(Schema.String.pipe(Schema.maxLength(AUDIT_DETAIL_MAX))),
  /** The client's address, for `login` / `login.failed`. */
  address: Schema.optional(Schema.String.pipe(Schema.maxLength(AUDIT_ADDRESS_MAX))),
})
export type AuditEntry = typeof AuditEntry.Type

/** What a caller records; the store stamps `at`. */
export type AuditInput = Omit<AuditEntry, "at">

/** The detail of a `runner.input` entry: a byte count and nothing else. */
const INPUT_DETAIL = /^[0-9]{1,15} bytes$/

/**
 * A burst of typing into a runner: the number of bytes, never the bytes. The only way a
 * `runner.input` entry should be made; the store drops any other detail on such an entry.
 */
export const inputBurst = (options: {
  readonly user: string
  readonly runnerId: string
  readonly bytes: number
  readonly address?: string
}): AuditInput => ({
  user: options.user,
  action: "runner.input",
  runnerId: options.runnerId,
  detail: `${Math.max(0, Math.floor(options.bytes))} bytes`,
  ...(options.address === undefined ? {} : { address: options.address }),
})

// C0 controls, DEL and C1 controls. JSON escapes them, so they cannot break a line of the trail,
// but the trail is printed by `geppetto audit` in terminals, where ESC sequences would be live.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/**
 * `text` with control characters replaced by U+FFFD and cut to `max` code units: the last kept
 * unit is `…`, and a surrogate pair is never split.
 */
export const cutText = (text: string, max: number): string => {
  const clean = text.replace(CONTROL, "\ufffd")
  if (clean.length <= max) return clean
  let end = max - 1
  const last = clean.charCodeAt(end - 1)
  if (last >= 0xd800 && last <= 0xdbff) end--
  return `${clean.slice(0, end)}…`
}

/** The entry as stored: text fields cleaned and bounded, `runner.input` reduced to its count. */
export const normalizeEntry = (input: AuditInput, at: number): AuditEntry => {
  const detail =
    input.detail === undefined ||
    (input.action === "runner.input" && !INPUT_DETAIL.test(input.detail))
      ? undefined
      : cutText(input.detail, AUDIT_DETAIL_MAX)
  return {
    at,
    user: cutText(input.user, AUDIT_USER_MAX),
    action: input.action,
    ...(input.runnerId === undefined
      ? {}
      : { runnerId: cutText(input.runnerId, AUDIT_RUNNER_ID_MAX) }),
    ...(detail === undefined ? {} : { detail }),
    ...(input.address === undefined ? {} : { address: cutText(input.address, AUDIT_ADDRESS_MAX) }),
  }
}

/** Which entries a query or a follower wants; every given field must match. */
export interface AuditFilter {
  readonly user?: string
  readonly runnerId?: string
  readonly action?: AuditAction
  /** Only entries with `at >= since` (ms). */
  readonly since?: number
}

export const matchesFilter = (entry: AuditEntry, filter: AuditFilter): boolean =>
  (filter.user === undefined || entry.user === filter.user) &&
  (filter.runnerId === undefined || entry.runnerId === filter.runnerId) &&
  (filter.action === undefined || entry.action === filter.action) &&
  (filter.since === undefined || entry.at >= filter.since)
