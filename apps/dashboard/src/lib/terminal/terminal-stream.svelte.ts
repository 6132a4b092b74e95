import {
  decodeOutputFrame,
  type RunnerStatus,
  type TerminalClientMessage,
  TerminalServerMessage,
} from "@geppetto/protocol"
import { type ApiError, api, reportForbidden } from "../api"
import { ReconnectingSocket, wsUrl } from "../socket.svelte"

/** Where the stream draws: the xterm of the runner page (or a test double). */
export interface TerminalSink {
  /** Clear and redraw from a snapshot at `cols` × `rows`; `done` once it is on screen. */
  snapshot(cols: number, rows: number, data: string, done: () => void): void
  write(bytes: Uint8Array, done: () => void): void
  resize(cols: number, rows: number): void
}

/** Tell the server how far we have drawn at least this often (it stops past 4 MiB unacked). */
const ACK_EVERY_BYTES = 64 * 1024
const ACK_DELAY_MS = 200
/** Input frames carry at most 64 KiB; 16 Ki UTF-16 units never encode to more than 48 KiB. */
const INPUT_CHUNK_UNITS = 16 * 1024

/** Splits text into chunks that never cut a surrogate pair. */
export const chunkText = (data: string, size: number = INPUT_CHUNK_UNITS): string[] => {
  const chunks: string[] = []
  let i = 0
  while (i < data.length) {
    let end = Math.min(data.length, i + size)
    const last = data.charCodeAt(end - 1)
    if (end < data.length && last >= 0xd800 && last <= 0xdbff) end--
    chunks.push(data.slice(i, end))
    i = end
  }
  return chunks
}

/**
 * One pane's live output over `WS /api/runners/:id/terminal`: a snapshot first, then binary
 * frames each carrying the offset of its first byte. `received` is the offset after the
 * last byte taken; a reconnect asks for `from=received`, so nothing is missed and a byte
 * seen twice (a frame straddling the reconnect) is cut off, never drawn twice.
 */
export class TerminalStream {
  /** The offset after the last byte handed to the sink; undefined before the first snapshot. */
  received = $state<number | undefined>(undefined)
  /** The offset after the last byte the sink finished drawing. */
  drawn = $state(0)
  /** The pane ended: its exit code, or the signal that killed it. */
  exit = $state<{ code: number | null; signal: string | null } | undefined>(undefined)
  /** Live status from the socket (the events stream carries it too). */
  status = $state<
    { status: RunnerStatus; waitingForInput: boolean; attentionReason?: string } | undefined
  >(undefined)
  /** The last error frame (e.g. input refused), with when it came. */
  error = $state<{ code: string; message: string; at: number } | undefined>(undefined)
  /** Why the last snapshot came mid-stream (skipped forward, log retention). */
  note = $state<string | undefined>(undefined)
  /** The runner is gone (removed): no more attempts. */
  gone = $state(false)
  /** Bytes that arrived out of order and were dropped or skipped (should stay 0). */
  gaps = 0

  readonly socket: ReconnectingSocket
  readonly #sink: TerminalSink
  #acked = 0
  #ackTimer: ReturnType<typeof setTimeout> | undefined

  constructor(
    readonly runnerId: string,
    readonly paneId: string | undefined,
    sink: TerminalSink,
  ) {
    this.#sink = sink
    this.socket = new ReconnectingSocket({
      url: () => {
        const query = new URLSearchParams()
        if (this.paneId !== undefined) query.set("pane", this.paneId)
        if (this.received !== undefined) query.set("from", String(this.received))
        const q = query.toString()
        return wsUrl(
          `/api/runners/${encodeURIComponent(this.runnerId)}/terminal${q === "" ? "" : `?${q}`}`,
        )
      },
      onMessage: (data) => this.#onMessage(data),
      onOpen: () => {
        this.#acked = 0
      },
      onDown: async () => {
        // The upgrade failed or the socket dropped: a removed runner or an expired session
        // stop the retries; a server that is down (restarting) is retried with backoff.
        try {
          await api.runner(this.runnerId)
          return "retry"
        } catch (error) {
          const status = (error as ApiError).status
          if (status === 404) {
            this.gone = true
            return "stop"
          }
          return status === 401 ? "stop" : "retry"
        }
      },
    })
  }

  start(): void {
    this.socket.start()
  }

  close(): void {
    clearTimeout(this.#ackTimer)
    this.socket.close()
  }

  /** Types `data` into the pane (operators only; the server refuses a viewer's). */
  input(data: string): boolean {
    let ok = true
    for (const chunk of chunkText(data)) ok = this.#send({ type: "input", data: chunk }) && ok
    return ok
  }

  resize(cols: number, rows: number): boolean {
    return this.#send({ type: "resize", cols, rows })
  }

  #send(message: TerminalClientMessage): boolean {
    return this.socket.send(JSON.stringify(message))
  }

  #onMessage(data: string | ArrayBuffer): void {
    if (typeof data !== "string") {
      this.#onOutput(new Uint8Array(data))
      return
    }
    let json: unknown
    try {
      json = JSON.parse(data)
    } catch {
      return
    }
    const parsed = TerminalServerMessage.safeParse(json)
    if (!parsed.success) {
      console.warn("geppetto: dropped a terminal frame this dashboard does not understand")
      return
    }
    const m = parsed.data
    switch (m.type) {
      case "snapshot": {
        this.received = m.offset
        this.drawn = m.offset
        this.note = m.note
        const offset = m.offset
        this.#sink.snapshot(m.cols, m.rows, m.data, () => this.#drew(offset))
        return
      }
      case "resize":
        this.#sink.resize(m.cols, m.rows)
        return
      case "exit":
        this.exit = { code: m.exitCode, signal: m.signal }
        return
      case "status":
        this.status = {
          status: m.status,
          waitingForInput: m.waitingForInput,
          ...(m.attentionReason !== undefined ? { attentionReason: m.attentionReason } : {}),
        }
        return
      case "error":
        this.error = { code: m.code, message: m.message, at: Date.now() }
        // Typing refused for want of a role: we may have just been made a viewer.
        if (m.code === "ForbiddenError") reportForbidden()
        return
    }
  }

  #onOutput(frame: Uint8Array): void {
    let decoded: { offset: number; bytes: Uint8Array }
    try {
      decoded = decodeOutputFrame(frame)
    } catch {
      return
    }
    const { offset } = decoded
    let { bytes } = decoded
    const received = this.received ?? offset
    const end = offset + bytes.length
    if (end <= received) return // already drawn (resent around a reconnect)
    if (offset < received) bytes = bytes.subarray(received - offset)
    else if (offset > received) {
      // The server promises none; count it so a test would see it.
      this.gaps += offset - received
    }
    this.received = end
    this.#sink.write(bytes, () => this.#drew(end))
  }

  #drew(offset: number): void {
    if (offset > this.drawn) this.drawn = offset
    if (this.drawn - this.#acked >= ACK_EVERY_BYTES) this.#ack()
    else if (this.#ackTimer === undefined) {
      this.#ackTimer = setTimeout(() => this.#ack(), ACK_DELAY_MS)
    }
  }

  #ack(): void {
    clearTimeout(this.#ackTimer)
    this.#ackTimer = undefined
    if (this.#send({ type: "ack", offset: this.drawn })) this.#acked = this.drawn
  }
}
