import type { RunnerSummary } from "@geppetto/protocol"
import { Deferred, Effect, Exit } from "effect"
import type { NotFoundError } from "../domain/errors.js"
import type { RunnerDetail } from "../domain/runner.js"
import { notFound, type RegistryContext } from "./registry-context.js"
import { readState } from "./runner-entry.js"
import { toSummary } from "./runner-state.js"

/**
 * What a caller waits for: `done` (completed or failed), `waiting` (waiting for a person:
 * a permission prompt, a question, or an agent back at its prompt) or `idle` (an agent back
 * at its prompt, its turn over: status `idle`).
 */
export type WaitTarget = "done" | "waiting" | "idle"

export interface WaitOptions {
  /** Default `done`. */
  readonly for?: WaitTarget | undefined
}

const FINAL = new Set(["completed", "failed"])

/** Whether `runner` is in the state `target` names, or past waiting for it (it ended). */
export const waitReached = (runner: RunnerSummary, target: WaitTarget): boolean => {
  if (FINAL.has(runner.status)) return true
  if (target === "waiting") return runner.waitingForInput
  if (target === "idle") return runner.status === "idle"
  return false
}

/**
 * `waitForCompletion`: resolves with the runner's detail once it reaches `options.for`, at once
 * when it is there already. A runner that ends first resolves it too, with its final detail
 * (the caller tells by its status). `done` awaits the runner's own end latch, resolved after
 * its final summary is on the change feed and its session is closed; `waiting` and `idle`
 * listen to the feed for that runner's changes, registered before its state is read, so no
 * change falls in between. A runner removed meanwhile fails it with `NotFoundError`.
 */
export const makeWait =
  (ctx: RegistryContext) =>
  (id: string, options: WaitOptions = {}): Effect.Effect<RunnerDetail, NotFoundError> =>
    Effect.scoped(
      Effect.gen(function* () {
        const target = options.for ?? "done"
        const entry = yield* ctx.entryOf(id)
        if (target === "done") {
          yield* Deferred.await(entry.done)
          return yield* ctx.detailOf(entry)
        }
        const reached = yield* Deferred.make<RunnerSummary, NotFoundError>()
        yield* ctx.feed.onRunnerEvent(id, (event) => {
          if (event.type === "removed") Deferred.unsafeDone(reached, Exit.fail(notFound(id)))
          else if (event.type === "runner" && waitReached(event.runner, target)) {
            Deferred.unsafeDone(reached, Exit.succeed(event.runner))
          }
        })
        if (entry.removed) return yield* notFound(id)
        const now = toSummary(yield* readState(entry))
        if (waitReached(now, target)) return yield* ctx.detailOf(entry)
        // The end latch too: an ended runner resolves any wait, however its end was told.
        const runner = yield* Effect.raceFirst(
          Deferred.await(reached),
          Effect.map(Deferred.await(entry.done), toSummary),
        )
        const detail = yield* ctx.detailOf(entry)
        // The summary as it was when it got there (it may have moved on since).
        return { ...detail, runner }
      }),
    ).pipe(Effect.withSpan("AiRunner.waitForCompletion", { attributes: { id } }))
