import { EventsServerMessage, type RunnerSummary, type Viewer } from "@geppetto/protocol"
import { SvelteMap } from "svelte/reactivity"
import { type ApiError, api } from "./api"
import { session } from "./session.svelte"
import { ReconnectingSocket, wsUrl } from "./socket.svelte"
import { isLive, isWaiting, newlyWaiting } from "./status"

/** Output volume of one runner over the last few minutes, for the card's sparkline. */
export interface Trace {
  /** Bytes per bucket, oldest first; the last bucket is the current one. */
  readonly buckets: ReadonlyArray<number>
  /** Index of the last bucket: `floor(time / BUCKET_MS)`. */
  readonly at: number
  /** When output or an activity event was last seen (this tab's observation). */
  readonly lastActivityAt: number | undefined
}

export const BUCKET_MS = 10_000
export const BUCKETS = 30

const emptyTrace = (): Trace => ({
  buckets: new Array<number>(BUCKETS).fill(0),
  at: Math.floor(Date.now() / BUCKET_MS),
  lastActivityAt: undefined,
})

/** Moves a trace's window forward to `bucket` (empty buckets in between) and adds `bytes`. */
export const advance = (trace: Trace, bucket: number, bytes: number): ReadonlyArray<number> => {
  const shift = Math.max(0, bucket - trace.at)
  const buckets =
    shift >= BUCKETS
      ? new Array<number>(BUCKETS).fill(0)
      : [...trace.buckets.slice(shift), ...new Array<number>(shift).fill(0)]
  buckets[BUCKETS - 1] = (buckets[BUCKETS - 1] ?? 0) + bytes
  return buckets
}

export { isLive, isWaiting } from "./status"

type WaitingListener = (runner: RunnerSummary) => void

/** A permission prompt the server answered for a person (an `auto-reply` event), as this tab saw it. */
export interface AutoReplySeen {
  readonly attentionId: string
  /** What the prompt asked for (`npm test`). */
  readonly detail: string
  /** The answer typed (`Yes`). */
  readonly label: string
  /** The `allow` pattern that matched. */
  readonly pattern: string
  /** When the server answered. */
  readonly at: number
  /** When this tab heard of it: what "just now" on a card is measured from. */
  readonly seenAt: number
}

/** Auto-replies kept per runner (newest first): the events stream has no history to ask again. */
const AUTO_REPLIES_KEPT = 20

/**
 * Every runner, live over `WS /api/events`: the whole list on each (re)connect, then one
 * frame per change. Frames are validated with the protocol's schema; a bad one is dropped.
 */
class LiveRunners {
  readonly runners = new SvelteMap<string, RunnerSummary>()
  readonly traces = new SvelteMap<string, Trace>()
  /**
   * Who has each runner's terminal open, from the `presence` frames. Once `loaded`, a runner
   * missing here has nobody watching (the server resends every non-empty list on connect).
   */
  readonly presence = new SvelteMap<string, ReadonlyArray<Viewer>>()
  /** The auto-replies seen since this tab connected, newest first, per runner. */
  readonly autoReplies = new SvelteMap<string, ReadonlyArray<AutoReplySeen>>()
  /** True once the first full list arrived. */
  loaded = $state(false)
  readonly socket: ReconnectingSocket
  readonly #waitingListeners = new Set<WaitingListener>()
  #started = false

  constructor() {
    this.socket = new ReconnectingSocket({
      url: () => wsUrl("/api/events"),
      onMessage: (data) => this.#onMessage(data),
      onDown: async (failures, code) => {
        // The upgrade of an expired session fails like a network error: ask the REST API.
        // 4401 is the server revoking this user (removed): ask at once, not after a retry.
        if (failures < 2 && code !== UNAUTHORIZED_CLOSE) return "retry"
        try {
          await api.me()
          return "retry"
        } catch (error) {
          if ((error as ApiError).status === 401) {
            session.expire()
            return "stop"
          }
          return "retry"
        }
      },
    })
  }

  /** Sorted for the board: waiting for you first, then live, then finished; newest first. */
  readonly list = $derived(
    [...this.runners.values()].sort(
      (a, b) => rank(a) - rank(b) || b.createdAt - a.createdAt || a.name.localeCompare(b.name),
    ),
  )

  readonly waiting = $derived(this.list.filter(isWaiting))

