import type { WebSocket } from "ws"

/** Close code for "the server is going away" (shutdown). */
export const GOING_AWAY = 1001

/**
 * How long a client has to answer the close frame. One that never reads (a stuck browser tab,
 * a paused script) never sees the frame; `ws` would wait 30 s for it, and `app.close()` with it.
 */
export const CLOSE_GRACE_MS = 2_000

/**
 * Sends every socket a 1001 close and cuts those that have not answered within `graceMs`.
 * Returns at once: shutdown goes on to stop listening, so a client that reconnects on the
 * 1001 finds the port closed (and retries) instead of a server half-way through closing.
 * The runners are not touched: they live on in tmux.
 */
export const closeGoingAway = (clients: Iterable<WebSocket>, graceMs = CLOSE_GRACE_MS): void => {
  const open = [...clients].filter((c) => c.readyState !== c.CLOSED)
  if (open.length === 0) return
  let left = open.length
  const timer = setTimeout(() => {
    for (const client of open) client.terminate()
  }, graceMs)
  for (const client of open) {
    client.once("close", () => {
      left--
      if (left === 0) clearTimeout(timer)
    })
    client.close(GOING_AWAY, "server shutting down")
  }
}
