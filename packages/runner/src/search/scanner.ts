import { isUtf8 } from "node:buffer"
import { ESCAPES } from "../runners/runner-state.js"

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
export const foldCase = (text: string): string => {
  const lower = text.toLowerCase()
  if (lower.length === text.length) return lower
  let out = ""
  for (const ch of text) {
    const l = ch.toLowerCase()
    out += l.length === ch.length ? l : ch
  }
  return out
}

/** Bytes after an ESC that open a string (OSC, DCS, SOS, PM, APC) running to BEL or ESC. */
const STRING_INTRODUCERS = new Set([0x5d, 0x50, 0x58, 0x5e, 0x5f])

/** Above every code point `toLowerCase` changes (exported for the test that says so). */
export const LAST_CASED = 0x1f000

/**
 * Every character whose `foldCase` is another (`A` → `a`, `K` KELVIN SIGN → `k`), by that
 * other. Made on the first search: 0x1f000 code points, about 20 ms.
 */
let foldsTo: Map<string, string[]> | undefined

/** The characters of a log that fold to `c` (`c` itself among them when it folds to itself). */
const foldingTo = (c: string): ReadonlyArray<string> => {
  // ASCII without the table (20 ms of the event loop): only KELVIN SIGN folds into it.
  if (c.length === 1 && c.charCodeAt(0) < 0x80) {
    const upper = c.toUpperCase()
    return [c, ...(upper !== c ? [upper] : []), ...(c === "k" ? ["\u212a"] : [])]
  }
  if (foldsTo === undefined) {
    foldsTo = new Map()
    for (let cp = 0; cp < LAST_CASED; cp++) {
      if (cp >= 0xd800 && cp < 0xe000) continue
      const ch = String.fromCodePoint(cp)
      const lower = foldCase(ch)
      if (lower !== ch) foldsTo.set(lower, [...(foldsTo.get(lower) ?? []), ch])
    }
  }
  return [...(foldCase(c) === c ? [c] : []), ...(foldsTo.get(c) ?? [])]
}

const hex = (byte: number) => `\\x${byte.toString(16).padStart(2, "0")}`

/** What is stripped between two characters of a hit, but strings: CSI, ESC x, controls. */
const GAP =
  "(?:\\x1b\\[[\\x30-\\x3f]*[\\x20-\\x2f]*[\\x40-\\x7e]|\\x1b[\\x20-\\x2f][\\x30-\\x7e]|\\x1b[\\x40-\\x5a\\x5c-\\x5f]|[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f])*"
/** A string's start: what a hit may skip from here is not bounded, so this is a candidate. */
const STRING_START = "\\x1b[\\x50\\x58\\x5d-\\x5f]"
/** Characters of the query the candidate pattern holds at most. */
const CANDIDATE_CHARS = 32
/** Lower-case ASCII from the most frequent in text; others rank as `m`, non-ASCII below all. */
const FREQUENT = "zqjxkvbywgpfmucdlhrsnioate "

/** Where a hit may be, found in a window's raw bytes. */
interface Candidates {
  /**
   * Over the bytes read as latin1 (a character a byte): the query's first characters, each
   * as any of the byte sequences that fold to it, with stripped escapes and controls between
   * them, up to the last one or to a string's start (a string may hide anything). Every
   * hit's bytes match it; each match is verified.
   */
  readonly pattern: RegExp
  /**
   * The query's characters, the likely rarest first, each as the bytes that fold to it: a
   * window without one of them holds no hit (stripping never removes a printable character
   * outside a sequence), and `indexOf` says so at memory speed.
   */
  readonly required: ReadonlyArray<ReadonlyArray<number | Buffer>>
}

/**
 * `undefined` when the candidates cannot be said: a query with a line break (a hit may span
 * lines), σ or ς (the lower case of Σ depends on the letters around it) or U+FFFD (what an
 * invalid byte reads as); those windows are scanned whole.
 */