  start(): void {
    if (this.#started) return
    this.#started = true
    this.socket.start()
  }

  stop(): void {
    this.#started = false
    this.socket.close()
    this.runners.clear()
    this.traces.clear()
    this.presence.clear()
    this.autoReplies.clear()
    this.loaded = false
  }

  /** Who is watching a runner; `fallback` (the page's fetched detail) until the stream is up. */
  viewers(id: string, fallback?: ReadonlyArray<Viewer>): ReadonlyArray<Viewer> {
    return this.presence.get(id) ?? (this.loaded ? [] : (fallback ?? []))
  }

  /**
   * Called once per prompt a runner comes to wait on: into "waiting for you", or from one
   * prompt straight to another (a budget notice, then a permission prompt). Not for runners
   * already waiting at load.
   */
  onWaiting(listener: WaitingListener): () => void {
    this.#waitingListeners.add(listener)
    return () => this.#waitingListeners.delete(listener)
  }

  /**
   * A runner the page fetched itself (e.g. just started), before its frame arrives. Only
   * then: a frame that came first is newer than the answer (the server records the start in
   * the audit trail before it answers), and must not be put back to what the answer said.
   */
  upsert(runner: RunnerSummary): void {
    if (!this.runners.has(runner.id)) this.#update(runner)
  }

  #onMessage(data: string | ArrayBuffer): void {
    if (typeof data !== "string") return
    let json: unknown
    try {
      json = JSON.parse(data)
    } catch {
      return
    }
    const parsed = EventsServerMessage.safeParse(json)
    if (!parsed.success) {
      console.warn("geppetto: dropped an events frame this dashboard does not understand")
      return
    }
    const message = parsed.data
    switch (message.type) {
      case "runners": {
        const seen = new Set<string>()
        for (const runner of message.runners) {
          seen.add(runner.id)
          this.#update(runner)
        }
        for (const id of [...this.runners.keys()]) {
          if (!seen.has(id)) this.#forget(id)
        }
        // A (re)connect: the presence frames that follow are the whole truth again.
        this.presence.clear()
        this.loaded = true
        return
      }
      case "presence":
        if (message.viewers.length === 0) this.presence.delete(message.runnerId)
        else this.presence.set(message.runnerId, message.viewers)
        return
      case "runner":
        this.#update(message.runner)
        return
      case "removed":
        this.#forget(message.runnerId)
        return
      case "event": {
        const { event, runnerId } = message
        if (event.type === "activity" && event.state === "active") {
          const trace = this.traces.get(runnerId)
          if (trace !== undefined)
            this.traces.set(runnerId, { ...trace, lastActivityAt: event.timestamp })
        } else if (event.type === "auto-reply") {
          const seen = this.autoReplies.get(runnerId) ?? []
          if (seen.some((r) => r.attentionId === event.attentionId)) return
          const { attentionId, detail, label, pattern, timestamp } = event
          const reply = { attentionId, detail, label, pattern, at: timestamp, seenAt: Date.now() }
          this.autoReplies.set(runnerId, [reply, ...seen].slice(0, AUTO_REPLIES_KEPT))
        }
        return
      }
    }
  }

  #update(runner: RunnerSummary): void {
    const before = this.runners.get(runner.id)
    this.runners.set(runner.id, runner)
    const now = Date.now()
    const trace = this.traces.get(runner.id) ?? emptyTrace()
    const grown = before === undefined ? 0 : Math.max(0, runner.bytesOut - before.bytesOut)
    const bucket = Math.floor(now / BUCKET_MS)
    this.traces.set(runner.id, {
      buckets: advance(trace, bucket, grown),
      at: bucket,
      lastActivityAt: grown > 0 ? now : trace.lastActivityAt,
    })
    if (this.loaded && newlyWaiting(before, runner)) {
      for (const listener of this.#waitingListeners) listener(runner)
    }
  }

  #forget(id: string): void {
    this.runners.delete(id)
    this.traces.delete(id)
    this.presence.delete(id)
    this.autoReplies.delete(id)
  }
}

/** The close code the server sends on a removed user's sockets. */
const UNAUTHORIZED_CLOSE = 4401

const rank = (r: RunnerSummary): number => (isWaiting(r) ? 0 : isLive(r) ? 1 : 2)

export const live = new LiveRunners()
