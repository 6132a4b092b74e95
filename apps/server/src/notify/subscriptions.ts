import { join } from "node:path"
import type { NotifyEvent, PushSubscriptionRequest } from "@geppetto/protocol"
import { z } from "zod"
import { FileSaver, readPrivateJson } from "./json-file.js"

export const SUBSCRIPTIONS_FILE = "push-subscriptions.json"
/** Browsers one user may have subscribed at once; the oldest goes when a new one comes. */
export const MAX_PER_USER = 10
/** Subscriptions kept at all; the oldest goes when a new one comes. */
export const MAX_TOTAL = 1000

/** One browser's push subscription, filed under the user who made it. */
export interface StoredSubscription {
  readonly user: string
  readonly endpoint: string
  readonly keys: { readonly p256dh: string; readonly auth: string }
  readonly events: ReadonlyArray<NotifyEvent>
  readonly createdAt: number
}

const Stored = z.object({
  user: z.string().min(1),
  endpoint: z.string().startsWith("https://"),
  keys: z.object({ p256dh: z.string(), auth: z.string() }),
  events: z.array(z.enum(["waiting", "completed", "failed"])),
  createdAt: z.number().int(),
})
const StoredFile = z.object({ version: z.literal(1), subscriptions: z.array(Stored) })

/**
 * Push subscriptions by endpoint (an endpoint is one browser profile: posted again, by the
 * same user or another who now uses that browser, it is replaced). Kept in
 * `DATA_DIR/push-subscriptions.json` (0600, written atomically), or in memory without a data dir.
 */
export class PushSubscriptions {
  private readonly byEndpoint = new Map<string, StoredSubscription>()
  private readonly saver: FileSaver

  private constructor(
    file: string | undefined,
    onError: (error: unknown) => void,
    private readonly now: () => number,
  ) {
    this.saver = new FileSaver(
      file,
      () =>
        `${JSON.stringify({ version: 1, subscriptions: [...this.byEndpoint.values()] }, null, 2)}\n`,
      onError,
    )
  }

  static async open(options: {
    readonly dataDir: string | undefined
    readonly onSaveError: (error: unknown) => void
    readonly now?: () => number
  }): Promise<PushSubscriptions> {
    const file =
      options.dataDir === undefined ? undefined : join(options.dataDir, SUBSCRIPTIONS_FILE)
    const store = new PushSubscriptions(file, options.onSaveError, options.now ?? Date.now)
    if (file !== undefined) {
      const raw = await readPrivateJson(file)
      if (raw !== undefined) {
        const parsed = StoredFile.safeParse(raw)
        if (!parsed.success) {
          throw new Error(
            `${file} is not a subscription list (${parsed.error.issues[0]?.message ?? "invalid"}); delete it and browsers subscribe again`,
          )
        }
        for (const s of parsed.data.subscriptions) store.byEndpoint.set(s.endpoint, s)
      }
    }
    return store
  }

  /** Adds or replaces the subscription of `request.endpoint`, for `user`. */
  async upsert(user: string, request: PushSubscriptionRequest): Promise<StoredSubscription> {
    const entry: StoredSubscription = {
      user,
      endpoint: request.endpoint,
      keys: { p256dh: request.keys.p256dh, auth: request.keys.auth },
      events: request.events ?? ["waiting"],
      createdAt: this.now(),
    }
    // Re-inserted, so that it is the newest in insertion order.
    this.byEndpoint.delete(entry.endpoint)
    this.byEndpoint.set(entry.endpoint, entry)
    const mine = [...this.byEndpoint.values()].filter((s) => s.user === user)
    for (const old of mine.slice(0, Math.max(0, mine.length - MAX_PER_USER))) {
      this.byEndpoint.delete(old.endpoint)
    }
    for (const old of [...this.byEndpoint.values()].slice(
      0,
      Math.max(0, this.byEndpoint.size - MAX_TOTAL),
    )) {
      this.byEndpoint.delete(old.endpoint)
    }
    await this.saver.save()
    return entry
  }

  /** Drops `user`'s subscription of `endpoint`; false when they have none there. */
  async remove(user: string, endpoint: string): Promise<boolean> {
    const entry = this.byEndpoint.get(endpoint)
    if (entry === undefined || entry.user !== user) return false
    this.byEndpoint.delete(endpoint)
    await this.saver.save()
    return true
  }

  /** Drops a subscription the push service says is gone (`404`/`410`), unless it was replaced. */
  async drop(entry: StoredSubscription): Promise<void> {
    if (this.byEndpoint.get(entry.endpoint) !== entry) return
    this.byEndpoint.delete(entry.endpoint)
    await this.saver.save()
  }

  /** Drops every subscription of a user who no longer exists. */
  async dropUser(user: string): Promise<void> {
    let changed = false
    for (const s of [...this.byEndpoint.values()]) {
      if (s.user === user) {
        this.byEndpoint.delete(s.endpoint)
        changed = true
      }
    }
    if (changed) await this.saver.save()
  }

  /** The subscriptions that want `event`. */
  forEvent(event: NotifyEvent): ReadonlyArray<StoredSubscription> {
    return [...this.byEndpoint.values()].filter((s) => s.events.includes(event))
  }

  get(endpoint: string): StoredSubscription | undefined {
    return this.byEndpoint.get(endpoint)
  }

  get size(): number {
    return this.byEndpoint.size
  }

  flush(): Promise<void> {
    return this.saver.flush()
  }
}
