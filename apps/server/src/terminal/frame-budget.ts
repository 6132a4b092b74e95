/**
 * Bounds the client frames a terminal socket has received but not yet handled, in count and
 * in bytes (a frame may be as large as the socket's payload limit). A frame past either bound
 * is refused, newest first, so the input that is kept stays in order; `overflowed` is true
 * only for the first refusal of a burst, so the client is told once, not once per frame.
 */
export class FrameBudget {
  private frames = 0
  private bytes = 0
  private refusing = false

  constructor(
    readonly maxFrames = 1024,
    readonly maxBytes = 2 * 1024 * 1024,
  ) {}

  /** Takes room for a frame of `size` bytes, or refuses it. */
  admit(size: number): { readonly admitted: boolean; readonly overflowed: boolean } {
    if (this.frames + 1 > this.maxFrames || this.bytes + size > this.maxBytes) {
      const overflowed = !this.refusing
      this.refusing = true
      return { admitted: false, overflowed }
    }
    this.frames++
    this.bytes += size
    return { admitted: true, overflowed: false }
  }

  /** Gives back a handled frame's room; once all is handled, a new overflow is reported again. */
  release(size: number): void {
    this.frames--
    this.bytes -= size
    if (this.frames === 0) this.refusing = false
  }

  get queuedBytes(): number {
    return this.bytes
  }
}
