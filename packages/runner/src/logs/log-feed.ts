import { Effect, type Scope } from "effect"
import { describeCause, LogStoreError } from "../domain/errors.js"
import { markStage } from "../trace/stage-trace.js"
import { type DirWatch, watchDir } from "./dir-watch.js"
import { CHUNK_BYTES, type LogChunk, LogCursor, logEndSync } from "./log-cursor.js"

/** Who follows a log: told of each chunk, in order, synchronously. */
export interface LogFollower {
  /**
   * Each chunk from the subscription's offset on, in order; called from the feed's pump, so
   * it must be quick and must not throw (a throw ends the subscription with an error). The
   * same chunk object goes to every follower that was at its offset: do not modify it.
   */
  readonly onChunk: (chunk: LogChunk) => void
  /** The log could not be read; no chunk follows. */
  readonly onError?: (error: LogStoreError) => void
  /**
   * A person's view (a terminal socket): handed each chunk before the followers that count
   * or detect, so that a keystroke's echo leaves before the bookkeeping on it runs.
   */
  readonly viewer?: boolean
}

/** A follower's place in the feed. */
export interface LogSubscription {
  /** Offset after the last byte delivered. */
  readonly position: () => number
  /**
   * The log's end now: how far the shared tail has read while anyone follows it live (give or
   * take one wake-up's bytes), else from the folder's listing.
   */
  readonly end: () => number
  /** Stops delivery until `resume` (flow control). Nothing is lost: the bytes stay in the log. */
  readonly pause: () => void
  /** Delivers again from `position`: from disk until caught up, then live. */
  readonly resume: () => void
  readonly paused: () => boolean
  /**
   * Starts delivering, now, what the log holds beyond `position`: up to 4 MiB before it
   * returns, the rest in turns of the event loop (a long backlog must not stall the server).
   */
  readonly catchUp: () => void
}

/**
 * A flood's writes come faster than BURST_GAP_MS apart: once QUICK_WAKES of them have come in a
 * row, the reader waits PACE_MS before each read, so that it reads the burst in a few large
 * chunks instead of one small read per write (measured on a 40 MB flood: tens of thousands of
 * reads, more CPU than tmux spent producing the bytes). A lone write (a keystroke's echo) is
 * read at once, and so are the next few after it: a program that answers a key in two or three
 * writes (the echo, then a status line or the cursor) shows all of it without a pause
 * (pacing from the second wake on held the rest of such an echo back PACE_MS).
 */
const BURST_GAP_MS = 5
const QUICK_WAKES = 4
const PACE_MS = 3

/**
 * A reader's pace: called at each wake-up, the ms to wait before reading (0: read now).
 * `now` is the monotonic clock in ms (a parameter for the unit test).
 */
export const makeBurstPacer = (now: () => number = () => performance.now()): (() => number) => {
  let lastWake = Number.NEGATIVE_INFINITY
  let quick = 0
  return () => {
    const at = now()
    quick = at - lastWake < BURST_GAP_MS ? quick + 1 : 0
    lastWake = at
    return quick >= QUICK_WAKES ? PACE_MS : 0
  }
}

/**
 * Bytes one turn of the pump (or of a follower's catch-up) reads before it lets the event
 * loop run: a flood must not hold up a keystroke on another runner's socket.
 */
const TURN_BYTES = 512 * 1024
/** What `catchUp` reads before it returns. */
const CATCH_UP_BYTES = 4 * 1024 * 1024

interface Sub {
  readonly follower: LogFollower
  position: number
  paused: boolean
  closed: boolean
  /** Its own cursor while it reads older bytes than the feed's head. */
  cursor: LogCursor | undefined
  catchUpTurn: ReturnType<typeof setImmediate> | undefined
}

const failure = (dir: string, message: string, cause: unknown) =>
  new LogStoreError({ logDir: dir, message: `${message} in ${dir}`, cause: describeCause(cause) })

/**
 * One tail per log folder, shared by everyone who follows it: the folder watch wakes it, it
 * reads the new bytes once and hands the same chunk to every follower that is caught up (the
 * runner's own counters, the attention detector, each terminal viewer). A follower that is
 * behind (it started from an older offset, or paused for flow control) reads the bytes it
 * lacks from disk with a cursor of its own until it reaches the head, then joins the others.
 * So a flood is read from disk once, whatever the number of viewers, and a slow viewer never
 * holds back the rest. Plain callbacks, not Effect streams: per chunk this is the hot path
 * of every busy runner, and the fiber machinery per element cost more than the reads
 * (profiled at 100 runners).
 */
