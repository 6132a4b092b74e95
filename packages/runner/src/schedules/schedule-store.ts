import { readFile, rename } from "node:fs/promises"
import { StartRunnerRequest } from "@geppetto/protocol"
import { Effect, Either, ParseResult, Schema } from "effect"
import { describeCause, StorageError } from "../domain/errors.js"
import { writeFileAtomically } from "../fs/write-file-atomically.js"

/** The schedules' file in the data dir. */
export const SCHEDULES_FILE = "schedules.json"

const optional = <S extends Schema.Schema.Any>(s: S) => Schema.optionalWith(s, { exact: true })
const Millis = Schema.Number.pipe(Schema.finite())

/** One run as kept: the runner's status is read live from the registry, never stored. */
export const StoredRun = Schema.Struct({
  at: Millis,
  outcome: Schema.Literal("started", "skipped", "failed", "missed"),
  runnerId: optional(Schema.String),
  runnerName: optional(Schema.String),
  reason: optional(Schema.String),
})
export type StoredRun = typeof StoredRun.Type

/** `start` is a `POST /api/runners` body: checked on the way in by the protocol's own schema. */
const StartBody = Schema.declare(
  (input: unknown): input is StartRunnerRequest => StartRunnerRequest.safeParse(input).success,
  { identifier: "StartRunnerRequest" },
)

export const StoredSchedule = Schema.Struct({
  id: Schema.String,
  name: Schema.String,
  cron: Schema.String,
  timezone: optional(Schema.String),
  overlap: Schema.Literal("skip", "allow"),
  paused: Schema.Boolean,
  createdAt: Millis,
  start: StartBody,
  /** Newest first, at most `SCHEDULE_RUNS_KEPT`. */
  runs: Schema.Array(StoredRun),
})
export type StoredSchedule = typeof StoredSchedule.Type

const SchedulesFile = Schema.Struct({
  version: Schema.Literal(1),
  schedules: Schema.Array(Schema.Unknown),
})

const decodeFile = Schema.decodeUnknownEither(Schema.parseJson(SchedulesFile))
const decodeSchedule = Schema.decodeUnknownEither(StoredSchedule)

export interface LoadedSchedules {
  readonly schedules: ReadonlyArray<StoredSchedule>
  /** Why entries (or the whole file) could not be read; each is logged by the caller. */
  readonly problems: ReadonlyArray<string>
}

/**
 * The schedules kept at `path`; none when there is no file. A file that is not ours to read
 * (not JSON, another version) is moved aside to `PATH.unreadable-TIME` and reported, so that
 * the next write does not destroy what a person may want back; a bad entry is skipped.
 */
export const loadSchedules = (path: string): Effect.Effect<LoadedSchedules> =>
  Effect.promise(async () => {
    let text: string
    try {
      text = await readFile(path, "utf8")
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { schedules: [], problems: [] }
      return { schedules: [], problems: [`cannot read ${path}: ${describeCause(error)}`] }
    }
    const file = decodeFile(text)
    if (Either.isLeft(file)) {
      const aside = `${path}.unreadable-${Date.now()}`
      await rename(path, aside).catch(() => undefined)
      return {
        schedules: [],
        problems: [
          `${path} is not a schedules file (moved to ${aside}): ${ParseResult.TreeFormatter.formatErrorSync(file.left).slice(0, 500)}`,
        ],
      }
    }
    const schedules: StoredSchedule[] = []
    const problems: string[] = []
    for (const [i, entry] of file.right.schedules.entries()) {
      const decoded = decodeSchedule(entry)
      if (Either.isRight(decoded)) schedules.push(decoded.right)
      else
        problems.push(
          `skipped schedule ${i} of ${path}: ${ParseResult.TreeFormatter.formatErrorSync(decoded.left).slice(0, 500)}`,
        )
    }
    return { schedules, problems }
  })

/**
 * Replaces the file with `schedules` (mode 0600) so that a crash leaves the old file or the
 * new one, never a mix: a temporary file beside it is written and fsynced, renamed over it,
 * and the folder fsynced. A failure (a full or read-only disk) leaves the old file as it was.
 */
export const saveSchedules = (
  path: string,
  schedules: ReadonlyArray<StoredSchedule>,
): Effect.Effect<void, StorageError> =>
  Effect.tryPromise({
    try: () => writeFileAtomically(path, `${JSON.stringify({ version: 1, schedules }, null, 2)}\n`),
    catch: (error) =>
      new StorageError({
        path,
        message: `could not write the schedules to ${path}: ${describeCause(error)}`,
        cause: (error as NodeJS.ErrnoException).code ?? describeCause(error),
      }),
    // Never given up half way: an interrupted wait would leave the write landing after its
    // caller (a shutdown) has moved on.
  }).pipe(Effect.uninterruptible)
