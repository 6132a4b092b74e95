import { open } from "node:fs/promises"
import { Effect } from "effect"

/** Bytes read per `read(2)`. */
const CHUNK_BYTES = 1024 * 1024
/** A longer line is skipped (counted unreadable) without being held: memory stays bounded. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024

export interface LineVisitor {
  /** A whole line (without its newline) that starts at byte `offset`; false stops the read. */
  readonly line: (text: string, offset: number) => boolean
  /** A line over `MAX_LINE_BYTES` at `offset`, skipped. */
  readonly oversized: (offset: number) => void
}

/**
 * Reads the whole lines of `path` from byte `from` up to `to` (default: its size now), one
 * chunk at a time, and returns the offset after the last whole line seen: a torn last line
 * (the agent mid-write) is left for the next read. A missing file reads as nothing.
 */
export const readLines = (
  path: string,
  from: number,
  visitor: LineVisitor,
  to?: number,
): Effect.Effect<number, Error> =>
  Effect.tryPromise({
    try: async () => {
      let handle: Awaited<ReturnType<typeof open>>
      try {
        handle = await open(path, "r")
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return from
        throw e
      }
      try {
        const end = to ?? (await handle.stat()).size
        const chunk = Buffer.allocUnsafe(CHUNK_BYTES)
        let pending: Buffer[] = []
        let pendingBytes = 0
        let lineStart = from
        let skipping = false
        let position = from
        while (position < end) {
          const { bytesRead } = await handle.read(
            chunk,
            0,
            Math.min(CHUNK_BYTES, end - position),
            position,
          )
          if (bytesRead === 0) break
          let start = 0
          for (;;) {
            const nl = chunk.indexOf(0x0a, start)
            if (nl === -1 || nl >= bytesRead) break
            const lineEnd = position + nl + 1
            if (skipping) {
              skipping = false
            } else {
              const piece = chunk.subarray(start, nl)
              const text =
                pendingBytes === 0
                  ? piece.toString("utf8")
                  : Buffer.concat([...pending, piece]).toString("utf8")
              if (!visitor.line(text, lineStart)) return lineEnd
            }
            pending = []
            pendingBytes = 0
            lineStart = lineEnd
            start = nl + 1
          }
          if (start < bytesRead && !skipping) {
            pendingBytes += bytesRead - start
            if (pendingBytes > MAX_LINE_BYTES) {
              visitor.oversized(lineStart)
              skipping = true
              pending = []
              pendingBytes = 0
            } else {
              pending.push(Buffer.from(chunk.subarray(start, bytesRead)))
            }
          }
          position += bytesRead
        }
        return lineStart
      } finally {
        await handle.close()
      }
    },
    catch: (e) => new Error(`cannot read ${path}: ${e instanceof Error ? e.message : String(e)}`),
  })