const candidatesOf = (needle: string): Candidates | undefined => {
  if (needle === "" || /[\n\r\u03c2\u03c3\ufffd]/.test(needle)) return undefined
  const alternatives: string[] = []
  const required = new Map<string, ReadonlyArray<number | Buffer>>()
  for (const c of [...needle]) {
    if (c.length === 1 && c.charCodeAt(0) >= 0xd800 && c.charCodeAt(0) < 0xe000) return undefined
    const encoded = foldingTo(c).map((f) => Buffer.from(f, "utf8"))
    if (encoded.length === 0) return undefined
    required.set(
      c,
      encoded.map((e) => (e.length === 1 ? (e[0] ?? 0) : e)),
    )
    const single = encoded.filter((e) => e.length === 1).map((e) => hex(e[0] ?? 0))
    const multi = encoded.filter((e) => e.length > 1).map((e) => [...e].map(hex).join(""))
    const all = [...(single.length > 0 ? [`[${single.join("")}]`] : []), ...multi]
    alternatives.push(all.length === 1 ? (all[0] ?? "") : `(?:${all.join("|")})`)
  }
  const rank = (c: string) =>
    c.charCodeAt(0) >= 0x80
      ? -1
      : FREQUENT.includes(c)
        ? FREQUENT.indexOf(c)
        : FREQUENT.indexOf("m")
  // From the likely rarest character on: fewer places where a match is tried (V8's scan
  // for the first character is about as fast either way).
  const chars = [...needle]
  let from = 0
  for (let i = 1; i < chars.length; i++) {
    if (rank(chars[i] ?? "") < rank(chars[from] ?? "")) from = i
  }
  const tail = alternatives.slice(from, from + CANDIDATE_CHARS)
  let pattern = tail.at(-1) ?? ""
  for (let i = tail.length - 2; i >= 0; i--) {
    pattern = `${tail[i]}${GAP}(?:${STRING_START}|${pattern})`
  }
  return {
    pattern: new RegExp(pattern, "g"),
    required: [...required.entries()].sort((a, b) => rank(a[0]) - rank(b[0])).map(([, r]) => r),
  }
}

/** Where a string (OSC, DCS, SOS, PM, APC) starts: one may join lines into one. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: ESC is what is looked for
const STRING_ANYWHERE = /\x1b[\x50\x58\x5d-\x5f]/
/** Occurrences of the rarest character above which the whole window is matched instead. */
const ANCHORS_MOST = 32
/** Of the query's characters, the first few by `FREQUENT` are counted for the rarest. */
const ANCHORS_TRIED = 3

/**
 * Where the rarest of the query's first `ANCHORS_TRIED` characters (by the guess of
 * `FREQUENT`) is in `window`, in order, if it is there at most `ANCHORS_MOST` times: every
 * hit holds it, so only the lines holding it can hold one.
 */
const rareAnchors = (
  window: Buffer,
  required: ReadonlyArray<ReadonlyArray<number | Buffer>>,
): number[] | undefined => {
  let best: number[] | undefined
  for (const forms of required.slice(0, ANCHORS_TRIED)) {
    const found: number[] = []
    for (const form of forms) {
      for (let at = window.indexOf(form); at >= 0; at = window.indexOf(form, at + 1)) {
        found.push(at)
        if (found.length > ANCHORS_MOST) break
      }
      if (found.length > ANCHORS_MOST) break
    }
    if (found.length <= ANCHORS_MOST && (best === undefined || found.length < best.length)) {
      best = found
    }
  }
  return best?.sort((a, b) => a - b)
}

/**
 * The character at `at` as `toString("utf8")` reads it: its bytes and its UTF-16 units. An
 * invalid sequence's longest valid start reads as one U+FFFD (WHATWG, as V8 decodes), so
 * offsets after invalid bytes stay exact.
 */
