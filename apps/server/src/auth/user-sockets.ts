import type { WebSocket } from "ws"

/** The close code a removed user's sockets get: an application code (4000–4999) echoing 401. */
export const REVOKED_CLOSE_CODE = 4401
/**
 * How long a revoked socket's peer has to answer the close frame before the connection is cut:
 * under the contract's 1 s, so even a peer that never answers is gone within it.
 */
const CLOSE_GRACE_MS = 500

/**
 * Every open WebSocket by the user it was opened as, so that removing a user closes theirs at
 * once. A socket leaves the set when it closes; memory is bounded by the open sockets.
 */
export class UserSockets {
  private readonly byUser = new Map<string, Set<WebSocket>>()
  private readonly watchers = new Map<string, Set<() => void>>()

  /**
   * `listener` runs each time `user` is removed or their role changes (`changed`): for what is
   * open as the user and is not a WebSocket (a followed HTTP stream). Returns its removal.
   */
  onChange(user: string, listener: () => void): () => void {
    let set = this.watchers.get(user)
    if (set === undefined) {
      set = new Set()
      this.watchers.set(user, set)
    }
    set.add(listener)
    return () => {
      const current = this.watchers.get(user)
      current?.delete(listener)
      if (current?.size === 0) this.watchers.delete(user)
    }
  }

  /** `user` was removed or given another role: their `onChange` listeners run. */
  changed(user: string): void {
    for (const listener of [...(this.watchers.get(user) ?? [])]) listener()
  }

  track(user: string, socket: WebSocket): void {
    let set = this.byUser.get(user)
    if (set === undefined) {
      set = new Set()
      this.byUser.set(user, set)
    }
    set.add(socket)
    socket.once("close", () => {
      const current = this.byUser.get(user)
      current?.delete(socket)
      if (current?.size === 0) this.byUser.delete(user)
    })
  }

  /** How many sockets `user` has open. */
  count(user: string): number {
    return this.byUser.get(user)?.size ?? 0
  }

  /** Closes each of `user`'s sockets with `REVOKED_CLOSE_CODE`; returns how many there were. */
  revoke(user: string, reason: string): number {
    this.changed(user)
    const set = this.byUser.get(user)
    if (set === undefined) return 0
    const sockets = [...set]
    for (const socket of sockets) closeRevoked(socket, reason)
    return sockets.length
  }
}

/** Closes one socket with `REVOKED_CLOSE_CODE`, and cuts it if the peer does not answer. */
export const closeRevoked = (socket: WebSocket, reason: string): void => {
  socket.close(REVOKED_CLOSE_CODE, reason)
  const cut = setTimeout(() => {
    if (socket.readyState !== socket.CLOSED) socket.terminate()
  }, CLOSE_GRACE_MS)
  cut.unref()
  socket.once("close", () => clearTimeout(cut))
}
