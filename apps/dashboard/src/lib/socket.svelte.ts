/** `connecting` the first time, `reconnecting` after a drop, `closed` once given up or closed. */
export type SocketState = "connecting" | "open" | "reconnecting" | "closed"

export interface SocketOptions {
  /** The URL to open, asked again on every attempt (the terminal's carries its `from=`). */
  readonly url: () => string
  readonly onOpen?: () => void
  readonly onMessage: (data: string | ArrayBuffer) => void
  /**
   * Called when the socket dropped, before the next attempt; `stop` gives up (the runner was
   * removed, the session expired). A WebSocket says nothing about why an upgrade failed, so
   * the owner asks the REST API. `code` is the close code of a socket that was open (the
   * server closes a removed user's sockets with 4401); 1006 or undefined otherwise.
   */
  readonly onDown?: (failures: number, code: number | undefined) => Promise<"retry" | "stop">
}

const MIN_DELAY_MS = 250
const MAX_DELAY_MS = 5000

/** Same-origin WebSocket URL for an API path (the cookie goes along; no token in the URL). */
export const wsUrl = (path: string): string =>
  `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}`

/**
 * A WebSocket that reconnects with capped exponential backoff (and jitter, so a restarted
 * server is not hit by every tab at once) and exposes its state as `$state`.
 */
export class ReconnectingSocket {
  state = $state<SocketState>("connecting")
  /** Attempts in a row that failed; 0 while connected. */
  failures = $state(0)

  #ws: WebSocket | undefined
  #timer: ReturnType<typeof setTimeout> | undefined
  #stopped = false
  readonly #options: SocketOptions

  constructor(options: SocketOptions) {
    this.#options = options
  }

  start(): void {
    this.#stopped = false
    this.#open()
  }

  /** Sends a text frame when connected; false when it could not (the caller may retry). */
  send(data: string): boolean {
    if (this.#ws?.readyState !== WebSocket.OPEN) return false
    this.#ws.send(data)
    return true
  }

  /** Drops the current connection and connects again at once (e.g. after a reset). */
  reconnect(): void {
    if (this.#stopped) return
    this.#detach()
    this.state = "reconnecting"
    this.#open()
  }

  close(): void {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#detach()
    this.state = "closed"
  }

  #detach(): void {
    const ws = this.#ws
    this.#ws = undefined
    if (ws === undefined) return
    ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000)
  }

  #open(): void {
    let ws: WebSocket
    try {
      ws = new WebSocket(this.#options.url())
    } catch {
      void this.#down()
      return
    }
    ws.binaryType = "arraybuffer"
    this.#ws = ws
    ws.onopen = () => {
      this.failures = 0
      this.state = "open"
      this.#options.onOpen?.()
    }
    ws.onmessage = (event: MessageEvent<string | ArrayBuffer>) =>
      this.#options.onMessage(event.data)
    ws.onclose = (event: CloseEvent) => {
      if (this.#ws !== ws) return
      this.#ws = undefined
      void this.#down(event.code)
    }
  }

  async #down(code?: number): Promise<void> {
    if (this.#stopped) return
    this.failures++
    this.state = "reconnecting"
    const verdict =
      (await this.#options.onDown?.(this.failures, code).catch(() => "retry")) ?? "retry"
    if (this.#stopped) return
    if (verdict === "stop") {
      this.close()
      return
    }
    const backoff = Math.min(MAX_DELAY_MS, MIN_DELAY_MS * 2 ** Math.min(this.failures - 1, 8))
    const delay = backoff / 2 + Math.random() * (backoff / 2)
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      if (!this.#stopped) this.#open()
    }, delay)
  }
}
