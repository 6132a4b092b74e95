import { constants as fsConstants } from "node:fs"
import { access, lstat, mkdir, readdir, rm, statfs, unlink } from "node:fs/promises"
import { join } from "node:path"
import { Duration, Effect, Option, Queue, type Scope, Stream } from "effect"
import { RunnerConfig } from "../config.js"
import { describeCause, LogStoreError, StorageError } from "../domain/errors.js"
import type { LogStorePort } from "../ports.js"
import { quoteShellArg } from "../tmux/quote.js"
import { toolPath } from "../tmux/tool-path.js"
import { type DirWatch, watchDir } from "./dir-watch.js"
import { boundsOf, type LogChunk, LogCursor } from "./log-cursor.js"
import { followLogChunks, type LogSubscription, makeBurstPacer } from "./log-feed.js"
import { type Segment, segmentPrefix, segmentsToPrune, sortSegments } from "./segments.js"

export type { LogChunk } from "./log-cursor.js"

/** The byte range a log still holds: `[start, end)`. */
export interface LogBounds {
  readonly start: number
  readonly end: number
}

/** A cursor over one log: reads forward from its position across segment boundaries. */
export interface LogReader {
  readonly position: () => number
  /** Up to `max` bytes at the cursor, or `undefined` when there is nothing more yet. */
  readonly read: (max: number) => Effect.Effect<LogChunk | undefined, LogStoreError>
}

/**
 * No runner starts with less free space than this in the data dir: its log would have no room,
 * and the runner would run unlogged. A floor, not a quota: a flood past it is a log gap.
 */
export const MIN_FREE_BYTES = 1024 * 1024

/** `writer-exit-STATUS`: left in a log folder by the `pipe-pane` writer when `split` failed. */
export const WRITER_EXIT_PREFIX = "writer-exit-"

const storeError = (logDir: string, message: string) => (cause: unknown) =>
  new LogStoreError({
    logDir,
    message: `${message} in ${logDir}`,
    cause: describeCause(cause),
  })

/** `listSegmentsSync` (log-cursor.ts) off the main thread: symlinks are no log either. */
const listSegmentsAsync = async (dir: string) => {
  const folder = await lstat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return undefined
    throw e
  })
  if (folder === undefined || !folder.isDirectory()) {
    return { segments: [] as Segment[], lengths: new Map<string, number>() }
  }
  const names = await readdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === "ENOENT") return [] as string[]
    throw e
  })
  const lengths = new Map<string, number>()
  const infos = await Promise.all(
    sortSegments(names).map(async (s) => {
      const info = await lstat(join(dir, s.name)).catch(() => undefined)
      lengths.set(s.name, info?.size ?? 0)
      return { s, link: info?.isSymbolicLink() === true }
    }),
  )
  return { segments: infos.filter((i) => !i.link).map((i) => i.s), lengths }
}

const listSegments = (dir: string) =>
  Effect.tryPromise({
    try: () => listSegmentsAsync(dir),
    catch: storeError(dir, "could not list log segments"),
  })

/** A `LogCursor` for Effect code, closed with the scope. */
export const openLogReader = (
  dir: string,
  from: number,
): Effect.Effect<LogReader, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new LogCursor(dir, from)),
      (cursor) => Effect.sync(() => cursor.close()),
    ),
    (cursor): LogReader => ({
      position: () => cursor.position,
      read: (max) =>
        Effect.try({
          try: () => cursor.read(max),
          catch: storeError(dir, "could not read the log"),
        }),
    }),
  )

