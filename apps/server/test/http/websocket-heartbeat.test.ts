import type { AddressInfo } from "node:net"
import { afterEach, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { buildApp } from "../../src/app.js"
import { bearer, testAuth } from "../helpers/auth.js"
import { waitFor } from "../helpers/server.js"

/*
 * Half-open sockets: a client that stops answering pings (a laptop asleep, a network gone) is
 * cut by the server; one that answers (every browser does, by itself) stays. A real app on a
 * loopback port with a short heartbeat; `ws` clients, one with its automatic pong turned off.
 */
const HEARTBEAT_MS = 100
const closers: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

const serve = async () => {
  const app = await buildApp({ tmuxVersion: "3.3a", auth: testAuth, heartbeatMs: HEARTBEAT_MS })
  app.get("/api/test/ws", { websocket: true, config: { auth: "viewer" } }, (socket) => {
    socket.send("hello")
  })
  await app.listen({ host: "127.0.0.1", port: 0 })
  closers.push(() => app.close())
  return `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/api/test/ws`
}

const open = (url: string, autoPong: boolean) =>
  new Promise<{ socket: WebSocket; pings: () => number; closed: () => number | undefined }>(
    (resolve, reject) => {
      const socket = new WebSocket(url, { headers: bearer("viewer"), autoPong })
      let pings = 0
      let closed: number | undefined
      socket.on("ping", () => pings++)
      socket.on("close", (code) => {
        closed = code
      })
      socket.on("error", reject)
      socket.once("message", () => resolve({ socket, pings: () => pings, closed: () => closed }))
      closers.push(async () => socket.terminate())
    },
  )

describe("the WebSocket heartbeat", () => {
  it("cuts a socket that stops answering pings, and keeps one that answers", async () => {
    const url = await serve()
    const answering = await open(url, true)
    const silent = await open(url, false)
    // Cut with no close frame (the peer is presumed gone): 1006 on this side.
    const code = await waitFor(silent.closed, "the silent socket cut", 10_000)
    expect(code).toBe(1006)
    expect(silent.pings()).toBeGreaterThanOrEqual(1)
    // The answering one lives on through more rounds of pings.
    const seen = answering.pings()
    await waitFor(() => answering.pings() >= seen + 3, "three more pings answered", 10_000)
    expect(answering.closed()).toBeUndefined()
    expect(answering.socket.readyState).toBe(WebSocket.OPEN)
  })
})
