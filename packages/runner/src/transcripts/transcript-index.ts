import { Effect } from "effect"
import type { ParsedLine, TranscriptEntry } from "./entry.js"
import { readLines } from "./line-reader.js"
import type { PriceTable } from "./prices.js"
import { type RunnerUsage, UsageTally } from "./usage-tally.js"

/** Newest entries held in memory: a page of them needs no read. */
export const TAIL_ENTRIES = 512
/** One checkpoint (entry number → byte offset of its line) per this many entries. */
export const CHECKPOINT_ENTRIES = 256
/** Most entries in one page. */
export const MAX_PAGE = 500
/** Entry keys remembered since the last reset (a turn's worth); see `ParsedLine.keys`. */
export const RECENT_KEYS = 4096

/**
 * The entries of `parsed` not shown yet, by their keys (`ParsedLine.keys`); `recent` is updated.
 * A full `recent` forgets its oldest key (a turn of over 4096 entries may then show one twice).
 */
const freshEntries = (parsed: ParsedLine, recent: Set<string>) => {
  if (parsed.reset === true) recent.clear()
  const keys = parsed.keys
  if (keys === undefined) return parsed.entries
  return parsed.entries.filter((_, i) => {
    const key = keys[i]
    if (key === undefined) return true
    if (recent.has(key)) return false
    recent.add(key)
    if (recent.size > RECENT_KEYS) {
      const oldest = recent.values().next().value
      if (oldest !== undefined) recent.delete(oldest)
    }
    return true
  })
}

export type LineParser = (line: string) => ParsedLine | undefined

export interface TranscriptPage {
  readonly entries: ReadonlyArray<TranscriptEntry>
  /** Entries in the transcript so far; the next live page starts here (`after=total`). */
  readonly total: number
  /** Lines that could not be read (not JSON, an unknown shape, or over 16 MiB). */
  readonly skipped: number
  readonly usage: RunnerUsage
  readonly model: string | undefined
}

export interface PageQuery {
  /** Entries numbered from `after` on (a live view asking for what is new). */
  readonly after?: number
  /** Entries numbered below `before` (scrolling back); default: the newest. */
  readonly before?: number
  readonly limit?: number
}

/**
 * A transcript file read incrementally, in bounded memory whatever its size: the offset read
 * up to, the usage so far, the newest `TAIL_ENTRIES` entries, and a checkpoint every
 * `CHECKPOINT_ENTRIES` entries (for a 500 MB transcript, a few thousand numbers) from which an
 * older page is read again from disk.
 */
export class TranscriptIndex {
  offset = 0
  total = 0
  skipped = 0
  readonly tail: TranscriptEntry[] = []
  readonly checkpoints: Array<{ readonly seq: number; readonly offset: number }> = [
    { seq: 0, offset: 0 },
  ]
  readonly tally: UsageTally
  /** Keys shown since the last reset; a checkpoint is made only where it is empty. */
  private readonly recent = new Set<string>()

  constructor(
    readonly path: string,
    private readonly parse: LineParser,
    prices: PriceTable,
    /** Count only the usage reported from then on (see `UsageTally`). */
    usageSince?: number,
  ) {
    this.tally = new UsageTally(prices, usageSince)
  }

  /** Reads what was appended since the last call; true when anything new was read. */
  catchUp(): Effect.Effect<boolean, Error> {
    // Suspended: the offset is read when the effect runs (after a lock), not when it is made.
    return Effect.suspend(() => this.readNew())
  }

  private readNew(): Effect.Effect<boolean, Error> {
    return Effect.map(
      readLines(this.path, this.offset, {
        line: (text, offset) => {
          this.take(text, offset)
          return true
        },
        oversized: () => {
          this.skipped++
        },
      }),
      (end) => {
        const moved = end !== this.offset
        this.offset = end
        return moved
      },
    )
  }

  private take(text: string, offset: number) {
    if (text.trim() === "") return
    const parsed = this.parse(text)
    if (parsed === undefined) {
      this.skipped++
      return
    }
    if (parsed.model !== undefined) this.tally.model = parsed.model
    if (parsed.usage !== undefined) this.tally.add(parsed.usage)
    if (parsed.reset === true) this.recent.clear()
    // A page read again from a checkpoint starts with no keys: so must the first pass there.
    const clean = this.recent.size === 0
    const entries = freshEntries(parsed, this.recent)
    if (entries.length === 0) return
    const last = this.checkpoints[this.checkpoints.length - 1]
    if (clean && last !== undefined && this.total - last.seq >= CHECKPOINT_ENTRIES) {
      this.checkpoints.push({ seq: this.total, offset })
    }
    for (const entry of entries) {
      this.tail.push({ seq: this.total++, ...entry })
    }
    if (this.tail.length > TAIL_ENTRIES) this.tail.splice(0, this.tail.length - TAIL_ENTRIES)
  }

  /** Entries `[from, to)` read again from disk, from the checkpoint at or before `from`. */
  private readRange(from: number, to: number): Effect.Effect<TranscriptEntry[], Error> {
    return Effect.suspend(() => {
      let start = this.checkpoints[0] ?? { seq: 0, offset: 0 }
      for (const c of this.checkpoints) if (c.seq <= from) start = c
      const out: TranscriptEntry[] = []
      const recent = new Set<string>()
      let seq = start.seq
      return Effect.as(
        readLines(
          this.path,
          start.offset,
          {
            line: (text) => {
              if (text.trim() === "") return true
              const parsed = this.parse(text)
              for (const entry of parsed === undefined ? [] : freshEntries(parsed, recent)) {
                if (seq >= from && seq < to) out.push({ seq, ...entry })
                seq++
              }
              return seq < to
            },
            oversized: () => {},
          },
          this.offset,
        ),
        out,
      )
    })
  }

  /** One page, after reading what is new. */
  page(query: PageQuery): Effect.Effect<TranscriptPage, Error> {
    return Effect.gen(this, function* () {
      yield* this.catchUp()
      const limit = Math.max(1, Math.min(MAX_PAGE, query.limit ?? 200))
      const total = this.total
      let from: number
      let to: number
      if (query.after !== undefined) {
        from = Math.min(Math.max(0, query.after), total)
        to = Math.min(total, from + limit)
      } else {
        to = Math.min(Math.max(0, query.before ?? total), total)
        from = Math.max(0, to - limit)
      }
      const tailStart = this.tail[0]?.seq ?? total
      const entries =
        from >= tailStart
          ? this.tail.slice(from - tailStart, to - tailStart)
          : yield* this.readRange(from, to)
      return {
        entries,
        total,
        skipped: this.skipped,
        usage: this.tally.usage,
        model: this.tally.model,
      }
    })
  }
}
