import { tmuxServerArgs } from "./one-off.js"

/**
 * The argv after `tmux` that attaches a terminal to session `name` on the server `socket`
 * (`undefined`: tmux's default server): `[-L SOCKET] attach -t =NAME`. `=` makes tmux match
 * the name exactly rather than as a prefix. For `spawn("tmux", argv)`, never a shell; the
 * caller checks `name` and `socket` against their schemas (`SessionName`, `TmuxSocketName`).
 */
export const tmuxAttachArgs = (socket: string | undefined, name: string): ReadonlyArray<string> => [
  ...tmuxServerArgs(socket),
  "attach",
  "-t",
  `=${name}`,
]
