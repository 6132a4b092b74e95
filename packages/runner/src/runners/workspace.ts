import type { WorkspaceDiff, WorktreeRequest } from "@geppetto/protocol"
import { Deferred, Effect, Option } from "effect"
import { NotFoundError } from "../domain/errors.js"
import { GitOperationError } from "../domain/git-errors.js"
import type { MergeOptions } from "../workspaces/merge.js"
import type { DiffOptions } from "../workspaces/workspaces.js"
import type { RegistryContext } from "./registry-context.js"
import { type RunnerEntry, readState } from "./runner-entry.js"
import type { WorkspaceState } from "./runner-state.js"

/** The journal's form of a workspace: no optional field set to `undefined`. */
export const toWorkspaceState = (w: {
  readonly repo: string
  readonly path: string
  readonly branch: string
  readonly base: string
  readonly baseCommit: string
  readonly isolated: boolean
  readonly additions?: number | undefined
  readonly deletions?: number | undefined
  readonly missing?: boolean | undefined
}): WorkspaceState => ({
  repo: w.repo,
  path: w.path,
  branch: w.branch,
  base: w.base,
  baseCommit: w.baseCommit,
  isolated: w.isolated,
  ...(w.additions !== undefined ? { additions: w.additions } : {}),
  ...(w.deletions !== undefined ? { deletions: w.deletions } : {}),
  ...(w.missing === true ? { missing: true } : {}),
})

/**
 * A runner's git workspace: made on start (its own worktree, or the work tree it starts in),
 * its diff, commit and merge, its `+N −M` kept on the summary, and its folder removed with it.
 */
