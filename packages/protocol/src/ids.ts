import * as z from "zod/mini"

/**
 * The one pattern every id that reaches a tmux target or a path obeys.
 * Letters, digits, `_`, `.` and `-`; 1 to 64 characters. Ids never start with `-` or `.`,
 * so they cannot be mistaken for a flag or a relative path segment.
 */
export const SAFE_ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/

/** A runner's id: URL-safe, unique, also the name of its folder under the data dir. */
export const RunnerId = z
  .string()
  .check(z.regex(SAFE_ID_PATTERN, "must match [A-Za-z0-9_.-]{1,64}"))
export type RunnerId = z.infer<typeof RunnerId>

/**
 * A tmux session name we create or adopt. tmux rewrites `.` and `:` in session names to `_`
 * (tmux 3.3 `session_check_name`), so names we create never contain them.
 */
export const SessionName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/, "must match [A-Za-z0-9_-]{1,64}"))
export type SessionName = z.infer<typeof SessionName>

/**
 * A tmux server's `-L` name: tmux makes it a file name in its socket folder
 * (`$TMUX_TMPDIR/tmux-UID/NAME`), so no `/`, and no leading `-` or `.`.
 */
export const TmuxSocketName = z
  .string()
  .check(z.regex(SAFE_ID_PATTERN, "must match [A-Za-z0-9_.-]{1,64}"))
export type TmuxSocketName = z.infer<typeof TmuxSocketName>

/** A tmux pane id as tmux prints it, e.g. `%12`. */
export const PaneId = z.string().check(z.regex(/^%[0-9]{1,9}$/, "must be a tmux pane id like %3"))
export type PaneId = z.infer<typeof PaneId>
