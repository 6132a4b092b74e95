import { lstatSync } from "node:fs"
import { dirname } from "node:path"
import { Chunk, Clock, Effect, Option, Stream } from "effect"
import { boundsOf, LogCursor, listSegmentsSync } from "../logs/log-cursor.js"
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
  /** Bytes read per step (default 256 KiB, the log cursor's most). */
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

const READ_BYTES = 256 * 1024

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

interface Current {
  readonly target: SearchTarget
  readonly cursor: LogCursor
  readonly scanner: LogScanner
  readonly end: number
}

/**
 * Searches the logs of `targets` in order, every kept byte of each up to its end when it is
 * reached, one chunk at a time: the memory held is one chunk, one line of at most
 * `maxLineBytes` and the hits. Reads are synchronous (as the log cursor's are: page cache);
 * the fiber yields after each chunk, so that a long search never holds the event loop.
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
      let next = 0
      let current: Current | undefined
      let found = 0
      let scanned = 0
      let ended = false
      const close = () => {
        current?.cursor.close()
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
          const bounds = boundsOf(segments, lengths)
          if (bounds.end <= bounds.start) return []
          current = {
            target,
            cursor: new LogCursor(target.logDir, bounds.start),
            scanner: new LogScanner(options.query, options),
            end: bounds.end,
          }
        }
        const { target, cursor, scanner } = current
        const want = Math.min(readBytes, current.end - cursor.position)
        const chunk = want > 0 ? cursor.read(want) : undefined
        if (chunk === undefined) {
          close()
          return hitsOf(target, scanner.finish())
        }
        scanned += chunk.bytes.length
        return hitsOf(target, scanner.push(chunk.offset, chunk.bytes))
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
