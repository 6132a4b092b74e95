export interface RateLimitOptions {
  /** Attempts allowed per key in one window. */
  readonly limit: number
  readonly windowMs: number
  /** Keys remembered at most; past it, expired windows go first, then the oldest. */
  readonly maxKeys: number
  readonly now?: () => number
}

export type RateLimitDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly retryAfterSeconds: number }

/**
 * A fixed-window counter per key (a client IP) with bounded memory: at most `maxKeys`
 * entries, so a flood from many addresses cannot grow the map. Evicting the oldest entry
 * can forget a limited client early; that costs an attacker a fresh IP per 10 guesses.
 */
export class FixedWindowLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>()
  private readonly now: () => number

  constructor(private readonly options: RateLimitOptions) {
    this.now = options.now ?? Date.now
  }

  /** Counts one attempt for `key` and says whether it may go ahead. */
  hit(key: string): RateLimitDecision {
    const now = this.now()
    const window = this.windows.get(key)
    if (window === undefined || now - window.start >= this.options.windowMs) {
      if (window !== undefined) this.windows.delete(key)
      this.makeRoom(now)
      this.windows.set(key, { start: now, count: 1 })
      return { allowed: true }
    }
    window.count += 1
    if (window.count <= this.options.limit) return { allowed: true }
    return {
      allowed: false,
      retryAfterSeconds: Math.max(
        1,
        Math.ceil((window.start + this.options.windowMs - now) / 1000),
      ),
    }
  }

  get size(): number {
    return this.windows.size
  }

  private makeRoom(now: number): void {
    if (this.windows.size < this.options.maxKeys) return
    // Windows are (re)inserted when they start, so the Map iterates oldest first: expired
    // ones lead, and past them the oldest live window is the one to forget.
    for (const [key, window] of this.windows) {
      const expired = now - window.start >= this.options.windowMs
      if (!expired && this.windows.size < this.options.maxKeys) break
      this.windows.delete(key)
    }
  }
}
