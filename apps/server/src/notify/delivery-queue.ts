/** What one attempt at a delivery came to. */
export type AttemptOutcome =
  | { readonly kind: "done" }
  /** Worth another try (a timeout, a refused connection, `429`, a `5xx`), not before `afterMs`. */
  | { readonly kind: "retry"; readonly reason: string; readonly afterMs?: number | undefined }
  /** No use trying again (a `4xx`); `reason` is logged. */
  | { readonly kind: "give-up"; readonly reason: string }

export interface DeliveryJob {
  /** For the log: what and where (a host, never a secret URL path or header). */
  readonly label: string
  readonly attempt: (signal: AbortSignal) => Promise<AttemptOutcome>
}

export interface DeliveryQueueOptions {
  /** Deliveries in flight at once. */
  readonly concurrency: number
  /** Deliveries waiting (queued or between tries) at most; past it a new one is dropped. */
  readonly maxPending: number
  /** Tries per delivery, the first included. */
  readonly maxAttempts: number
  /** The wait before the second try; it doubles each time (with jitter), up to `maxDelayMs`. */
  readonly baseDelayMs: number
  readonly maxDelayMs: number
  /** One try's deadline: its signal aborts then. */
  readonly timeoutMs: number
  readonly log: {
    readonly warn: (fields: Record<string, unknown>, message: string) => void
    readonly info: (fields: Record<string, unknown>, message: string) => void
  }
}

export const defaultDeliveryOptions = {
  concurrency: 4,
  maxPending: 1000,
  maxAttempts: 5,
  baseDelayMs: 1000,
  maxDelayMs: 60_000,
  timeoutMs: 10_000,
} as const

interface Pending {
  readonly job: DeliveryJob
  attempts: number
}

/**
 * Deliveries to push services and webhooks, off every runner's path: `enqueue` never waits, a
 * bounded number run at once, each try has a deadline, failures worth retrying are retried with
 * exponential backoff, and a queue that is full drops what comes (with a warning) rather than
 * grow. A dead push service costs a few sockets and timers, never a runner or a request.
 */
export class DeliveryQueue {
  private readonly ready: Array<Pending> = []
  private readonly timers = new Set<NodeJS.Timeout>()
  private readonly inFlight = new Set<AbortController>()
  private waiting = 0
  private closed = false
  private idleWaiters: Array<() => void> = []

  constructor(private readonly options: DeliveryQueueOptions) {}

  /** Queues a delivery; false when the queue is full (or closed) and it was dropped. */
  enqueue(job: DeliveryJob): boolean {
    if (this.closed) return false
    if (this.pending >= this.options.maxPending) {
      this.options.log.warn(
        { target: job.label },
        "notification dropped: the delivery queue is full",
      )
      return false
    }
    this.ready.push({ job, attempts: 0 })
    this.pump()
    return true
  }

  /** Queued, between tries, or in flight. */
  get pending(): number {
    return this.ready.length + this.waiting + this.inFlight.size
  }

  /** Resolves once nothing is pending (for tests and an orderly shutdown). */
  idle(): Promise<void> {
    if (this.pending === 0 || this.closed) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  /** Stops: pending deliveries are dropped, tries in flight aborted. */
  close(): void {
    this.closed = true
    for (const timer of this.timers) clearTimeout(timer)
    this.timers.clear()
    this.waiting = 0
    this.ready.length = 0
    for (const controller of this.inFlight) controller.abort()
    this.settleIdle()
  }

  private pump(): void {
    while (!this.closed && this.inFlight.size < this.options.concurrency) {
      const next = this.ready.shift()
      if (next === undefined) break
      void this.run(next)
    }
    this.settleIdle()
  }

  private settleIdle(): void {
    if (this.pending > 0 && !this.closed) return
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }

  private async run(pending: Pending): Promise<void> {
    const controller = new AbortController()
    this.inFlight.add(controller)
    const timer = setTimeout(() => controller.abort(), this.options.timeoutMs)
    pending.attempts += 1
    let outcome: AttemptOutcome
    try {
      outcome = await pending.job.attempt(controller.signal)
    } catch (error) {
      outcome = {
        kind: "retry",
        reason: controller.signal.aborted
          ? `no answer within ${this.options.timeoutMs} ms`
          : error instanceof Error
            ? error.message
            : String(error),
      }
    } finally {
      clearTimeout(timer)
      this.inFlight.delete(controller)
    }
    if (this.closed) return this.settleIdle()
    if (outcome.kind === "retry" && pending.attempts < this.options.maxAttempts) {
      const backoff = Math.min(
        this.options.maxDelayMs,
        this.options.baseDelayMs * 2 ** (pending.attempts - 1),
      )
      // Retry-After, when the service gave one, but never past the cap; jitter spreads a herd.
      const delay = Math.min(
        this.options.maxDelayMs,
        Math.max(backoff * (0.75 + Math.random() * 0.5), outcome.afterMs ?? 0),
      )
      this.options.log.info(
        {
          target: pending.job.label,
          attempt: pending.attempts,
          reason: outcome.reason,
          retryInMs: Math.round(delay),
        },
        "notification not delivered; retrying",
      )
      this.waiting += 1
      const retry = setTimeout(() => {
        this.timers.delete(retry)
        this.waiting -= 1
        this.ready.push(pending)
        this.pump()
      }, delay)
      retry.unref()
      this.timers.add(retry)
    } else if (outcome.kind !== "done") {
      this.options.log.warn(
        { target: pending.job.label, attempts: pending.attempts, reason: outcome.reason },
        "notification not delivered; giving up",
      )
    }
    this.pump()
  }
}
