import {
  closeSync,
  constants as fsConstants,
  openSync,
  readdirSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { RunnerConfig } from "../config.js"
import { describeCause, LogStoreError } from "../domain/errors.js"
import { LogStore } from "./log-store.js"
import { segmentPrefix, segmentsToPrune, sortSegments } from "./segments.js"

/**
 * The in-process counterpart of the `split` writer of the tmux path: appends to rolling
 * segment files with the same names, so `LogStore` reads both alike.
 */
export interface SegmentWriter {
  /** Absolute offset of the next byte; every byte before it is on disk. */
  readonly position: () => number
  /**
   * Appends synchronously (callers rely on this for ordering), rotating and pruning as
   * segments fill. Returns the error the first time writing fails; from then on bytes are
   * dropped, so the log stays an exact prefix of the output instead of gaining a hole.
   */
  readonly append: (bytes: Uint8Array) => LogStoreError | undefined
  /** Closes the open segment file; a later append reopens it and carries on. */
  readonly close: () => void
}

export interface SegmentWriterOptions {
  readonly dir: string
  /** Absolute offset of the first byte this writer appends: the folder's current end. */
  readonly start: number
  readonly segmentBytes: number
  readonly retainBytes: number
}

const FILE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_APPEND
/** `split -a 6` runs out of suffixes here; we start a new generation instead. */
const MAX_INDEX = 1_000_000

const sizeOf = (path: string) => {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/** Deletes the oldest whole segments past `retainBytes`; best effort, retried at the next fill. */
const pruneSync = (dir: string, retainBytes: number) => {
  try {
    const segments = sortSegments(readdirSync(dir))
    const lengths = new Map(segments.map((s) => [s.name, sizeOf(join(dir, s.name))]))
    for (const name of segmentsToPrune(segments, lengths, retainBytes)) {
      try {
        unlinkSync(join(dir, name))
      } catch {
        // already gone
      }
    }
  } catch {
    // the folder is unreadable or gone: nothing to prune
  }
}

export const createSegmentWriter = (options: SegmentWriterOptions): SegmentWriter => {
  const { dir, segmentBytes, retainBytes } = options
  let base = options.start
  let index = 0
  let filled = 0
  let position = options.start
  let fd: number | undefined
  let failed = false

  const closeFile = () => {
    const open = fd
    fd = undefined
    if (open !== undefined) closeSync(open)
  }

  const append = (bytes: Uint8Array): LogStoreError | undefined => {
    if (failed) return undefined
    try {
      let done = 0
      while (done < bytes.length) {
        // Opened on the first byte, like `split`: an empty output leaves no empty file.
        if (fd === undefined) {
          const name = `${segmentPrefix(base, segmentBytes)}${String(index).padStart(6, "0")}`
          fd = openSync(join(dir, name), FILE_FLAGS, 0o600)
        }
        const written = writeSync(
          fd,
          bytes,
          done,
          Math.min(bytes.length - done, segmentBytes - filled),
        )
        done += written
        filled += written
        position += written
        if (filled === segmentBytes) {
          closeFile()
          filled = 0
          index++
          if (index === MAX_INDEX) {
            base = position
            index = 0
          }
          pruneSync(dir, retainBytes)
        }
      }
      return undefined
    } catch (cause) {
      failed = true
      try {
        closeFile()
      } catch {
        // the write error is the one worth reporting
      }
      return new LogStoreError({
        logDir: dir,
        message: `could not append to the log in ${dir}`,
        cause: describeCause(cause),
      })
    }
  }

  return {
    position: () => position,
    append,
    close: () => {
      try {
        closeFile()
      } catch {
        // nothing left to flush: writes are synchronous
      }
    },
  }
}

/**
 * A writer for `dir` (created 0700 if missing) that continues at the folder's current end,
 * as `LogStore.writerCommand` does, so offsets stay stable across writer generations.
 */
export const makeSegmentWriter = (dir: string) =>
  Effect.gen(function* () {
    const config = yield* RunnerConfig
    const logs = yield* LogStore
    yield* logs.ensureDir(dir)
    const { end } = yield* logs.bounds(dir)
    return createSegmentWriter({
      dir,
      start: end,
      segmentBytes: config.segmentBytes,
      retainBytes: config.retainBytes,
    })
  })
