import { open } from "node:fs/promises"

/** What a backward read finds between two newlines. */
export type BackwardPiece =
  /** A whole line, newline not included. Empty lines (separators after a torn tail) are passed over. */
  | { readonly kind: "line"; readonly bytes: Buffer }
  /** Bytes after the file's last newline: a write cut short. */
  | { readonly kind: "torn" }
  /** A line longer than `maxLineBytes`: never written by the store, so not kept in memory. */
  | { readonly kind: "oversized" }

export interface ReadBackwardOptions {
  readonly chunkBytes: number
  readonly maxLineBytes: number
}

const isErrno = (e: unknown, code: string) =>
  typeof e === "object" && e !== null && (e as NodeJS.ErrnoException).code === code

/**
 * Visits the lines of `path` from the last to the first, reading it backwards in chunks, until
 * `visit` returns false. Memory stays at one chunk plus one line however large the file is;
 * bytes appended after the read began are not seen. A missing file (deleted by rotation
 * meanwhile) has no lines.
 */
export const readLinesBackward = async (
  path: string,
  options: ReadBackwardOptions,
  visit: (piece: BackwardPiece) => boolean,
): Promise<void> => {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(path, "r")
  } catch (e) {
    if (isErrno(e, "ENOENT")) return
    throw e
  }
  try {
    const info = await handle.stat()
    if (!info.isFile()) return
    const chunk = Buffer.allocUnsafe(options.chunkBytes)
    let pos = info.size
    // Bytes of the line being assembled: it starts somewhere left of what was read so far.
    let carry = Buffer.alloc(0)
    // Whether `carry` is the unterminated tail of the file (no newline seen after it yet).
    let tail = true
    // Whether the line being assembled already outgrew `maxLineBytes` and was dropped.
    let dropping = false
    const emit = (piece: Buffer): boolean => {
      const wasTail = tail
      tail = false
      if (dropping) {
        dropping = false
        return visit(wasTail ? { kind: "torn" } : { kind: "oversized" })
      }
      if (piece.length === 0) return true
      if (wasTail) return visit({ kind: "torn" })
      return visit(
        piece.length > options.maxLineBytes
          ? { kind: "oversized" }
          : { kind: "line", bytes: piece },
      )
    }
    while (pos > 0) {
      const n = Math.min(options.chunkBytes, pos)
      pos -= n
      const { bytesRead } = await handle.read(chunk, 0, n, pos)
      if (bytesRead !== n) throw new Error(`short read of ${path} at ${pos}: ${bytesRead} of ${n}`)
      const read = chunk.subarray(0, n)
      const buf = carry.length === 0 ? read : Buffer.concat([read, carry])
      let end = buf.length
      let nl = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1
      while (nl !== -1) {
        if (!emit(buf.subarray(nl + 1, end))) return
        end = nl
        nl = end > 0 ? buf.lastIndexOf(0x0a, end - 1) : -1
      }
      if (dropping || end > options.maxLineBytes) {
        dropping = true
        carry = Buffer.alloc(0)
      } else {
        // Copied: `chunk` is reused by the next read.
        carry = Buffer.from(buf.subarray(0, end))
      }
    }
    if (carry.length > 0 || dropping) emit(carry)
  } finally {
    await handle.close()
  }
}