export const makeWorkspaceOps = (ctx: RegistryContext) => {
  const { workspaces, entryOf, update } = ctx

  /**
   * Where a new runner works: a new worktree when asked (failing the start when that is
   * impossible), else the work tree `cwd` lies in, if any (never failing the start).
   */
  const forStart = (input: {
    readonly cwd: string
    readonly runnerId: string
    readonly name: string
    readonly worktree: WorktreeRequest | undefined
  }) =>
    Effect.gen(function* () {
      if (input.worktree === undefined) {
        const found = yield* workspaces.describe(input.cwd).pipe(Effect.option)
        return Option.getOrUndefined(Option.map(found, toWorkspaceState))
      }
      const options = input.worktree === true ? {} : input.worktree
      const created = yield* workspaces.create({
        cwd: input.cwd,
        runnerId: input.runnerId,
        name: input.name,
        ...(options.branch !== undefined ? { branch: options.branch } : {}),
        ...(options.base !== undefined ? { base: options.base } : {}),
      })
      return toWorkspaceState(created)
    })

  /** The work tree a folder lies in, for an adopted session; `undefined` when none. */
  const describe = (cwd: string) =>
    workspaces.describe(cwd).pipe(
      Effect.option,
      Effect.map((found) => Option.getOrUndefined(Option.map(found, toWorkspaceState))),
    )

  const workspaceOf = (id: string) =>
    Effect.gen(function* () {
      const entry = yield* entryOf(id)
      const workspace = (yield* readState(entry)).workspace
      if (workspace === undefined) {
        return yield* new NotFoundError({
          resource: "workspace",
          id,
          message: `runner ${id} has no git workspace (its cwd is not in a git work tree)`,
        })
      }
      return { entry, workspace }
    })

  const setCounts = (entry: RunnerEntry, additions: number, deletions: number) =>
    update(entry, (s) =>
      s.workspace === undefined ||
      (s.workspace.additions === additions && s.workspace.deletions === deletions)
        ? s
        : { ...s, workspace: { ...s.workspace, additions, deletions } },
    )

  /**
   * One diff per runner and kind at a time: viewers asking together (every open tab refetches
   * on the same `+N −M` change) share it, as they share a snapshot. Each diff also sets the
   * counts it found.
   */
  const inFlight = new Map<string, Deferred.Deferred<WorkspaceDiff, GitOperationError>>()
  const sharedDiff = (entry: RunnerEntry, workspace: WorkspaceState, stat: boolean) =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        const key = `${entry.id}/${stat}`
        const pending = inFlight.get(key)
        if (pending !== undefined) return yield* restore(Deferred.await(pending))
        const deferred = yield* Deferred.make<WorkspaceDiff, GitOperationError>()
        inFlight.set(key, deferred)
        const exit = yield* Effect.exit(
          workspaces.diff(workspace, { stat }).pipe(
            Effect.tap((result) =>
              setCounts(
                entry,
                result.files.reduce((n, f) => n + f.additions, 0),
                result.files.reduce((n, f) => n + f.deletions, 0),
              ),
            ),
          ),
        )
        inFlight.delete(key)
        yield* Deferred.done(deferred, exit)
        return yield* restore(exit)
      }),
    )

  const diff = (id: string, options: DiffOptions = {}) =>
    Effect.gen(function* () {
      const { entry, workspace } = yield* workspaceOf(id)
      return yield* sharedDiff(entry, workspace, options.stat === true)
    }).pipe(Effect.withSpan("AiRunner.diff"))

  /**
   * Recounts `+N −M` (the file list only) when a runner with its own worktree goes quiet or
   * ends: never on a timer, never for a work tree the runner shares with a person (that could
   * be a whole home folder), and a failure only leaves the old counts. Callers fork it: a slow
   * repository must not hold the runner's events or its end.
   */
  const refreshCounts = (entry: RunnerEntry) =>
    Effect.gen(function* () {
      const workspace = (yield* readState(entry)).workspace
      if (workspace === undefined || !workspace.isolated || workspace.missing === true) return
      yield* sharedDiff(entry, workspace, true)
    }).pipe(
      Effect.catchAll((e) => Effect.logDebug(`workspace counts of ${entry.id}: ${e.message}`)),
    )

  const commit = (id: string, message: string) =>
    Effect.gen(function* () {
      const { entry, workspace } = yield* workspaceOf(id)
      if (!workspace.isolated) {
        // `add -A` there would take the person's own edits (and any `.env` not ignored) too.
        return yield* new GitOperationError({
          command: "git add -A",
          stderr: "",
          message: `runner ${id} works in your own work tree at ${workspace.path}, not in a worktree of its own: commit there yourself`,
        })
      }
      const result = yield* workspaces.commit(workspace, message)
      yield* refreshCounts(entry)
      return result
    }).pipe(Effect.withSpan("AiRunner.commit"))

  const merge = (id: string, options: MergeOptions = {}) =>
    Effect.gen(function* () {
      const { entry, workspace } = yield* workspaceOf(id)
      const result = yield* workspaces.merge(workspace, options)
      yield* refreshCounts(entry)
      return result
    }).pipe(Effect.withSpan("AiRunner.merge"))

  /** Undoes the worktree of a start that failed: folder, and the branch nothing was done on. */
  const discard = (workspace: WorkspaceState | undefined) =>
    workspace === undefined || !workspace.isolated ? Effect.void : workspaces.discard(workspace)

  /** The worktree folder of a removed runner (its branch stays); logged, never a failure. */
  const removeFolder = (workspace: WorkspaceState | undefined) =>
    workspace === undefined || !workspace.isolated
      ? Effect.void
      : workspaces
          .remove(workspace)
          .pipe(
            Effect.catchAllCause((cause) =>
              Effect.logWarning(`worktree ${workspace.path}: not removed`, cause),
            ),
          )

  /** After a restart: an isolated workspace whose folder was deleted by hand is `missing`. */
  const checkFolder = (entry: RunnerEntry) =>
    Effect.gen(function* () {
      const workspace = (yield* readState(entry)).workspace
      if (workspace === undefined || !workspace.isolated) return
      const there = yield* workspaces.exists(workspace).pipe(Effect.orElseSucceed(() => true))
      if (there === (workspace.missing !== true)) return
      yield* update(entry, (s) =>
        s.workspace === undefined
          ? s
          : { ...s, workspace: toWorkspaceState({ ...s.workspace, missing: !there }) },
      )
    })

  const gitWorkTree = (cwd: string) =>
    workspaces.inspect(cwd).pipe(
      Effect.map((info) =>
        info === undefined ? undefined : { repo: info.repo, path: info.path, branch: info.branch },
      ),
      Effect.orElseSucceed(() => undefined),
    )

  return {
    gitWorkTree,
    forStart,
    discard,
    describe,
    diff,
    commit,
    merge,
    refreshCounts,
    removeFolder,
    checkFolder,
  } as const
}

export type WorkspaceOps = ReturnType<typeof makeWorkspaceOps>
