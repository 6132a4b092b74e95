import { ESCAPES } from "../../src/runners/output-tally.js"

/**
 * What a search does not see: the terminal escapes `lastLineOf` drops (the same pattern), and
 * the control characters left over, but tab, line feed and carriage return (a CR or an LF ends
 * the line a hit is shown in).
 */
const STRIP = new RegExp(`${ESCAPES.source}|[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f]`, "g")

/**
 * Lower case, index for index: `toLowerCase` keeps a string's length but for a few letters
 * (`İ` becomes two units); those few are then left as they are, so that a hit's index in the
 * folded text is its index in the plain one.
 */
const foldCase = (text: string): string => {
  const lower = text.toLowerCase()
  if (lower.length === text.length) return lower
  let out = ""
  for (const ch of text) {
    const l = ch.toLowerCase()
    out += l.length === ch.length ? l : ch
  }
  return out
}

/** One match: the absolute log offset of its first byte, and its line as plain text. */
export interface ScanHit {
  readonly offset: number
  readonly line: string
}

export interface ScannerOptions {
  /**
   * A line longer than this (terminal UIs redraw for megabytes without a newline) is scanned
   * in windows of this many bytes that overlap by `overlapBytes`: memory stays bounded and a
   * match across a window's edge is still found, once.
   */
  readonly maxLineBytes?: number
  readonly overlapBytes?: number
  /** A hit's `line` is cut to this many characters around the match. */
  readonly maxLineChars?: number
}

const DEFAULT_MAX_LINE_BYTES = 64 * 1024
const DEFAULT_OVERLAP_BYTES = 4096
const DEFAULT_MAX_LINE_CHARS = 240
/** An escape sequence cut by a window's edge is re-read whole when it starts this close. */
const ESCAPE_REACH = 64
const EMPTY = Buffer.alloc(0)

/**
 * A case-insensitive literal search over one log's bytes as they are read, in any chunks:
 * whole lines are scanned (the bytes after the last newline wait for the next chunk), so a
 * match split by a chunk or a segment boundary, or by colour codes inside a word, is found.
 * Offsets are exact for valid UTF-8 (an invalid byte reads as U+FFFD and may shift later
 * offsets on its line by up to two bytes).
 */
export class ReferenceScanner {
  readonly #needle: string
  readonly #maxLineBytes: number
  readonly #overlapBytes: number
  readonly #maxLineChars: number
  #carry: Buffer = EMPTY
  #carryStart = 0
  /** Hits below this offset were reported (windows of a long line overlap). */
  #nextHit = 0

  constructor(query: string, options: ScannerOptions = {}) {
    this.#needle = foldCase(query)
    this.#maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES
    this.#overlapBytes = Math.min(
      options.overlapBytes ?? DEFAULT_OVERLAP_BYTES,
      Math.floor(this.#maxLineBytes / 2),
    )
    this.#maxLineChars = options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS
  }

  /** Bytes held for the next chunk: at most `maxLineBytes` plus one chunk. */
  get heldBytes(): number {
    return this.#carry.length
  }

  /** Scans `bytes` logged at `offset`; a gap since the last chunk ends the line before it. */
  push(offset: number, bytes: Uint8Array): ScanHit[] {
    const hits: ScanHit[] = []
    if (this.#carry.length > 0 && offset !== this.#carryStart + this.#carry.length) {
      hits.push(...this.finish())
    }
    if (this.#carry.length === 0) this.#carryStart = offset
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const newline = buf.lastIndexOf(0x0a)
    if (newline >= 0) {
      const lines = buf.subarray(0, newline + 1)
      this.#scan(
        this.#carry.length > 0 ? Buffer.concat([this.#carry, lines]) : lines,
        this.#carryStart,
        hits,
      )
      this.#carry = Buffer.from(buf.subarray(newline + 1))
      this.#carryStart = offset + newline + 1
    } else {
      this.#carry = Buffer.concat([this.#carry, buf])
    }
    while (this.#carry.length > this.#maxLineBytes) {
      const carry = this.#carry
      this.#scan(carry, this.#carryStart, hits)
      let cut = carry.length - this.#overlapBytes
      while (cut > 0 && ((carry[cut] ?? 0) & 0xc0) === 0x80) cut-- // not inside a UTF-8 character
      const esc = carry.lastIndexOf(0x1b, cut)
      if (esc >= 0 && cut - esc < ESCAPE_REACH) cut = esc
      this.#carry = Buffer.from(carry.subarray(cut))
      this.#carryStart += cut
    }
    return hits
  }

  /** Scans what is held (the log's last line, without a newline yet). */
  finish(): ScanHit[] {
    const hits: ScanHit[] = []
    if (this.#carry.length > 0) this.#scan(this.#carry, this.#carryStart, hits)
    this.#carry = EMPTY
    return hits
  }

  #scan(window: Buffer, base: number, hits: ScanHit[]) {
    const text = window.toString("utf8")
    const plain = text.replace(STRIP, "")
    const folded = foldCase(plain)
    let at = folded.indexOf(this.#needle)
    if (at < 0) return
    // Where each stripped piece was: a plain index maps back to a text index, then to bytes.
    const removed: Array<{ readonly at: number; readonly before: number }> = []
    let total = 0
    for (const m of text.matchAll(STRIP)) {
      total += m[0].length
      removed.push({
        at: (m.index ?? 0) - (total - m[0].length),
        before: total,
      })
    }
    let r = 0
    let shift = 0
    let unit = 0
    let byte = 0
    while (at >= 0) {
      while (r < removed.length && (removed[r]?.at ?? 0) <= at) {
        shift = removed[r]?.before ?? shift
        r++
      }
      const textIndex = at + shift
      byte += Buffer.byteLength(text.slice(unit, textIndex))
      unit = textIndex
      const offset = base + byte
      if (offset >= this.#nextHit) {
        hits.push({ offset, line: this.#lineAt(plain, at) })
        this.#nextHit = offset + 1
      }
      at = folded.indexOf(this.#needle, at + Math.max(1, this.#needle.length))
    }
  }

  #lineAt(plain: string, at: number): string {
    const start = Math.max(plain.lastIndexOf("\n", at - 1), plain.lastIndexOf("\r", at - 1)) + 1
    const after = at + this.#needle.length
    const lf = plain.indexOf("\n", after)
    const cr = plain.indexOf("\r", after)
    const end = Math.min(lf < 0 ? plain.length : lf, cr < 0 ? plain.length : cr)
    const max = this.#maxLineChars
    if (end - start <= max) return plain.slice(start, end).trim()
    const from = Math.max(
      start,
      Math.min(at - Math.floor((max - this.#needle.length) / 2), end - max),
    )
    const to = Math.min(end, from + max)
    return `${from > start ? "…" : ""}${plain.slice(from, to).trim()}${to < end ? "…" : ""}`
  }
}
