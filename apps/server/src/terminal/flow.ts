/**
 * Per-viewer flow control of the terminal socket, as plain state so it is tested alone.
 *
 * Two bounds keep a viewer from costing memory: bytes handed to the socket but not yet written
 * to the kernel (`unflushed`, known from `send` callbacks), and bytes sent but not yet drawn
 * (`sent - acked`, known from the client's `ack` frames; only once the client has acked at
 * all, so a plain script that never acks still gets output). The log is on disk, so a
 * blocked viewer simply stops pulling; when it is further behind than `skipBytes` once it
 * reads again, it is moved forward to a fresh snapshot instead of replaying the backlog.
 */
export interface FlowLimits {
  /** Bytes in the socket's send buffer before we stop pulling output. */
  readonly socketBytes: number
  /** Unacknowledged bytes before we stop (for clients that ack). */
  readonly windowBytes: number
  /** Backlog beyond which a viewer is skipped forward to a snapshot. */
  readonly skipBytes: number
}

export const defaultFlowLimits: FlowLimits = {
  socketBytes: 1024 * 1024,
  windowBytes: 4 * 1024 * 1024,
  skipBytes: 8 * 1024 * 1024,
}

export class FlowState {
  /** Offset after the last byte sent. */
  sent = 0
  /** Highest offset the client said it has drawn; undefined until its first ack. */
  acked: number | undefined = undefined
  unflushed = 0
  /** Times this viewer was skipped forward (for tests and metrics). */
  skips = 0

  constructor(readonly limits: FlowLimits = defaultFlowLimits) {}

  /** Whether another chunk may be sent now. */
  canSend(): boolean {
    if (this.unflushed > this.limits.socketBytes) return false
    return this.acked === undefined || this.sent - this.acked <= this.limits.windowBytes
  }

  /** Whether a viewer that is `logEnd - sent` behind should get a snapshot instead. */
  shouldSkip(logEnd: number): boolean {
    return logEnd - this.sent > this.limits.skipBytes
  }

  /** An ack is only believed up to what was sent: a client cannot open its own window. */
  ack(offset: number): void {
    const clamped = Math.min(offset, this.sent)
    if (this.acked === undefined || clamped > this.acked) this.acked = clamped
  }

  /** Restart counting at a snapshot's offset (its bytes are not replayed). */
  resetAt(offset: number): void {
    this.sent = offset
    if (this.acked !== undefined) this.acked = offset
  }
}
