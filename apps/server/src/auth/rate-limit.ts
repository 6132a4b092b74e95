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
    return this.refusal(window, now)
  }

  /**
   * Whether `key` is over its limit now, without counting an attempt: for requests that are
   * counted only when they fail (a wrong bearer token), but refused, right or wrong, once
   * the failures have reached the limit (else a right guess would still get through).
   */
  check(key: string): RateLimitDecision {
    const now = this.now()
    const window = this.windows.get(key)
    if (window === undefined || now - window.start >= this.options.windowMs) {
      return { allowed: true }
    }
    return window.count < this.options.limit ? { allowed: true } : this.refusal(window, now)
  }

  /** A refusal until `window` ends. */
  private refusal(window: { readonly start: number }, now: number): RateLimitDecision {
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

/**
 * The limiter's key for a client address: an IPv4 address as is (also when written as
 * IPv6-mapped, `::ffff:10.0.0.9`), an IPv6 address by its /64. A host on IPv6 usually has a
 * whole /64 to itself, so one key per address would give a guesser 2^64 fresh keys.
 */
export const addressKey = (ip: string): string => {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip)?.[1]
  if (mapped !== undefined) return mapped
  if (!ip.includes(":")) return ip
  const bare = ip.split("%")[0] ?? ip // a zone (`fe80::1%eth0`) names the link, not the host
  const [head = "", tail] = bare.split("::")
  const groups = (part: string | undefined) =>
    part === undefined || part === "" ? [] : part.split(":")
  const left = groups(head)
  const right = groups(tail)
  // An IPv4 tail (`64:ff9b::1.2.3.4`) stands for two groups.
  const width = (parts: ReadonlyArray<string>) =>
    parts.reduce((n, p) => n + (p.includes(".") ? 2 : 1), 0)
  const missing = Math.max(0, 8 - width(left) - width(right))
  const all = [...left, ...new Array<string>(tail === undefined ? 0 : missing).fill("0"), ...right]
  const prefix = all
    .slice(0, 4)
    .map((g) => (/^[0-9a-f]{1,4}$/i.test(g) ? Number.parseInt(g, 16).toString(16) : g))
  return `${prefix.join(":")}::/64`
}
