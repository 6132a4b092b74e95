import {
  closeSync,
  constants as fsConstants,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  statSync,
} from "node:fs"
import { join } from "node:path"
import { findSegment, type Segment, sortSegments } from "./segments.js"

/** A piece of a log: `bytes` start at absolute offset `offset`. */
export interface LogChunk {
  readonly offset: number
  readonly bytes: Uint8Array
}

/**
 * Most bytes one read returns. A flood is read, framed and sent in pieces this large: at
 * 64 KiB the syscalls and frames per MB cost the server 20% more CPU (measured: 470 vs 380 ms
 * for 100 MB to one viewer).
 */
export const CHUNK_BYTES = 256 * 1024
/**
 * Reads at least this long keep the read buffer itself; shorter ones are copied out (so a
 * chunk never holds more than 4 times its size).
 */
const HAND_OVER_BYTES = CHUNK_BYTES / 4

/**
 * Only a real folder of regular files is a log: a symlink planted in `runners/` (for the
 * folder or one segment) would make the log route serve any file the server can read, so it
 * counts as no log at all. `lstat`, never `stat`, for that reason.
 */
export const listSegmentsSync = (dir: string) => {
  let names: string[] = []
  try {
    if (!lstatSync(dir).isDirectory())
      return { segments: [] as Segment[], lengths: new Map<string, number>() }
    names = readdirSync(dir)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
  }
  const segments: Segment[] = []
  const lengths = new Map<string, number>()
  for (const s of sortSegments(names)) {
    try {
      const info = lstatSync(join(dir, s.name))
      if (info.isSymbolicLink()) continue
      lengths.set(s.name, info.size)
    } catch {
      lengths.set(s.name, 0) // pruned meanwhile
    }
    segments.push(s)
  }
  return { segments, lengths }
}

/** The byte range `[start, end)` the listed segments hold. */
export const boundsOf = (
  segments: ReadonlyArray<Segment>,
  lengths: ReadonlyMap<string, number>,
): { readonly start: number; readonly end: number } => {
  const first = segments[0]
  const last = segments[segments.length - 1]
  if (first === undefined || last === undefined) return { start: 0, end: 0 }
  return { start: first.start, end: last.start + (lengths.get(last.name) ?? 0) }
}

/** Offset after the last byte logged in `dir` (0 for no log). */
export const logEndSync = (dir: string): number => {
  const { segments, lengths } = listSegmentsSync(dir)
  return boundsOf(segments, lengths).end
}

const dirChangeTime = (dir: string): number => {
  try {
    return statSync(dir).mtimeMs
  } catch {
    return -1
  }
}

/** Directory mtimes move in coarse kernel ticks: a change this recent may hide another. */
const MTIME_TICK_MS = 50

/**
 * Reads are synchronous and land in one shared buffer: they hit the page cache, and the
 * flood benchmark showed the thread-pool round trip of async reads (and a `fstat` before each
 * read, and a scratch copy of every chunk) costing more than tmux's own work. A long read keeps
 * the buffer (a new one is made for the next read); a short one, a keystroke's echo, is copied
 * out, so a quiet log holds no 64 KiB buffer per chunk.
 */
let scratch = Buffer.allocUnsafeSlow(CHUNK_BYTES)

const takeScratch = (length: number): Uint8Array => {
  if (length < HAND_OVER_BYTES) return Buffer.from(scratch.subarray(0, length))
  const bytes = scratch.subarray(0, length)
  scratch = Buffer.allocUnsafeSlow(CHUNK_BYTES)
  return bytes
}

/**
 * A cursor over one log folder: reads forward from its position across segment boundaries,
 * holding one open file at a time; a segment deleted by retention while open is still read to
 * its end, and a position older than the oldest kept byte moves up to it. Plain and
 * synchronous (I/O errors throw): the shared tail (`log-feed.ts`) calls it from its pump, and
 * `openLogReader` wraps it for Effect code.
 *
 * The folder is listed again only when a read comes up empty and its mtime moved (a file was
 * created, renamed or deleted, or moved within the last kernel tick), or a segment is full.
 */
export class LogCursor {
  #position: number
  #current: { readonly segment: Segment; readonly fd: number } | undefined
  #listedAt = Number.NaN
  #listed: ReadonlyArray<Segment> = []
  #caughtUp = false

  constructor(
    readonly dir: string,
    from: number,
  ) {
    this.#position = Math.max(0, from)
  }

  get position(): number {
    return this.#position
  }

  /**
   * The last read came up short of what it asked for within its segment: the writer had
   * written no more. (A read that stops at a segment's end says nothing of the next one.)
   */
  get caughtUp(): boolean {
    return this.#caughtUp
  }

  close(): void {
    if (this.#current !== undefined) closeSync(this.#current.fd)
    this.#current = undefined
  }

  /** Opens the segment holding the position: `retry` when retention deleted it meanwhile. */
  #open(): "opened" | "none" | "retry" {
    this.#listedAt = dirChangeTime(this.dir)
    const { segments, lengths } = listSegmentsSync(this.dir)
    this.#listed = segments
    const first = segments[0]
    if (first === undefined) return "none"
    if (this.#position < first.start) this.#position = first.start
    const segment = findSegment(segments, lengths, this.#position)
    if (segment === undefined) return "none"
    try {
      this.#current = {
        segment,
        fd: openSync(join(this.dir, segment.name), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW),
      }
      return "opened"
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return "retry" // pruned meanwhile
      throw e
    }
  }

  /**
   * Up to `max` bytes at the cursor, or `undefined` when there is nothing more yet. A chunk
   * shorter than asked for means the writer had written no more when it was read.
   */
  read(max: number): LogChunk | undefined {
    this.#caughtUp = true
    for (let attempt = 0; attempt < 4; attempt++) {
      if (this.#current === undefined) {
        const opened = this.#open()
        if (opened === "retry") continue
        if (opened === "none") return undefined
      }
      const current = this.#current
      if (current === undefined) return undefined
      const { segment, fd } = current
      const within = this.#position - segment.start
      const room = segment.size - within
      if (room > 0) {
        const want = Math.min(max, CHUNK_BYTES, room)
        const bytesRead = readSync(fd, scratch, 0, want, within)
        this.#caughtUp = bytesRead < want
        if (bytesRead > 0) {
          const chunk = { offset: this.#position, bytes: takeScratch(bytesRead) }
          this.#position += bytesRead
          return chunk
        }
      }
      // End of this file: move on when it is full, or when a newer file may have appeared.
      if (within >= segment.size) {
        this.close()
        continue
      }
      let later = this.#listed.find((s) => s.start > segment.start)
      if (later === undefined) {
        const changed = dirChangeTime(this.dir)
        // Wall clock, not Clock: it is measured against the kernel's mtime, and this plain
        // synchronous reader runs outside any fiber (the shared tail's pump).
        if (changed === this.#listedAt && Date.now() - changed > MTIME_TICK_MS) return undefined
        this.#listedAt = changed
        this.#listed = listSegmentsSync(this.dir).segments
        later = this.#listed.find((s) => s.start > segment.start)
      }
      if (later === undefined) return undefined
      this.close()
      if (this.#position < later.start) this.#position = later.start
    }
    return undefined
  }
}
