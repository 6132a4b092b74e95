import type { TranscriptEntry } from "@geppetto/protocol"
import { type ApiError, api, messageOf } from "../api"
import { mergeEntries } from "./transcript"

/** Entries per request: the newest page on opening, each page further back. */
export const PAGE_SIZE = 100

/**
 * One runner's conversation as the Conversation view holds it: the newest page, the pages
 * scrolled back to, and what the agent writes next (`refresh` asks for entries from `total`
 * on). Calls never overlap: a refresh asked for during one runs once it ends.
 */
export class TranscriptFeed {
  entries = $state<TranscriptEntry[]>([])
  /** Entries the agent's file holds (the next live page starts here). */
  total = $state(0)
  skipped = $state(0)
  model = $state<string | undefined>()
  /** `none`: the agent keeps no transcript the server reads, or has not written it yet. */
  state = $state<"loading" | "ready" | "none" | "error">("loading")
  error = $state<string | undefined>()
  loadingEarlier = $state(false)

  #busy: Promise<void> | undefined
  #again = false
  #closed = false

  constructor(readonly runnerId: string) {}

  /** Older entries than the oldest held. */
  get hasEarlier(): boolean {
    return (this.entries[0]?.seq ?? 0) > 0
  }

  /** Stops taking answers (the view closed). */
  close(): void {
    this.#closed = true
  }

  /** The newest page the first time, then whatever the agent wrote since. */
  refresh(): Promise<void> {
    if (this.#busy !== undefined) {
      this.#again = true
      return this.#busy
    }
    this.#busy = (async () => {
      try {
        do {
          this.#again = false
          await this.#fetchNew()
        } while (this.#again && !this.#closed)
      } finally {
        this.#busy = undefined
      }
    })()
    return this.#busy
  }

  async loadEarlier(): Promise<void> {
    const oldest = this.entries[0]?.seq
    if (oldest === undefined || oldest === 0 || this.loadingEarlier) return
    this.loadingEarlier = true
    try {
      const page = await api.transcript(this.runnerId, { before: oldest, limit: PAGE_SIZE })
      if (this.#closed) return
      this.entries = mergeEntries(this.entries, page.entries)
      this.error = undefined
    } catch (e) {
      if (!this.#closed) this.error = messageOf(e)
    } finally {
      this.loadingEarlier = false
    }
  }

  async #fetchNew(): Promise<void> {
    try {
      const fresh = this.state !== "ready"
      let page = await api.transcript(
        this.runnerId,
        fresh ? { limit: PAGE_SIZE } : { after: this.total, limit: PAGE_SIZE },
      )
      if (this.#closed) return
      // A file that shrank is not the one held (the agent started another session): start over.
      if (!fresh && page.total < this.total) {
        page = await api.transcript(this.runnerId, { limit: PAGE_SIZE })
        if (this.#closed) return
        this.entries = []
      }
      this.entries = mergeEntries(this.entries, page.entries)
      for (;;) {
        const newest = this.entries.at(-1)?.seq ?? -1
        if (newest + 1 >= page.total || page.entries.length === 0) break
        page = await api.transcript(this.runnerId, { after: newest + 1, limit: PAGE_SIZE })
        if (this.#closed) return
        this.entries = mergeEntries(this.entries, page.entries)
      }
      this.total = page.total
      this.skipped = page.skipped
      this.model = page.model
      this.state = "ready"
      this.error = undefined
    } catch (e) {
      if (this.#closed) return
      if ((e as ApiError).status === 404) {
        if (this.state !== "ready") this.state = "none"
        return
      }
      this.error = messageOf(e)
      if (this.state === "loading") this.state = "error"
    }
  }
}
