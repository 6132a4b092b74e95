import { isUtf8 } from "node:buffer"
import { ESCAPES } from "../runners/output-tally.js"

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
   * Over the bytes read as latin1 (a character a byte): the query from its likely rarest
   * character on (32 characters at most), each as any of the byte sequences that fold to
   * it, with stripped escapes and controls between them, up to the last one or to a
   * string's start (a string may hide anything). Every hit's bytes hold a match of it; each
   * match's line is verified.
   */
  readonly pattern: RegExp
  /**
   * The query's characters, the likely rarest first, each as the bytes that fold to it: a
   * window without one of them holds no hit (stripping never removes a printable character
   * outside a sequence), and `indexOf` says so at memory speed.
   */
  readonly required: ReadonlyArray<ReadonlyArray<number | Buffer>>
  /**
   * The query's likely rarest characters (up to `STARTS_TRIED`), each with its forms as
   * latin1 text and the pattern from its first place in the query on, sticky: tried only
   * where the character is, found by `indexOf` (memchr), when it is in a window at most
   * `STARTS_MOST` times. V8 runs `pattern` at about 1 ns a byte whatever its first
   * character; this is cheaper below about 4 places a KiB.
   */
  readonly starts: ReadonlyArray<{ readonly forms: ReadonlyArray<string>; readonly sticky: RegExp }>
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
  const suffix = (at: number) => {
    const tail = alternatives.slice(at, at + CANDIDATE_CHARS)
    let pattern = tail.at(-1) ?? ""
    for (let i = tail.length - 2; i >= 0; i--) {
      pattern = `${tail[i]}${GAP}(?:${STRING_START}|${pattern})`
    }
    return pattern
  }
  const rarest = [...new Set(chars)].sort((a, b) => rank(a) - rank(b)).slice(0, STARTS_TRIED)
  return {
    pattern: new RegExp(suffix(from), "g"),
    required: [...required.entries()].sort((a, b) => rank(a[0]) - rank(b[0])).map(([, r]) => r),
    starts: rarest.map((c) => ({
      forms: foldingTo(c).map((f) => Buffer.from(f, "utf8").toString("latin1")),
      sticky: new RegExp(suffix(chars.indexOf(c)), "y"),
    })),
  }
}

/** Places of a start character in a window above which the whole window is matched. */
const STARTS_MOST = 128
/** Start characters tried, the likely rarest first. */
const STARTS_TRIED = 3
/** Windows a start character is not counted in after it was over `STARTS_MOST`. */
const STARTS_REST = 8

/** Where any of `forms` is in `raw`, in order; `undefined` past `most`. */
const placesOf = (raw: string, forms: ReadonlyArray<string>, most: number) => {
  const found: number[] = []
  for (const form of forms) {
    for (let at = raw.indexOf(form); at >= 0; at = raw.indexOf(form, at + 1)) {
      if (found.length === most) return undefined
      found.push(at)
    }
  }
  return forms.length > 1 ? found.sort((x, y) => x - y) : found
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
  /** Windows scanned, and per start character the first window it is counted in again. */
  #windows = 0
  readonly #restUntil: number[] = []

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
   * query's characters is done after an `indexOf` (memchr); where one of its likely rarest
   * is seldom, the pattern is tried at its places only (`starts`); else over the window.
   */
  #scan(window: Buffer, base: number, hits: ScanHit[]) {
    const candidates = this.#candidates
    if (candidates === undefined) return this.#scanExact(window, base, hits)
    for (const forms of candidates.required) {
      if (!forms.some((form) => window.indexOf(form) >= 0)) return
    }
    const raw = window.toString("latin1")
    const length = window.length
    this.#windows++
    let floor = 0
    for (let i = 0; i < candidates.starts.length; i++) {
      if ((this.#restUntil[i] ?? 0) > this.#windows) continue
      const start = candidates.starts[i]
      const places = start === undefined ? undefined : placesOf(raw, start.forms, STARTS_MOST)
      if (start === undefined || places === undefined) {
        this.#restUntil[i] = this.#windows + STARTS_REST
        continue
      }
      for (const at of places) {
        if (at < floor) continue
        start.sticky.lastIndex = at
        const m = start.sticky.exec(raw)
        if (m === null) continue
        floor = this.#verify(window, base, hits, floor, at, at + m[0].length)
        if (floor >= length) break
      }
      return
    }
    const { pattern } = candidates
    pattern.lastIndex = 0
    for (let m = pattern.exec(raw); m !== null; m = pattern.exec(raw)) {
      floor = this.#verify(window, base, hits, floor, m.index, m.index + m[0].length)
      if (floor >= length) break
      pattern.lastIndex = floor
    }
  }

  /**
   * Verifies the candidate at `[at, end)`: its line, and the lines an open string joins to
   * it, through `#scanExact`. `floor` is where the last verified region ended (outside any
   * string). Returns where this one ends.
   */
  #verify(window: Buffer, base: number, hits: ScanHit[], floor: number, at: number, end: number) {
    const length = window.length
    const lineEnd = (from: number) => {
      const newline = window.indexOf(0x0a, from)
      return newline < 0 ? length : newline + 1
    }
    /** The string (OSC, DCS, ...) open at `to` if any (its ESC), parsed from `from`, outside any. */
    const openString = (from: number, to: number): number => {
      if (to <= from) return -1
      const esc = window.subarray(from, to).lastIndexOf(0x1b)
      if (esc < 0) return -1
      const opened = from + esc
      if (opened + 1 >= to || !STRING_INTRODUCERS.has(window[opened + 1] ?? 0)) return -1
      const bel = window.indexOf(0x07, opened + 2)
      return bel < 0 || bel >= to ? opened : -1
    }
    let start = at > floor ? window.lastIndexOf(0x0a, at - 1) + 1 : floor
    if (start < floor || openString(floor, start) >= 0) start = floor
    let from = start
    let stop = lineEnd(end)
    for (let open = openString(from, stop); open >= 0; open = openString(from, stop)) {
      const bel = window.indexOf(0x07, open + 2)
      const esc = window.indexOf(0x1b, open + 2)
      const close = bel < 0 ? esc : esc < 0 ? bel : Math.min(bel, esc)
      if (close < 0) {
        stop = length
        break
      }
      from = close
      stop = lineEnd(close + 1)
    }
    this.#scanExact(window.subarray(start, stop), base + start, hits)
    return stop
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