/** Rolling segment logs on disk, one folder per pane. */
export class LogStore extends Effect.Service<LogStore>()("geppetto/LogStore", {
  effect: Effect.gen(function* () {
    const config = yield* RunnerConfig
    const runnersDir = join(config.dataDir, "runners")

    /** Folder of a process's log. Ids are validated before they get here. */
    const processDir = (processId: string) => join(runnersDir, processId)

    const ensureDir = (dir: string) =>
      Effect.tryPromise({
        try: () => mkdir(dir, { recursive: true, mode: 0o700 }),
        catch: storeError(dir, "could not create the log folder"),
      }).pipe(Effect.asVoid)

    const bounds = (dir: string): Effect.Effect<LogBounds, LogStoreError> =>
      Effect.map(listSegments(dir), ({ segments, lengths }) => boundsOf(segments, lengths))

    /**
     * The shell command `pipe-pane` runs: GNU `split` appending fixed-size segments, started
     * at the current end so a restarted writer continues the offsets. It runs under the tmux
     * server, so output keeps being logged while our server is down. When `split` fails
     * (killed, or a write failed) the shell (`:` is its builtin) leaves an empty
     * `writer-exit-STATUS` in the folder, which the folder watch reports: no one polls the
     * writer. Empty, so that it can be made on a full disk (an inode, no data block). An end of
     * input (the pane or the tmux server went) is status 0 and leaves nothing: not a failure,
     * and a file appearing then would race the removal of a finished runner's folder.
     */
    const writerCommand = (dir: string) =>
      Effect.map(bounds(dir), ({ end }) => {
        const prefix = join(dir, segmentPrefix(end, config.segmentBytes))
        const marker = join(dir, WRITER_EXIT_PREFIX)
        return `${quoteShellArg(toolPath("split"))} -b ${config.segmentBytes} -d -a 6 - ${quoteShellArg(prefix)} || : > ${quoteShellArg(marker)}$?`
      })

    /**
     * Fails with `StorageError` when the runners' folder cannot take a new log: not writable
     * (a read-only mount: `access` says EROFS even to root) or under `MIN_FREE_BYTES` free.
     * Two syscalls, no write: cheap enough for every start.
     */
    const checkWritable: Effect.Effect<void, StorageError> = Effect.gen(function* () {
      const probe = yield* Effect.promise(async () => {
        const dir = await access(runnersDir).then(
          () => runnersDir,
          () => config.dataDir,
        )
        const refused = await access(dir, fsConstants.W_OK).then(
          () => undefined,
          (e: NodeJS.ErrnoException) => e.code ?? e.message,
        )
        const free = await statfs(dir).then(
          (s) => s.bavail * s.bsize,
          () => undefined,
        )
        return { dir, refused, free }
      })
      if (probe.refused !== undefined) {
        return yield* new StorageError({
          path: probe.dir,
          message: `the data dir ${probe.dir} is not writable (${probe.refused}): a runner could not log there`,
          cause: probe.refused,
        })
      }
      if (probe.free !== undefined && probe.free < MIN_FREE_BYTES) {
        return yield* new StorageError({
          path: probe.dir,
          message: `the data dir ${probe.dir} is full: ${probe.free} bytes free, a runner needs at least ${MIN_FREE_BYTES} for its log`,
          cause: "ENOSPC",
        })
      }
    })

    /** Deletes the oldest whole segments past the retention cap. */
    const prune = (dir: string) =>
      Effect.gen(function* () {
        const { segments, lengths } = yield* listSegments(dir)
        const doomed = segmentsToPrune(segments, lengths, config.retainBytes)
        yield* Effect.forEach(doomed, (name) =>
          Effect.tryPromise({
            try: () => unlink(join(dir, name)).catch(() => undefined),
            catch: storeError(dir, `could not delete segment ${name}`),
          }),
        )
        return doomed.length
      })

    /** Follows a log from `from`: chunks as they are written, pulled one at a time. */
    const tail = (dir: string, from: number): Stream.Stream<LogChunk, LogStoreError> =>
      followLog(dir, from)

    const remove = (dir: string) =>
      Effect.tryPromise({
        // A writer killed just before may still be leaving its marker (ENOTEMPTY): retried.
        try: () => rm(dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 20 }),
        catch: storeError(dir, "could not delete the log"),
      })

    const port = {
      processDir,
      ensureDir,
      bounds,
      writerCommand,
      prune,
      tail,
      remove,
    } satisfies LogStorePort
    return {
      ...port,
      checkWritable,
      runnersDir,
      openReader: openLogReader,
      watch: watchLogDir,
    } as const
  }),
}) {}

const watchLogDir = (dir: string): Effect.Effect<DirWatch, LogStoreError, Scope.Scope> =>
  Effect.mapError(watchDir(dir), storeError(dir, "could not watch the log folder"))

/** Chunks a `followLog` stream holds for its consumer before it stops taking more. */
const STREAM_BUFFER_BYTES = 1024 * 1024

/**
 * Follows a log from `from` as a stream: the shared tail (`followLogChunks`) with a small
 * buffer; a consumer that stops pulling pauses its subscription, so it holds at most
 * STREAM_BUFFER_BYTES (plus one chunk) and reads the rest from disk when it pulls again.
 */
export const followLog = (dir: string, from: number): Stream.Stream<LogChunk, LogStoreError> =>
  Stream.unwrapScoped(
    Effect.gen(function* () {
      const buffer: LogChunk[] = []
      let buffered = 0
      let failed: LogStoreError | undefined
      const wake = yield* Queue.sliding<void>(1)
      let subscription: LogSubscription | undefined
      subscription = yield* followLogChunks(dir, from, {
        onChunk: (chunk) => {
          buffer.push(chunk)
          buffered += chunk.bytes.length
          if (buffered >= STREAM_BUFFER_BYTES) subscription?.pause()
          Queue.unsafeOffer(wake, undefined)
        },
        onError: (error) => {
          failed = error
          Queue.unsafeOffer(wake, undefined)
        },
      })
      const sub = subscription
      const pull: Effect.Effect<LogChunk, Option.Option<LogStoreError>> = Effect.suspend(() => {
        const chunk = buffer.shift()
        if (chunk !== undefined) {
          buffered -= chunk.bytes.length
          if (buffered < STREAM_BUFFER_BYTES / 2) sub.resume()
          return Effect.succeed(chunk)
        }
        if (failed !== undefined) return Effect.fail(Option.some(failed))
        return Effect.zipRight(Queue.take(wake), pull)
      })
      return Stream.repeatEffectOption(pull)
    }),
  )

/** `makeBurstPacer` for Effect readers: a sleep when wake-ups come in a burst. */
export const makeReadPacer = (): Effect.Effect<void> => {
  const pace = makeBurstPacer()
  return Effect.suspend(() => {
    const ms = pace()
    return ms > 0 ? Effect.sleep(Duration.millis(ms)) : Effect.void
  })
}