class Feed {
  readonly #live = new Set<Sub>()
  readonly #all = new Set<Sub>()
  readonly #head: LogCursor
  #stopListening: () => void
  readonly #pace = makeBurstPacer()
  #timer: ReturnType<typeof setTimeout> | undefined
  #immediate: ReturnType<typeof setImmediate> | undefined
  #pumping = false
  #again = false

  constructor(
    readonly dir: string,
    watch: DirWatch,
    start: number,
  ) {
    this.#head = new LogCursor(dir, start)
    this.#stopListening = watch.onChange((filename) => {
      // "" is a change the watch could not name (a lost folder): worth a look.
      if (filename === "" || filename.startsWith("out-")) this.#wake()
    })
  }

  get head(): number {
    return this.#head.position
  }

  /** See `LogSubscription.end`. */
  get end(): number {
    return this.#live.size > 0
      ? this.#head.position
      : Math.max(this.#head.position, logEndSync(this.dir))
  }

  get followers(): number {
    return this.#all.size
  }

  add(follower: LogFollower, from: number): Sub {
    const sub: Sub = {
      follower,
      position: Math.max(0, from),
      paused: false,
      closed: false,
      cursor: undefined,
      catchUpTurn: undefined,
    }
    this.#all.add(sub)
    this.#join(sub)
    return sub
  }

  remove(sub: Sub): void {
    sub.closed = true
    this.#leave(sub)
    this.#all.delete(sub)
  }

  close(): void {
    this.#stopListening()
    this.#stopListening = () => {}
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    if (this.#immediate !== undefined) clearImmediate(this.#immediate)
    this.#timer = undefined
    this.#immediate = undefined
    for (const sub of this.#all) this.remove(sub)
    this.#head.close()
  }

  pause(sub: Sub): void {
    if (sub.closed || sub.paused) return
    sub.paused = true
    this.#leave(sub)
  }

  resume(sub: Sub): void {
    if (sub.closed || !sub.paused) return
    sub.paused = false
    this.#join(sub)
  }

  /** The follower's backlog, then whatever the log holds now: 4 MiB at once, then in turns. */
  catchUp(sub: Sub): void {
    if (sub.closed || sub.paused) return
    if (!this.#live.has(sub)) {
      if (sub.catchUpTurn !== undefined) clearImmediate(sub.catchUpTurn)
      sub.catchUpTurn = undefined
      this.#catchUpTurn(sub, CATCH_UP_BYTES)
    }
    if (this.#live.has(sub)) this.#pump(CATCH_UP_BYTES)
  }

  /** Stops live delivery and any catch-up under way. */
  #leave(sub: Sub): void {
    this.#live.delete(sub)
    if (sub.catchUpTurn !== undefined) clearImmediate(sub.catchUpTurn)
    sub.catchUpTurn = undefined
    if (sub.closed) {
      sub.cursor?.close()
      sub.cursor = undefined
    }
    // With no one at the head it stops reading: let go of its file, which retention may
    // delete (it reopens where it was when someone joins).
    if (this.#live.size === 0 && !this.#pumping) this.#head.close()
  }

  /** Live at once when at (or past) the head; otherwise a catch-up from disk, one turn at a time. */
  #join(sub: Sub): void {
    if (sub.position >= this.#head.position) {
      sub.cursor?.close()
      sub.cursor = undefined
      this.#live.add(sub)
      // Bytes may have arrived with no wake-up left to announce them: look on the next turn
      // (not now: the caller may be a follower's own callback, or not be set up yet).
      this.#lookSoon()
      return
    }
    sub.catchUpTurn ??= setImmediate(() => {
      sub.catchUpTurn = undefined
      this.#catchUpTurn(sub, TURN_BYTES)
    })
  }

  #catchUpTurn(sub: Sub, budget: number): void {
    let left = budget
    let reopened = false
    while (!sub.closed && !sub.paused) {
      const head = this.#head.position
      if (sub.position >= head) {
        this.#join(sub)
        return
      }
      if (left <= 0) {
        sub.catchUpTurn ??= setImmediate(() => {
          sub.catchUpTurn = undefined
          this.#catchUpTurn(sub, TURN_BYTES)
        })
        return
      }
      let chunk: LogChunk | undefined
      try {
        sub.cursor ??= new LogCursor(this.dir, sub.position)
        chunk = sub.cursor.read(Math.min(CHUNK_BYTES, head - sub.position))
      } catch (e) {
        this.#fail(sub, failure(this.dir, "could not read the log", e))
        return
      }
      if (chunk === undefined && !reopened) {
        // A segment pruned between listing and opening: one more look with a fresh listing.
        reopened = true
        sub.cursor?.close()
        sub.cursor = undefined
        continue
      }
      if (chunk === undefined) {
        // Behind the head with nothing to read: every byte up to the head went with
        // retention. Join at the head.
        sub.position = head
        this.#join(sub)
        return
      }
      left -= chunk.bytes.length
      this.#deliver(sub, chunk)
    }
  }

  #lookSoon(): void {
    if (this.#pumping) {
      this.#again = true
      return
    }
    this.#immediate ??= setImmediate(() => {
      this.#immediate = undefined
      this.#pump(TURN_BYTES)
    })
  }

  #wake(): void {
    if (this.#live.size === 0) return
    markStage("log.wake", this.dir)
    this.#schedule(this.#pace())
  }

  #schedule(delayMs: number): void {
    if (this.#pumping) {
      this.#again = true
      return
    }
    if (this.#timer !== undefined || this.#immediate !== undefined) return
    if (delayMs > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#pump(TURN_BYTES)
      }, delayMs)
      return
    }
    this.#pump(TURN_BYTES)
  }

  /** Reads what is new and hands each chunk to every live follower; yields after `budget`. */
  #pump(budget: number): void {
    if (this.#pumping) {
      this.#again = true
      return
    }
    this.#pumping = true
    let left = budget
    try {
      do {
        this.#again = false
        while (this.#live.size > 0) {
          if (left <= 0) {
            this.#pumping = false
            this.#lookSoon()
            return
          }
          let chunk: LogChunk | undefined
          try {
            chunk = this.#head.read(CHUNK_BYTES)
          } catch (e) {
            const error = failure(this.dir, "could not read the log", e)
            for (const sub of [...this.#live]) this.#fail(sub, error)
            return
          }
          if (chunk === undefined) break
          markStage("log.read", this.dir)
          left -= chunk.bytes.length
          const live = [...this.#live]
          for (const sub of live) if (sub.follower.viewer === true) this.#deliver(sub, chunk)
          for (const sub of live) if (sub.follower.viewer !== true) this.#deliver(sub, chunk)
          // A short read is everything the writer had written: the next write wakes us again.
          if (this.#head.caughtUp) break
        }
      } while (this.#again && this.#live.size > 0)
    } finally {
      this.#pumping = false
    }
  }

  #deliver(sub: Sub, chunk: LogChunk): void {
    if (sub.closed || sub.paused) return
    const end = chunk.offset + chunk.bytes.length
    if (end <= sub.position) return
    const piece =
      chunk.offset < sub.position
        ? { offset: sub.position, bytes: chunk.bytes.subarray(sub.position - chunk.offset) }
        : chunk
    sub.position = end
    try {
      sub.follower.onChunk(piece)
    } catch (e) {
      this.#fail(sub, failure(this.dir, "a log follower failed", e))
    }
  }

  #fail(sub: Sub, error: LogStoreError): void {
    this.remove(sub)
    try {
      sub.follower.onError?.(error)
    } catch {
      // Nothing more to tell it.
    }
  }
}

const feeds = new Map<string, Feed>()

/**
 * Follows the log in `dir` from `from` (the oldest kept byte when older): every chunk, in
 * order, handed to `follower.onChunk` as it is logged. Closing the scope ends it. One read
 * per write of the log writer, however many follow the same log.
 */
export const followLogChunks = (
  dir: string,
  from: number,
  follower: LogFollower,
): Effect.Effect<LogSubscription, LogStoreError, Scope.Scope> =>
  Effect.gen(function* () {
    // The watch first: a write between it and the first read is then never missed.
    const watch = yield* watchDir(dir).pipe(
      Effect.mapError((e) => failure(dir, "could not watch the log folder", e)),
    )
    const { feed, sub } = yield* Effect.acquireRelease(
      Effect.try({
        try: () => {
          let feed = feeds.get(dir)
          if (feed === undefined) {
            // A new feed starts at the log's end: only followers behind it read older bytes.
            feed = new Feed(dir, watch, logEndSync(dir))
            feeds.set(dir, feed)
          }
          return { feed, sub: feed.add(follower, from) }
        },
        catch: (e) => failure(dir, "could not open the log", e),
      }),
      ({ feed, sub }) =>
        Effect.sync(() => {
          feed.remove(sub)
          if (feed.followers === 0 && feeds.get(dir) === feed) {
            feeds.delete(dir)
            feed.close()
          }
        }),
    )
    return {
      position: () => sub.position,
      end: () => feed.end,
      pause: () => feed.pause(sub),
      resume: () => feed.resume(sub),
      paused: () => sub.paused,
      catchUp: () => feed.catchUp(sub),
    }
  })