const readChar = (bytes: Uint8Array, at: number): readonly [bytes: number, units: number] => {
  const lead = bytes[at] ?? 0
  let need = 0
  let lower = 0x80
  let upper = 0xbf
  if (lead >= 0xc2 && lead <= 0xdf) need = 1
  else if (lead >= 0xe0 && lead <= 0xef) {
    need = 2
    if (lead === 0xe0) lower = 0xa0
    if (lead === 0xed) upper = 0x9f
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    need = 3
    if (lead === 0xf0) lower = 0x90
    if (lead === 0xf4) upper = 0x8f
  } else return [1, 1]
  for (let i = 1; i <= need; i++) {
    const next = bytes[at + i]
    if (next === undefined || next < lower || next > upper) return [i, 1]
    lower = 0x80
    upper = 0xbf
  }
  return [need + 1, need === 3 ? 2 : 1]
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

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024
const DEFAULT_OVERLAP_BYTES = 4096
export const DEFAULT_MAX_LINE_CHARS = 240
/** An escape sequence cut by a window's edge is re-read whole when it starts this close. */
const ESCAPE_REACH = 64
/**
 * Bytes of lines scanned at once. A window's text stays out of V8's large-object space
 * (over 128 KiB): measured on this machine (Node 20), decoding 256 KiB windows ran at
 * 190 MB/s, 64 KiB ones at 4 GB/s; every large allocation is fresh pages to fault in.
 */
const PIECE_BYTES = 32 * 1024

/**
 * A case-insensitive literal search over one log's bytes as they are read, in any chunks:
 * whole lines are scanned (the bytes after the last newline wait for the next chunk), so a
 * match split by a chunk or a segment boundary, or by colour codes inside a word, is found.
 * Lines are scanned in windows of up to 32 KiB (and the line held): a window is what is
 * decoded, stripped and folded as one text (an OSC or DCS string left open ends with it).
 * Offsets are exact, after bytes that are not UTF-8 too (each reads as U+FFFD).
 *
 * Speed (this 2-core machine, Node 20, under other load): where a query does not occur, a
 * window lacking one of its characters costs a memchr; otherwise a pattern over the raw
 * bytes (`candidatesOf`) runs at about 1 GB/s and `searchLogs` scans generated colourful
 * logs at 500-900 MB/s, against 11-45 MB/s before; each line holding a candidate costs what
 * the old scan did. `pnpm --filter @geppetto/server run bench -- --only search` measures it.
 */
export class LogScanner {
  readonly #needle: string
  readonly #candidates: Candidates | undefined
  readonly #maxLineBytes: number
  readonly #overlapBytes: number
  readonly #maxLineChars: number
  /** The line not ended yet (bytes after the last newline), then the window built from it. */
  readonly #held: Buffer
  #heldLength = 0
  #heldStart = 0
  /** Hits below this offset were reported (windows of a long line overlap). */
  #nextHit = 0

  constructor(query: string, options: ScannerOptions = {}) {
    this.#needle = foldCase(query)
    this.#candidates = candidatesOf(this.#needle)
    this.#maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES
    this.#overlapBytes = Math.min(
      options.overlapBytes ?? DEFAULT_OVERLAP_BYTES,
      Math.floor(this.#maxLineBytes / 2),
    )
    this.#maxLineChars = options.maxLineChars ?? DEFAULT_MAX_LINE_CHARS
    this.#held = Buffer.allocUnsafe(this.#maxLineBytes + PIECE_BYTES)
  }

  /** Bytes held for the next chunk: at most `maxLineBytes` plus 32 KiB. */
  get heldBytes(): number {
    return this.#heldLength
  }

  /**
   * Scans `bytes` logged at `offset`; a gap since the last chunk ends the line before it.
   * `bytes` may be reused by the caller once this returns.
   */
  push(offset: number, bytes: Uint8Array): ScanHit[] {
    const hits: ScanHit[] = []
    if (this.#heldLength > 0 && offset !== this.#heldStart + this.#heldLength) {
      hits.push(...this.finish())
    }
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (let at = 0; at < buf.length; ) {
      const piece = buf.subarray(at, at + PIECE_BYTES)
      const newline = piece.lastIndexOf(0x0a)
      if (newline >= 0) {
        const lines = piece.subarray(0, newline + 1)
        if (this.#heldLength === 0) {
          this.#scan(lines, offset + at, hits)
        } else {
          lines.copy(this.#held, this.#heldLength)
          this.#scan(this.#held.subarray(0, this.#heldLength + lines.length), this.#heldStart, hits)
          this.#heldLength = 0
        }
        at += newline + 1
      } else {
        if (this.#heldLength === 0) this.#heldStart = offset + at
        piece.copy(this.#held, this.#heldLength)
        this.#heldLength += piece.length
        at += piece.length
        this.#scanLongLine(hits)
      }
    }
    return hits
  }

  /** Scans what is held (the log's last line, without a newline yet). */
  finish(): ScanHit[] {
    const hits: ScanHit[] = []
    if (this.#heldLength > 0) {
      this.#scan(this.#held.subarray(0, this.#heldLength), this.#heldStart, hits)
    }
    this.#heldLength = 0
    return hits
  }

  /** A line longer than `maxLineBytes` so far: its head is scanned, the overlap kept. */
  #scanLongLine(hits: ScanHit[]) {
    while (this.#heldLength > this.#maxLineBytes) {
      const held = this.#held.subarray(0, this.#heldLength)
      this.#scan(held, this.#heldStart, hits)
      const keep = held.length - this.#overlapBytes
      let cut = keep
      // Not inside a UTF-8 character (at most three continuation bytes: binary is not walked).
      while (cut > keep - 3 && ((held[cut] ?? 0) & 0xc0) === 0x80) cut--
      const esc = held.lastIndexOf(0x1b, cut)
      if (esc >= 0 && cut - esc < ESCAPE_REACH) cut = esc
      if (cut <= 0) cut = keep
      held.copyWithin(0, cut)
      this.#heldLength -= cut
      this.#heldStart += cut
    }
  }

  /**
   * Every hit in `window`, as if the whole window were decoded, stripped and folded (the
   * reference, `#scanExact`), but only the lines around a candidate are (`candidatesOf`). A
   * line is verified whole, with the lines an OSC/DCS string joins to it, so the stripping
   * and folding inside it are those of the whole window. A window that lacks one of the
   * query's characters is done after an `indexOf` (memchr); one where a rare character of
   * it is (`rareAnchors`) and no string starts, the pattern runs on those lines alone.
   */
  #scan(window: Buffer, base: number, hits: ScanHit[]) {
    const candidates = this.#candidates
    if (candidates === undefined) return this.#scanExact(window, base, hits)
    for (const forms of candidates.required) {
      if (!forms.some((form) => window.indexOf(form) >= 0)) return
    }
    const { pattern } = candidates
    const raw = window.toString("latin1")
    const length = window.length
    const lineEnd = (from: number) => {
      const newline = window.indexOf(0x0a, from)
      return newline < 0 ? length : newline + 1
    }
    const anchors = rareAnchors(window, candidates.required)
    if (anchors !== undefined && !STRING_ANYWHERE.test(raw)) {
      // No string: no hit spans lines, so each line holding the anchor is tried alone.
      let done = 0
      for (const at of anchors) {
        if (at < done) continue
        const start = at > 0 ? window.lastIndexOf(0x0a, at - 1) + 1 : 0
        const end = lineEnd(at)
        done = end
        pattern.lastIndex = 0
        if (pattern.test(raw.slice(start, end))) {
          this.#scanExact(window.subarray(start, end), base + start, hits)
        }
      }
      return
    }
    /** The string (OSC, DCS, ...) open at `at` if any (its ESC), parsed from `from`, outside any. */
    const openString = (from: number, at: number): number => {
      if (at <= from) return -1
      const esc = window.subarray(from, at).lastIndexOf(0x1b)
      if (esc < 0) return -1
      const start = from + esc
      if (start + 1 >= at || !STRING_INTRODUCERS.has(window[start + 1] ?? 0)) return -1
      const bel = window.indexOf(0x07, start + 2)
      return bel < 0 || bel >= at ? start : -1
    }
    let floor = 0
    pattern.lastIndex = 0
    for (let m = pattern.exec(raw); m !== null; m = pattern.exec(raw)) {
      let start = m.index > floor ? window.lastIndexOf(0x0a, m.index - 1) + 1 : floor
      if (start < floor || openString(floor, start) >= 0) start = floor
      let from = start
      let end = lineEnd(m.index + m[0].length)
      for (let open = openString(from, end); open >= 0; open = openString(from, end)) {
        const bel = window.indexOf(0x07, open + 2)
        const esc = window.indexOf(0x1b, open + 2)
        const close = bel < 0 ? esc : esc < 0 ? bel : Math.min(bel, esc)
        if (close < 0) {
          end = length
          break
        }
        from = close
        end = lineEnd(close + 1)
      }
      this.#scanExact(window.subarray(start, end), base + start, hits)
      if (end >= length) break
      floor = end
      pattern.lastIndex = end
    }
  }

  /** The reference: the whole window decoded, stripped and folded. */
  #scanExact(window: Buffer, base: number, hits: ScanHit[]) {
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
    const valid = isUtf8(window)
    while (at >= 0) {
      while (r < removed.length && (removed[r]?.at ?? 0) <= at) {
        shift = removed[r]?.before ?? shift
        r++
      }
      const textIndex = at + shift
      if (valid) {
        byte += Buffer.byteLength(text.slice(unit, textIndex))
        unit = textIndex
      } else {
        while (unit < textIndex && byte < window.length) {
          const [bytes, units] = readChar(window, byte)
          byte += bytes
          unit += units
        }
      }
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
