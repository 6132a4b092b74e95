import { Effect } from "effect"
import { ProcessMonitorError, processMonitorFailure } from "../domain/errors.js"
import type { LogStore } from "../logs/log-store.js"

/** Fails unless every folder is empty: ids are never reused, so no log is ever appended to twice. */
export const requireFreshLog = (
  logs: LogStore,
  processId: string,
  dirs: ReadonlyArray<string>,
): Effect.Effect<void, ProcessMonitorError> =>
  Effect.forEach(dirs, (dir) =>
    Effect.gen(function* () {
      const existing = yield* logs
        .bounds(dir)
        .pipe(Effect.mapError(processMonitorFailure(processId, "could not read the log folder")))
      if (existing.end > 0) {
        return yield* new ProcessMonitorError({
          processId,
          message: `process ${processId} already has a log; ids are never reused`,
        })
      }
    }),
  ).pipe(Effect.asVoid)
