import type { PresenceMessage, Role, Viewer } from "@geppetto/protocol"

/** Typing shows for this long after a user's last keystroke into a runner. */
export const TYPING_MS = 3000
/** A burst of typing ends after this long without input; it is audited then, as a byte count. */
export const BURST_IDLE_MS = 2000

/** Time and timers, injected so that tests drive them by hand. */
export interface PresenceClock {
  readonly now: () => number
  readonly setTimeout: (f: () => void, ms: number) => unknown
  readonly clearTimeout: (handle: unknown) => void
}

const systemClock: PresenceClock = {
  now: Date.now,
  setTimeout: (f, ms) => {
    const timer = setTimeout(f, ms)
    timer.unref()
    return timer
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
}

/** One burst of typing: who typed how many bytes into which runner. */
export interface InputBurst {
  readonly user: string
  readonly runnerId: string
  readonly bytes: number
}

export interface PresenceOptions {
  /** A user's role now (undefined once removed); presence shows the current one. */
  readonly roleOf: (user: string) => Role | undefined
  /** Each ended burst of typing (for the audit trail). */
  readonly onBurst?: (burst: InputBurst) => void
  readonly clock?: PresenceClock
  readonly typingMs?: number
  readonly burstIdleMs?: number
}

/** One open terminal socket, as presence sees it. */
export interface Seat {
  /** `bytes` typed into the runner now (call only for input that was let through). */
  readonly input: (bytes: number) => void
  /** The socket closed: ends its burst and leaves. Idempotent. */
  readonly leave: () => void
}

interface SeatState {
  readonly user: string
  readonly role: Role
  readonly since: number
  lastInputAt: number
  typing: boolean
  typingTimer: unknown
  burstBytes: number
  burstTimer: unknown
}

/**
 * Who has each runner's terminal open and who is typing: one entry per user however many
 * sockets they have (the earliest `since`; typing if any of theirs is). Listeners hear of a
 * runner's viewers each time the list changes: a join, a leave, typing starting or stopping.
 *
 * Per keystroke this costs a timestamp and a counter: a timer is armed when typing starts and,
 * when it fires early, re-armed for what is left, never reset per key.
 */
export class Presence {
  private readonly seats = new Map<string, Set<SeatState>>()
  private readonly listeners = new Set<(message: PresenceMessage) => void>()
  private readonly clock: PresenceClock
  private readonly typingMs: number
  private readonly burstIdleMs: number

  constructor(private readonly options: PresenceOptions) {
    this.clock = options.clock ?? systemClock
    this.typingMs = options.typingMs ?? TYPING_MS
    this.burstIdleMs = options.burstIdleMs ?? BURST_IDLE_MS
  }

  join(runnerId: string, user: string, role: Role): Seat {
    const seat: SeatState = {
      user,
      role,
      since: this.clock.now(),
      lastInputAt: 0,
      typing: false,
      typingTimer: undefined,
      burstBytes: 0,
      burstTimer: undefined,
    }
    let set = this.seats.get(runnerId)
    if (set === undefined) {
      set = new Set()
      this.seats.set(runnerId, set)
    }
    set.add(seat)
    this.changed(runnerId)
    let left = false
    return {
      input: (bytes) => {
        if (left) return
        seat.lastInputAt = this.clock.now()
        if (seat.burstBytes === 0) this.armBurst(runnerId, seat, this.burstIdleMs)
        seat.burstBytes += bytes
        if (!seat.typing) {
          seat.typing = true
          this.armTyping(runnerId, seat, this.typingMs)
          this.changed(runnerId)
        }
      },
      leave: () => {
        if (left) return
        left = true
        this.clock.clearTimeout(seat.typingTimer)
        this.clock.clearTimeout(seat.burstTimer)
        this.endBurst(runnerId, seat)
        const current = this.seats.get(runnerId)
        current?.delete(seat)
        if (current?.size === 0) this.seats.delete(runnerId)
        this.changed(runnerId)
      },
    }
  }

  /** The runner's viewers now, by when they came. */
  viewers(runnerId: string): Array<Viewer> {
    const set = this.seats.get(runnerId)
    if (set === undefined) return []
    const byUser = new Map<string, Viewer>()
    for (const seat of set) {
      const seen = byUser.get(seat.user)
      byUser.set(seat.user, {
        user: seat.user,
        role: this.options.roleOf(seat.user) ?? seat.role,
        since: Math.min(seen?.since ?? seat.since, seat.since),
        typing: (seen?.typing ?? false) || seat.typing,
      })
    }
    return [...byUser.values()].sort((a, b) => a.since - b.since || a.user.localeCompare(b.user))
  }

  /** One message per runner that has viewers: what a new listener needs first. */
  snapshot(): Array<PresenceMessage> {
    return [...this.seats.keys()].map((runnerId) => this.message(runnerId))
  }

  /** `listener` hears every change from now on; the returned function stops that. */
  subscribe(listener: (message: PresenceMessage) => void): () => void {
    this.listeners.add(listener)
    return () => {
      this.listeners.delete(listener)
    }
  }

  private message(runnerId: string): PresenceMessage {
    return { type: "presence", runnerId, viewers: this.viewers(runnerId) }
  }

  private changed(runnerId: string): void {
    if (this.listeners.size === 0) return
    const message = this.message(runnerId)
    for (const listener of this.listeners) listener(message)
  }

  private armTyping(runnerId: string, seat: SeatState, ms: number): void {
    seat.typingTimer = this.clock.setTimeout(() => {
      const left = seat.lastInputAt + this.typingMs - this.clock.now()
      if (left > 0) return this.armTyping(runnerId, seat, left)
      seat.typing = false
      this.changed(runnerId)
    }, ms)
  }

  private armBurst(runnerId: string, seat: SeatState, ms: number): void {
    seat.burstTimer = this.clock.setTimeout(() => {
      const left = seat.lastInputAt + this.burstIdleMs - this.clock.now()
      if (left > 0) return this.armBurst(runnerId, seat, left)
      this.endBurst(runnerId, seat)
    }, ms)
  }

  private endBurst(runnerId: string, seat: SeatState): void {
    const bytes = seat.burstBytes
    seat.burstBytes = 0
    if (bytes > 0) this.options.onBurst?.({ user: seat.user, runnerId, bytes })
  }
}
