import { type FileHandle, mkdir, open, readFile, rename, stat } from "node:fs/promises"
import { join } from "node:path"
import { Clock, Context, Effect, Schema } from "effect"
import { RunnerConfig } from "../config.js"
import { describeCause } from "../domain/errors.js"
import {
  decodeJournal,
  encodeRecord,
  foldRecords,
  type JournalData,
  JournalRecord,
  type SkippedRecord,
} from "./records.js"

/** The journal could not be read, appended to or compacted (disk full, read-only, ...). */
export class JournalError extends Schema.TaggedError<JournalError>()("JournalError", {
  path: Schema.String,
  message: Schema.String,
  cause: Schema.optional(Schema.String),
}) {}

/**
 * What a returned `append` survives. "process": the record is in the kernel once `write`
 * returned, so a `kill -9` of this process cannot lose it. "machine": also `fdatasync`, so a
 * power cut cannot either, at the price of a disk flush per record.
 */
export type JournalDurability = "process" | "machine"

export interface JournalOptionsShape {
  readonly durability: JournalDurability
}

/** Options of the journal; defaults to "process" durability when not provided. */
export class JournalOptions extends Context.Reference<JournalOptions>()("geppetto/JournalOptions", {
  defaultValue: (): JournalOptionsShape => ({ durability: "process" }),
}) {}

/** What the caller appends; the store stamps `seq` and `at`. */
export type JournalEntry =
  | { readonly type: "runner"; readonly runnerId: string; readonly data: JournalData }
  | { readonly type: "removed"; readonly runnerId: string }

export interface JournalState {
  /** Latest data per runner id, in order of last update. */
  readonly runners: Map<string, JournalData>
  readonly skipped: ReadonlyArray<SkippedRecord>
  /** Number of valid records read. */
  readonly records: number
  /** Highest `seq` read, -1 for an empty journal. */
  readonly lastSeq: number
}

export interface CompactResult {
  readonly kept: number
  /** Superseded or removed records dropped, plus skipped (invalid) lines. */
  readonly dropped: number
}

const NEWLINE = Buffer.from("\n", "ascii")

const journalError = (path: string, message: string) => (cause: unknown) =>
  new JournalError({ path, message: `${message} (${path})`, cause: describeCause(cause) })

const isErrno = (e: unknown, code: string) =>
  typeof e === "object" && e !== null && (e as NodeJS.ErrnoException).code === code

/** Reads the journal; a missing file is an empty journal. */
const readBytes = async (path: string): Promise<Buffer> => {
  try {
    return await readFile(path)
  } catch (e) {
    if (isErrno(e, "ENOENT")) return Buffer.alloc(0)
    throw e
  }
}

