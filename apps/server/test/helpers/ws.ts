import type { Socket } from "node:net"
import { decodeOutputFrame } from "@geppetto/protocol"
import { WebSocket } from "ws"
import { waitFor } from "./server.js"

export type Frame =
  | { readonly kind: "json"; readonly value: Record<string, unknown> }
  | { readonly kind: "binary"; readonly offset: number; readonly bytes: Buffer }

/** How an upgrade ended: the socket opened, or the server answered with an HTTP status. */
export type UpgradeResult =
  | { readonly opened: true; readonly socket: WebSocket }
  | {
      readonly opened: false
      readonly status: number
      readonly body: string
      /** Resolves once the server has closed the connection (this client never does). */
      readonly hungUp: Promise<void>
    }

/**
 * Tries a WebSocket upgrade over a real loopback connection. A refusal resolves with the
 * HTTP status and body rather than rejecting, so tests can assert on it.
 */
export const upgrade = (
  url: string,
  headers: Record<string, string> = {},
): Promise<UpgradeResult> =>
  new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers, perMessageDeflate: false })
    socket.once("open", () => resolve({ opened: true, socket }))
    socket.once("unexpected-response", (_request, response) => {
      const chunks: Buffer[] = []
      const tcp = response.socket
      const hungUp = new Promise<void>((closed) => {
        if (tcp.destroyed) closed()
        else tcp.once("close", () => closed())
      })
      response.on("data", (chunk: Buffer) => chunks.push(chunk))
      const done = () =>
        resolve({
          opened: false,
          status: response.statusCode ?? 0,
          body: Buffer.concat(chunks).toString("utf8"),
          hungUp,
        })
      response.once("end", done)
      response.once("close", done)
      response.once("error", done)
    })
    socket.once("error", (error) => reject(error))
  })

/**
 * A WebSocket client that records every frame: JSON text frames parsed, binary frames decoded
 * as output frames (8-byte offset + bytes). Tests wait on conditions over what it recorded.
 */
export class WsClient {
  readonly frames: Frame[] = []
  closeCode: number | undefined = undefined
  closeReason = ""
  private readonly closed: Promise<number>

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        const { offset, bytes } = decodeOutputFrame(new Uint8Array(data))
        this.frames.push({ kind: "binary", offset, bytes: Buffer.from(bytes) })
      } else {
        this.frames.push({ kind: "json", value: JSON.parse(data.toString("utf8")) })
      }
    })
    this.closed = new Promise((resolve) => {
      socket.once("close", (code, reason) => {
        this.closeCode = code
        this.closeReason = reason.toString("utf8")
        resolve(code)
      })
    })
    // Errors surface as a close; without a listener an error would crash the test worker.
    socket.on("error", () => {})
  }

  /**
   * Opens `url`; throws with the HTTP status when the upgrade is refused. Frames are recorded
   * from the start: a server may send its first frame in the same packet as the 101.
   */
  static async open(url: string, headers: Record<string, string> = {}): Promise<WsClient> {
    const client = new WsClient(new WebSocket(url, { headers, perMessageDeflate: false }))
    await new Promise<void>((resolve, reject) => {
      client.socket.once("open", () => resolve())
      client.socket.once("unexpected-response", (_request, response) => {
        const chunks: Buffer[] = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.once("end", () =>
          reject(
            new Error(
              `upgrade ${url} refused: ${response.statusCode} ${Buffer.concat(chunks).toString()}`,
            ),
          ),
        )
      })
      client.socket.once("error", reject)
      client.socket.once("close", () => reject(new Error(`${url} closed before opening`)))
    })
    return client
  }

  /** Wraps a socket already open (frames sent before this call are lost). */
  static wrap(socket: WebSocket): WsClient {
    return new WsClient(socket)
  }

  json(): ReadonlyArray<Record<string, unknown>> {
    return this.frames.flatMap((f) => (f.kind === "json" ? [f.value] : []))
  }

  binary(): ReadonlyArray<{ readonly offset: number; readonly bytes: Buffer }> {
    return this.frames.flatMap((f) => (f.kind === "binary" ? [f] : []))
  }

  /** The first JSON frame after index `after` of `frames` that `match` accepts. */
  async nextJson(
    match: (value: Record<string, unknown>) => boolean,
    what: string,
    after = 0,
    ms?: number,
  ): Promise<Record<string, unknown>> {
    return waitFor(
      () => {
        for (let i = after; i < this.frames.length; i++) {
          const f = this.frames[i]
          if (f?.kind === "json" && match(f.value)) return f.value
        }
        if (this.closeCode !== undefined)
          throw new Error(`socket closed (${this.closeCode}) while waiting for ${what}`)
        return undefined
      },
      () => `${what}; got ${JSON.stringify(this.json()).slice(0, 2000)}`,
      ms,
    )
  }

  /** Index in `frames` of the first frame `match` accepts. */
  indexOf(match: (f: Frame) => boolean): number {
    return this.frames.findIndex(match)
  }

  /** Output bytes received from binary frames, checked contiguous from `start`. */
  outputFrom(start: number): Buffer {
    let at = start
    const parts: Buffer[] = []
    for (const frame of this.binary()) {
      if (frame.offset !== at)
        throw new Error(`output frame at ${frame.offset}, expected ${at} (gap or duplicate)`)
      parts.push(frame.bytes)
      at += frame.bytes.length
    }
    return Buffer.concat(parts)
  }

  /** Offset after the last output byte received, or `undefined` before any. */
  outputEnd(): number | undefined {
    const last = this.binary().at(-1)
    return last === undefined ? undefined : last.offset + last.bytes.length
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message))
  }

  /** Stops reading from the TCP connection: the server's writes pile up in the kernel. */
  pauseReading(): void {
    this.rawSocket().pause()
  }

  resumeReading(): void {
    this.rawSocket().resume()
  }

  private rawSocket(): Socket {
    // `ws` keeps the TCP socket in a private field; pausing it is what a stuck client does.
    const raw = (this.socket as unknown as { _socket?: Socket })._socket
    if (raw === undefined) throw new Error("the WebSocket has no TCP socket")
    return raw
  }

  /** Resolves with the close code once the socket is closed. */
  waitClosed(): Promise<number> {
    return this.closed
  }

  async close(): Promise<void> {
    if (this.closeCode !== undefined) return
    this.socket.close()
    await Promise.race([
      this.closed,
      new Promise((resolve) =>
        setTimeout(() => {
          this.socket.terminate()
          resolve(undefined)
        }, 5_000),
      ),
    ])
  }
}
