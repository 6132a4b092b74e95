import { chmod, type FileHandle, mkdir, open, readdir, stat, unlink } from "node:fs/promises"
import { join } from "node:path"
import {
  Clock,
  Context,
  Duration,
  Effect,
  Either,
  PubSub,
  Queue,
  Schema,
  type Scope,
  Stream,
} from "effect"
import { RunnerConfig } from "../config.js"
import { describeCause } from "../domain/errors.js"
import {
  type AuditEntry,
  type AuditFilter,
  type AuditInput,
  matchesFilter,
  normalizeEntry,
} from "./audit-entry.js"
import {
  decodeAuditValue,
  encodeAuditLine,
  parseAuditLine,
  segmentFileName,
  segmentNumber,
} from "./audit-records.js"
import { readLinesBackward } from "./read-backward.js"

/** The trail could not be read (the folder is unreadable, a read failed). Writing never fails. */
export class AuditLogError extends Schema.TaggedError<AuditLogError>()("AuditLogError", {
  path: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.String),
}) {}

export interface AuditLogOptionsShape {
  /** A segment rolls once the next line would take it past this size (default 16 MB). */
  readonly segmentBytes: number
  /**
   * Cap on all segments together (default 256 MB): on each roll the oldest segments are deleted
   * so that the kept ones plus a full current segment fit. Never less than one segment.
   */
  readonly totalBytes: number
  /**
   * Written entries are flushed (`fdatasync`) in the background at most this often, never per
   * entry; 0 flushes only on rotation and close (default 100 ms).
   */
  readonly syncIntervalMs: number
  /** Entries a slow follower may lag behind before the oldest are dropped (default 1024). */
  readonly followCapacity: number
}

/** Options of the audit trail; the defaults apply when not provided. */
export class AuditLogOptions extends Context.Reference<AuditLogOptions>()(
  "geppetto/AuditLogOptions",
  {
    defaultValue: (): AuditLogOptionsShape => ({
      segmentBytes: 16 * 1024 * 1024,
      totalBytes: 256 * 1024 * 1024,
      syncIntervalMs: 100,
      followCapacity: 1024,
    }),
  },
) {}

/** A query: the filter plus how many entries at most (default 100, at most 1000). */
export interface AuditQuery extends AuditFilter {
  readonly limit?: number
}

export interface AuditQueryResult {
  /** Newest first. */
  readonly entries: ReadonlyArray<AuditEntry>
  /** Torn, corrupt or oversized lines passed over by this query's scan. */
  readonly skipped: number
}

export interface AuditLogStats {
  /** Entries written since this instance started. */
  readonly recorded: number
  /** Entries lost to write errors since this instance started. */
  readonly failed: number
}

export const AUDIT_QUERY_DEFAULT_LIMIT = 100
export const AUDIT_QUERY_MAX_LIMIT = 1000

/** Reads go backwards in chunks of this size; a valid line is at most ~7 KB. */
const CHUNK_BYTES = 64 * 1024
const MAX_LINE_BYTES = 64 * 1024

const NEWLINE = Buffer.from("\n", "ascii")

const isErrno = (e: unknown, code: string) =>
  typeof e === "object" && e !== null && (e as NodeJS.ErrnoException).code === code

