import { join } from "node:path"

/**
 * The folder tmux keeps this user's server sockets in: `$TMUX_TMPDIR/tmux-UID`, with
 * `TMUX_TMPDIR` unset or empty meaning `/tmp` (tmux 3.x `expand_paths` / `_PATH_TMP`).
 */
export const tmuxSocketDir = (
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.getuid?.() ?? 0,
): string => join(env.TMUX_TMPDIR || "/tmp", `tmux-${uid}`)

/**
 * The socket file of the tmux server `tmux -L socket` talks to; `undefined` is tmux's
 * default server (`-L default`). The file can outlive its server (tmux leaves it behind when
 * killed), so its presence alone does not say a server is running.
 */
export const tmuxSocketPath = (
  socket: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  uid?: number,
): string => join(tmuxSocketDir(env, uid), socket ?? "default")

/** How a person names that server: `tmux -L NAME`, or `the default tmux server`. */
export const tmuxServerLabel = (socket: string | undefined): string =>
  socket === undefined ? "the default tmux server" : `tmux -L ${socket}`