/** Makes a rename inside `dir` durable. */
const syncDir = async (dir: string) => {
  const handle = await open(dir, "r")
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

const maxSeq = (records: ReadonlyArray<JournalRecord>) =>
  records.reduce((max, r) => Math.max(max, r.seq), -1)

const validateRecord = Schema.validate(JournalRecord)

/**
 * Append-only journal of finished runners at `${dataDir}/journal/journal.log`: keeps them
 * listed across restarts. One writer per data dir (the server); operations are serialised.
 */
export class JournalStore extends Effect.Service<JournalStore>()("geppetto/JournalStore", {
  scoped: Effect.gen(function* () {
    const config = yield* RunnerConfig
    const { durability } = yield* JournalOptions
    const dir = join(config.dataDir, "journal")
    const path = join(dir, "journal.log")
    const tmpPath = `${path}.tmp`
    const lock = yield* Effect.makeSemaphore(1)

    let handle: FileHandle | undefined
    /** The journal's length while `handle` is open: one writer, O_APPEND, so kept exactly. */
    let size = 0
    let nextSeq = 0
    // True when the file may end mid-line (a torn tail, a failed write): the next record
    // starts with a newline so that it is not glued onto the fragment and lost with it.
    let needsNewline = false

    const closeHandle = Effect.suspend(() => {
      const current = handle
      handle = undefined
      return current === undefined
        ? Effect.void
        : Effect.tryPromise({
            try: () => current.close(),
            catch: journalError(path, "could not close the journal"),
          })
    })
    yield* Effect.addFinalizer(() => Effect.ignore(closeHandle))

    const ensureDir = Effect.tryPromise({
      try: () => mkdir(dir, { recursive: true, mode: 0o700 }),
      catch: journalError(dir, "could not create the journal folder"),
    })

    const read = Effect.tryPromise({
      try: async () => decodeJournal(await readBytes(path)),
      catch: journalError(path, "could not read the journal"),
    })

    /** Opens for appending once, learning the next seq and whether the tail is torn. */
    const openHandle = Effect.gen(function* () {
      if (handle !== undefined) return handle
      yield* ensureDir
      // Only a regular file is read: a device stand-in (tests use /dev/full) never ends.
      const existing = yield* Effect.tryPromise({
        try: async () => {
          const info = await stat(path).catch((e: unknown) => {
            if (isErrno(e, "ENOENT")) return undefined
            throw e
          })
          return info?.isFile() === true ? decodeJournal(await readFile(path)) : undefined
        },
        catch: journalError(path, "could not read the journal"),
      })
      if (existing !== undefined) {
        nextSeq = Math.max(nextSeq, maxSeq(existing.records) + 1)
        needsNewline = existing.tornTail
      }
      const opened = yield* Effect.tryPromise({
        // "a" is O_APPEND: every write lands at the end, whatever else moved the offset.
        try: () => open(path, "a", 0o600),
        catch: journalError(path, "could not open the journal"),
      })
      const info = yield* Effect.tryPromise({
        try: () => opened.stat(),
        catch: journalError(path, "could not read the journal's size"),
      }).pipe(Effect.tapError(() => Effect.promise(() => opened.close().catch(() => undefined))))
      size = info.size
      handle = opened
      return opened
    })

    /**
     * Appends one record with a single `write`. Once this returns, the record survives a
     * `kill -9` of this process; with "machine" durability also a power cut.
     */
    const append = (entry: JournalEntry): Effect.Effect<JournalRecord, JournalError> =>
      lock.withPermits(1)(
        Effect.gen(function* () {
          const fh = yield* openHandle
          const at = yield* Clock.currentTimeMillis
          const record = yield* validateRecord({ ...entry, seq: nextSeq, at }).pipe(
            Effect.mapError(journalError(path, "invalid journal record")),
          )
          const line = yield* Effect.try({
            try: () => encodeRecord(record),
            catch: journalError(path, "journal record is not JSON-serialisable"),
          })
          const bytes = needsNewline ? Buffer.concat([NEWLINE, line]) : line
          const before = size
          const hadNewline = needsNewline
          // A failed or short write (a full disk writes what fits, then ENOSPC) is cut off
          // again, so no half record stays in the middle of the journal once later appends
          // succeed. If that fails too, the file is reopened (and its tail read) next time.
          const undo = Effect.promise(() =>
            fh.truncate(before).then(
              () => {
                needsNewline = hadNewline
              },
              () => {
                needsNewline = true
                if (handle === fh) handle = undefined
                return fh.close().catch(() => undefined)
              },
            ),
          )
          const written = yield* Effect.tryPromise({
            try: () => fh.write(bytes),
            catch: journalError(path, "could not append to the journal"),
          }).pipe(Effect.tapError(() => undo))
          if (written.bytesWritten !== bytes.length) {
            yield* undo
            return yield* new JournalError({
              path,
              message: `short write to the journal: ${written.bytesWritten} of ${bytes.length} bytes, cut off again (${path})`,
            })
          }
          size += bytes.length
          needsNewline = false
          nextSeq = record.seq + 1
          if (durability === "machine") {
            yield* Effect.tryPromise({
              try: () => fh.datasync(),
              catch: journalError(path, "could not flush the journal"),
            })
          }
          return record
        }),
      )

    /** Current state: latest data per runner. Invalid lines are skipped with a warning. */
    const load: Effect.Effect<JournalState, JournalError> = lock.withPermits(1)(
      Effect.gen(function* () {
        const decoded = yield* read
        yield* Effect.forEach(decoded.skipped, (s) =>
          Effect.logWarning(`journal: skipped line ${s.line}: ${s.reason}`).pipe(
            Effect.annotateLogs({ journal: path }),
          ),
        )
        const lastSeq = maxSeq(decoded.records)
        nextSeq = Math.max(nextSeq, lastSeq + 1)
        const runners = new Map<string, JournalData>()
        for (const [id, record] of foldRecords(decoded.records)) runners.set(id, record.data)
        return { runners, skipped: decoded.skipped, records: decoded.records.length, lastSeq }
      }),
    )

    /**
     * Rewrites the journal as its current state: written to `journal.log.tmp`, flushed, then
     * renamed over the journal. rename is atomic, so a crash at any point leaves the old or
     * the new journal whole; a leftover `.tmp` is never read and is overwritten next time.
     */
    const compact: Effect.Effect<CompactResult, JournalError> = lock.withPermits(1)(
      Effect.gen(function* () {
        const decoded = yield* read
        const state = foldRecords(decoded.records)
        const bytes = Buffer.concat(Array.from(state.values(), encodeRecord))
        yield* ensureDir
        yield* Effect.tryPromise({
          try: async () => {
            const tmp = await open(tmpPath, "w", 0o600)
            try {
              await tmp.chmod(0o600) // a leftover .tmp keeps its old mode otherwise
              await tmp.writeFile(bytes)
              await tmp.datasync()
            } finally {
              await tmp.close()
            }
            await rename(tmpPath, path)
            await syncDir(dir)
          },
          catch: journalError(path, "could not compact the journal"),
        })
        // The open handle still points at the replaced file.
        yield* closeHandle
        needsNewline = false
        return {
          kept: state.size,
          dropped: decoded.records.length - state.size + decoded.skipped.length,
        }
      }),
    )

    return { path, append, load, compact } as const
  }),
}) {}