const syncDir = async (dir: string) => {
  const handle = await open(dir, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Segment numbers present in `dir`, with their sizes; a missing folder has none. */
const listSegments = async (dir: string): Promise<Map<number, number>> => {
  const found = new Map<number, number>()
  let names: Array<string>
  try {
    names = await readdir(dir)
  } catch (e) {
    if (isErrno(e, "ENOENT")) return found
    throw e
  }
  for (const name of names) {
    const n = segmentNumber(name)
    if (n === undefined) continue
    const info = await stat(join(dir, name)).catch(() => undefined)
    if (info?.isFile() === true) found.set(n, info.size)
  }
  return found
}

type RawFields = { readonly [key: string]: unknown }
const isRaw = (value: unknown): value is RawFields =>
  typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * The audit trail: who did what, when, to which runner. Append-only segments
 * `${dataDir}/audit/audit-NNNNNN.log` (folder 0700, files 0600) of checksummed lines (see
 * `audit-records.ts`), one `write` per line on an `O_APPEND` fd, so a `kill -9` leaves at most a
 * torn last line, which reads skip and count.
 *
 * Not flushed per entry: this is the audit of a LAN dashboard, and what the kernel holds
 * survives the process; a crash of the machine may lose the last moments, like any file in the
 * page cache. A background flush every `syncIntervalMs` (not on the write path) bounds that
 * loss, and rotation and close flush too.
 *
 * `record` never fails the caller's request: a write error is logged (once per run of
 * failures) and counted in `stats`. One writer per data dir (the server); writes are serialised.
 */
export class AuditLog extends Effect.Service<AuditLog>()("geppetto/AuditLog", {
  scoped: Effect.gen(function* () {
    const config = yield* RunnerConfig
    const options = yield* AuditLogOptions
    const segmentBytes = Math.max(1, Math.floor(options.segmentBytes))
    const totalBytes = Math.max(segmentBytes, Math.floor(options.totalBytes))
    const dir = join(config.dataDir, "audit")
    const segmentPath = (n: number) => join(dir, segmentFileName(n))
    const lock = yield* Effect.makeSemaphore(1)
    const pubsub = yield* PubSub.sliding<AuditEntry>(Math.max(1, options.followCapacity))
    yield* Effect.addFinalizer(() => PubSub.shutdown(pubsub))

    let handle: FileHandle | undefined
    /** Number and size of the segment `handle` appends to; one writer, so sizes are exact. */
    let current = 0
    let size = 0
    /** Sizes of all segments, the current one included, while `handle` is open. */
    let segments = new Map<number, number>()
    // True when the current segment may end mid-line (a torn tail, a failed write): the next
    // line starts with a newline so that it is not glued onto the fragment and lost with it.
    let needsNewline = false
    /** Written since the last flush. */
    let dirty = false
    /**
     * Rung by each write: the background flush waits on it, so an idle trail sets no timer (a
     * flush every 100 ms whether or not anything was written woke a quiet server ten times a
     * second). One pending ring at most.
     */
    const written = yield* Queue.sliding<void>(1)
    let recorded = 0
    let failed = 0
    let failingSince = -1

    const closeHandle = async (flush: boolean) => {
      const fh = handle
      handle = undefined
      if (fh === undefined) return
      try {
        if (flush && dirty) await fh.datasync()
        dirty = false
      } finally {
        await fh.close()
      }
    }

    /** Deletes the oldest segments until the others plus a full current segment fit the cap. */
    const prune = async () => {
      let total = 0
      for (const bytes of segments.values()) total += bytes
      const headroom = Math.max(0, segmentBytes - size)
      const oldestFirst = [...segments.keys()].sort((a, b) => a - b)
      for (const n of oldestFirst) {
        if (total + headroom <= totalBytes || n === current) break
        await unlink(segmentPath(n)).catch((e: unknown) => {
          if (!isErrno(e, "ENOENT")) throw e
        })
        total -= segments.get(n) ?? 0
        segments.delete(n)
      }
    }

    const openSegment = async (n: number) => {
      const fh = await open(segmentPath(n), "a", 0o600)
      try {
        await fh.chmod(0o600) // a segment left by an older writer keeps its mode otherwise
        size = (await fh.stat()).size
      } catch (e) {
        await fh.close().catch(() => undefined)
        throw e
      }
      current = n
      handle = fh
      segments.set(n, size)
      return fh
    }

    /** Opens the newest segment for appending (or the next one if it is full). */
    const openWriter = async (): Promise<FileHandle> => {
      await mkdir(dir, { recursive: true, mode: 0o700 })
      await chmod(dir, 0o700)
      segments = await listSegments(dir)
      const newest = Math.max(0, ...segments.keys())
      const newestSize = segments.get(newest) ?? 0
      needsNewline = false
      if (newest > 0 && newestSize > 0 && newestSize < segmentBytes) {
        const probe = await open(segmentPath(newest), "r")
        try {
          const last = Buffer.alloc(1)
          await probe.read(last, 0, 1, newestSize - 1)
          needsNewline = last[0] !== 0x0a
        } finally {
          await probe.close()
        }
      }
      const fh = await openSegment(newest === 0 || newestSize >= segmentBytes ? newest + 1 : newest)
      await prune()
      return fh
    }

    const roll = async (): Promise<FileHandle> => {
      await closeHandle(true)
      needsNewline = false
      const fh = await openSegment(current + 1)
      await syncDir(dir)
      await prune()
      return fh
    }

    /** Appends one line with a single `write`; rolls first if the line would not fit. */
    const writeLine = async (line: Buffer) => {
      let fh = handle ?? (await openWriter())
      if (size > 0 && size + line.length + (needsNewline ? 1 : 0) > segmentBytes) fh = await roll()
      const bytes = needsNewline ? Buffer.concat([NEWLINE, line]) : line
      // Until the write is known whole, the segment may end mid-line.
      needsNewline = true
      const { bytesWritten } = await fh.write(bytes)
      size += bytesWritten
      segments.set(current, size)
      dirty = true
      Queue.unsafeOffer(written, undefined)
      if (bytesWritten !== bytes.length) {
        throw new Error(`short write: ${bytesWritten} of ${bytes.length} bytes`)
      }
      needsNewline = false
    }

    const failure = (cause: unknown) =>
      Effect.suspend(() => {
        failed++
        // Reopened (and its tail read again) on the next record: the folder may be back.
        const reset = Effect.promise(() => closeHandle(false).catch(() => undefined))
        if (failingSince !== -1) return reset
        failingSince = failed - 1
        return Effect.zipRight(
          reset,
          Effect.logWarning(
            `audit: could not record to ${dir}: ${describeCause(cause)}; entries are dropped until writing works again`,
          ),
        )
      })

    const success = Effect.suspend(() => {
      recorded++
      if (failingSince === -1) return Effect.void
      const lost = failed - failingSince
      failingSince = -1
      return Effect.logInfo(`audit: recording to ${dir} again after ${lost} lost entries`)
    })

    /** Records one entry, stamped now. Never fails: a write error is logged and counted. */
    const record = Effect.fn("AuditLog.record")(function* (input: AuditInput) {
      const entry = normalizeEntry(input, yield* Clock.currentTimeMillis)
      const line = encodeAuditLine(entry)
      // Published under the lock, so followers see entries in the trail's order (a sliding
      // PubSub never waits). Uninterruptible: the write goes on anyway once started.
      yield* lock
        .withPermits(1)(
          Effect.tryPromise(() => writeLine(line)).pipe(
            Effect.matchEffect({
              onFailure: (e) => failure(e.error),
              onSuccess: () => Effect.zipRight(success, PubSub.publish(pubsub, entry)),
            }),
          ),
        )
        .pipe(Effect.uninterruptible)
    })

    const scan = async (query: AuditQuery, limit: number): Promise<AuditQueryResult> => {
      const entries: Array<AuditEntry> = []
      let skipped = 0
      let done = false
      // A line matching the filter holds each wanted field exactly as JSON.stringify wrote it
      // (`"user":"alice"`), so a line without one is passed over before its checksum and JSON:
      // a filtered scan of 1M entries is several times faster. Its corruption, if any, then goes
      // uncounted. Not with `since`, which needs every line's `at` to know where to stop.
      const needles =
        query.since !== undefined
          ? []
          : [
              query.user === undefined ? undefined : `"user":${JSON.stringify(query.user)}`,
              query.runnerId === undefined
                ? undefined
                : `"runnerId":${JSON.stringify(query.runnerId)}`,
              query.action === undefined ? undefined : `"action":${JSON.stringify(query.action)}`,
            ].flatMap((needle) => (needle === undefined ? [] : [Buffer.from(needle, "utf8")]))
      const newestFirst = [...(await listSegments(dir)).keys()].sort((a, b) => b - a)
      for (const n of newestFirst) {
        await readLinesBackward(
          segmentPath(n),
          { chunkBytes: CHUNK_BYTES, maxLineBytes: MAX_LINE_BYTES },
          (piece) => {
            if (piece.kind !== "line") {
              skipped++
              return true
            }
            for (const needle of needles) if (!piece.bytes.includes(needle)) return true
            const parsed = parseAuditLine(piece.bytes)
            if (Either.isLeft(parsed)) {
              skipped++
              return true
            }
            const raw = parsed.right
            // Cheap rejects on the parsed JSON before the schema: most lines of a filtered
            // scan are someone else's. Checksummed lines are the store's own, so `at` is trusted.
            if (isRaw(raw)) {
              if (query.since !== undefined && typeof raw.at === "number" && raw.at < query.since) {
                done = true
                return false
              }
              if (query.user !== undefined && raw.user !== query.user) return true
              if (query.runnerId !== undefined && raw.runnerId !== query.runnerId) return true
              if (query.action !== undefined && raw.action !== query.action) return true
            }
            const decoded = decodeAuditValue(raw)
            if (Either.isLeft(decoded)) {
              skipped++
              return true
            }
            if (!matchesFilter(decoded.right, query)) return true
            entries.push(decoded.right)
            done = entries.length >= limit
            return !done
          },
        )
        if (done) break
      }
      return { entries, skipped }
    }

    /**
     * Entries newest first, at most `limit`. Reads segments newest to oldest, each backwards in
     * chunks, and stops at `limit` matches (or, with `since`, at the first older entry: entries
     * are in the order recorded, stamped by the wall clock). Bad lines are skipped and counted.
     */
    const query = Effect.fn("AuditLog.query")(function* (q: AuditQuery = {}) {
      const limit = Math.min(
        AUDIT_QUERY_MAX_LIMIT,
        Math.max(1, Math.floor(q.limit ?? AUDIT_QUERY_DEFAULT_LIMIT)),
      )
      return yield* Effect.tryPromise({
        try: () => scan(q, limit),
        catch: (cause) =>
          new AuditLogError({
            path: dir,
            message: `could not read the audit trail (${dir})`,
            cause: describeCause(cause),
          }),
      })
    })

    /** Entries as they are recorded from now on (bounded: a slow reader loses the oldest). */
    const follow = (filter: AuditFilter = {}): Stream.Stream<AuditEntry> =>
      Stream.fromPubSub(pubsub).pipe(Stream.filter((entry) => matchesFilter(entry, filter)))

    /**
     * A subscription for as long as the scope lives: every entry recorded from the moment this
     * returns, unfiltered (bounded like `follow`). For a reader that must subscribe *before*
     * it queries the backlog, so that nothing recorded in between is missed.
     */
    const subscribe: Effect.Effect<
      Queue.Dequeue<AuditEntry>,
      never,
      Scope.Scope
    > = PubSub.subscribe(pubsub)

    const stats: Effect.Effect<AuditLogStats> = Effect.sync(() => ({ recorded, failed }))

    if (options.syncIntervalMs > 0) {
      // Outside the lock: a flush never delays a record. A roll closing the handle meanwhile
      // waits for the flush (FileHandle.close waits for pending operations) or makes it fail
      // with EBADF, harmless as the roll flushes itself.
      const flush = Effect.promise(async () => {
        const fh = handle
        if (!dirty || fh === undefined) return
        dirty = false
        await fh.datasync().catch(() => undefined)
      })
      // The first write after a flush starts the wait: entries are flushed at most
      // syncIntervalMs after they are written, and nothing wakes while none are. Rings from
      // writes during the wait are cleared before the flush that covers them.
      yield* Effect.forkScoped(
        Effect.forever(
          Queue.take(written).pipe(
            Effect.zipRight(Effect.sleep(Duration.millis(options.syncIntervalMs))),
            Effect.zipRight(Queue.takeAll(written)),
            Effect.zipRight(flush),
          ),
        ),
      )
    }

    yield* Effect.addFinalizer(() =>
      lock.withPermits(1)(Effect.promise(() => closeHandle(true).catch(() => undefined))),
    )

    return { dir, record, query, follow, subscribe, stats } as const
  }),
}) {}
