import { closeSync, constants as fsConstants, lstatSync, openSync, readSync } from "node:fs"
import { dirname, join } from "node:path"
import { Chunk, Clock, Effect, Option, Stream } from "effect"
import { listSegmentsSync } from "../logs/log-cursor.js"
import type { Segment } from "../logs/segments.js"
import { LogScanner, type ScannerOptions } from "./scanner.js"

/** A runner whose log is searched: its folder under the data dir's `runners/`. */
export interface SearchTarget {
  readonly runnerId: string
  readonly name: string
  readonly logDir: string
}

export interface LogSearchOptions extends ScannerOptions {
  /** A literal (never a pattern), matched case-insensitively. */
  readonly query: string
  /** Hits at most; reaching it ends the search with `truncated`. */
  readonly limit: number
  /** The search stops after this long (by the `Clock`) with `timedOut`. */
  readonly timeBudgetMs: number
  /** Bytes read per step (default and most 1 MiB). */
  readonly readBytes?: number
}

/** What a search streams: hits as found, then one `End`. */
export type LogSearchEvent =
  | {
      readonly _tag: "Hit"
      readonly runnerId: string
      readonly name: string
      readonly offset: number
      readonly line: string
    }
  | {
      readonly _tag: "End"
      /** The limit was reached: there may be more hits. */
      readonly truncated: boolean
      /** The time budget ran out first: later bytes (and runners) were not searched. */
      readonly timedOut: boolean
      readonly scannedBytes: number
    }

/**
 * Bytes read per step, into one buffer the search keeps: a fresh buffer a read (what the log
 * cursor hands over) is fresh pages to fault in, and cost the scan half its speed (measured).
 * At 800 MB/s a step is about a millisecond of the event loop.
 */
const READ_BYTES = 1024 * 1024

/**
 * Only a real folder directly under a real `runners/` folder is searched: a symlink for
 * either (or for a segment: `listSegmentsSync` skips those, and the cursor opens with
 * O_NOFOLLOW) would lead the search out of the data dir.
 */
const isRealLogDir = (dir: string): boolean => {
  try {
    const parent = lstatSync(dirname(dir))
    return parent.isDirectory() && !parent.isSymbolicLink()
  } catch {
    return false
  }
}

/**
 * One log read forward, segment by segment as listed when it was opened: the bytes written
 * since are not searched (as a log's end is when it is reached), and a segment deleted by
 * retention meanwhile is a gap (the scanner ends the line there). Segments are opened with
 * O_NOFOLLOW; symlinked ones are not listed.
 */
class LogReader {
  #index = 0
  #fd: number | undefined
  #within = 0

  constructor(
    readonly dir: string,
    readonly segments: ReadonlyArray<Segment>,
    readonly lengths: ReadonlyMap<string, number>,
  ) {}

  /** The next bytes into `into` (and their log offset), or `undefined` at the listed end. */
  read(
    into: Buffer,
    max: number,
  ): { readonly offset: number; readonly length: number } | undefined {
    for (;;) {
      const segment = this.segments[this.#index]
      if (segment === undefined) return undefined
      const room = Math.min(this.lengths.get(segment.name) ?? 0, segment.size) - this.#within
      if (room > 0 && this.#fd === undefined) {
        try {
          this.#fd = openSync(
            join(this.dir, segment.name),
            fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW,
          )
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e
        }
      }
      if (room > 0 && this.#fd !== undefined) {
        const length = readSync(this.#fd, into, 0, Math.min(max, room, into.length), this.#within)
        if (length > 0) {
          const offset = segment.start + this.#within
          this.#within += length
          return { offset, length }
        }
      }
      this.#closeFile()
      this.#index++
      this.#within = 0
    }
  }

  #closeFile() {
    if (this.#fd !== undefined) closeSync(this.#fd)
    this.#fd = undefined
  }

  close() {
    this.#closeFile()
    this.#index = this.segments.length
  }
}

interface Current {
  readonly target: SearchTarget
  readonly reader: LogReader
  readonly scanner: LogScanner
}

/**
 * Searches the logs of `targets` in order, every kept byte of each up to its end when it is
 * reached, one read at a time: the memory held is one read buffer (`readBytes`), the
 * scanner's line of at most `maxLineBytes` and the hits. Reads are synchronous (as the log
 * cursor's are: page cache); the fiber yields after each read, so that a long search never
 * holds the event loop.
 * A log that fails to read (deleted with its runner meanwhile) is skipped.
 */
export const searchLogs = (
  targets: ReadonlyArray<SearchTarget>,
  options: LogSearchOptions,
): Stream.Stream<LogSearchEvent> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const deadline = (yield* Clock.currentTimeMillis) + options.timeBudgetMs
      const readBytes = Math.max(1, Math.min(options.readBytes ?? READ_BYTES, READ_BYTES))
      const buffer = Buffer.allocUnsafeSlow(readBytes)
      let next = 0
      let current: Current | undefined
      let found = 0
      let scanned = 0
      let ended = false
      const close = () => {
        current?.reader.close()
        current = undefined
      }
      yield* Effect.addFinalizer(() => Effect.sync(close))

      const hitsOf = (
        target: SearchTarget,
        hits: ReadonlyArray<{ offset: number; line: string }>,
      ) => {
        const room = Math.max(0, options.limit - found)
        const taken = hits.slice(0, room)
        found += taken.length
        return taken.map(
          (h): LogSearchEvent => ({
            _tag: "Hit",
            runnerId: target.runnerId,
            name: target.name,
            offset: h.offset,
            line: h.line,
          }),
        )
      }
      const end = (truncated: boolean, timedOut: boolean): LogSearchEvent => {
        ended = true
        close()
        return { _tag: "End", truncated, timedOut, scannedBytes: scanned }
      }

      /** One step: the next chunk of the current log (opening the next log first). */
      const step = (now: number): ReadonlyArray<LogSearchEvent> => {
        if (found >= options.limit) return [end(true, false)]
        if (now >= deadline) return [end(false, true)]
        if (current === undefined) {
          const target = targets[next++]
          if (target === undefined) return [end(false, false)]
          if (!isRealLogDir(target.logDir)) return []
          const { segments, lengths } = listSegmentsSync(target.logDir)
          current = {
            target,
            reader: new LogReader(target.logDir, segments, lengths),
            scanner: new LogScanner(options.query, options),
          }
        }
        const { target, reader, scanner } = current
        const chunk = reader.read(buffer, readBytes)
        if (chunk === undefined) {
          close()
          return hitsOf(target, scanner.finish())
        }
        scanned += chunk.length
        return hitsOf(target, scanner.push(chunk.offset, buffer.subarray(0, chunk.length)))
      }

      const pull: Effect.Effect<Chunk.Chunk<LogSearchEvent>, Option.Option<never>> = Effect.gen(
        function* () {
          if (ended) return yield* Effect.fail(Option.none())
          const now = yield* Clock.currentTimeMillis
          const events = yield* Effect.try(() => step(now)).pipe(
            Effect.orElse(() =>
              Effect.sync((): ReadonlyArray<LogSearchEvent> => {
                close()
                return []
              }),
            ),
          )
          yield* Effect.yieldNow()
          return Chunk.unsafeFromArray(events)
        },
      )
      return Stream.repeatEffectChunkOption(pull)
    }),
  )
