import type { WebSocket, WebSocketServer } from "ws"

/** How often every open WebSocket is pinged; one silent for two of these is closed. */
export const HEARTBEAT_MS = 30_000

/**
 * Pings every open WebSocket each `intervalMs` and cuts (`terminate`) one that has not
 * answered the previous ping: a laptop put to sleep or a network gone leaves a half-open
 * connection that would otherwise hold its presence seat ("alice is watching") and its buffers
 * until TCP gives up, hours later. Browsers answer pings themselves, in background tabs too.
 * A socket with output still queued in our process is spared: a viewer far behind (a slow link
 * under a flood) reads the ping only after that output, and flow control already bounds it.
 * Returns the stopper.
 */
export const startHeartbeat = (
  server: WebSocketServer,
  intervalMs = HEARTBEAT_MS,
): (() => void) => {
  const answered = new WeakMap<WebSocket, boolean>()
  const onConnection = (socket: WebSocket) => {
    answered.set(socket, true)
    socket.on("pong", () => answered.set(socket, true))
  }
  server.on("connection", onConnection)
  const timer = setInterval(() => {
    for (const socket of server.clients) {
      if (socket.readyState !== socket.OPEN) continue
      if (answered.get(socket) === false && socket.bufferedAmount === 0) {
        socket.terminate()
        continue
      }
      answered.set(socket, false)
      socket.ping()
    }
  }, intervalMs)
  timer.unref()
  return () => {
    clearInterval(timer)
    server.off("connection", onConnection)
  }
}
