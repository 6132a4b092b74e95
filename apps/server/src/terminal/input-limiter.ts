/**
 * Token buckets for one socket's input: bytes per second and frames per second, each with a
 * burst of one second's worth. Pastes of a few hundred KB pass; a flood of frames does not.
 */
export class InputLimiter {
  private bytes: number
  private frames: number
  private at: number | undefined

  constructor(
    private readonly bytesPerSecond = 512 * 1024,
    private readonly framesPerSecond = 500,
  ) {
    this.bytes = bytesPerSecond
    this.frames = framesPerSecond
  }

  /** Takes `size` bytes and one frame at time `now` (ms), if both buckets hold enough. */
  allow(size: number, now: number): boolean {
    if (this.at !== undefined) {
      const seconds = Math.max(0, now - this.at) / 1000
      this.bytes = Math.min(this.bytesPerSecond, this.bytes + seconds * this.bytesPerSecond)
      this.frames = Math.min(this.framesPerSecond, this.frames + seconds * this.framesPerSecond)
    }
    this.at = now
    if (this.frames < 1 || this.bytes < size) return false
    this.frames -= 1
    this.bytes -= size
    return true
  }
}
