import { Clock, Effect, ExecutionStrategy, Exit, Scope } from "effect"
import { NotFoundError, ValidationError } from "../domain/errors.js"
import { decodeSessionName, generateProcessId, ProcessId } from "../domain/ids.js"
import type { UnmanagedSession } from "../domain/runner.js"
import { detectFromCommand } from "../providers/registry.js"
import type { RegistryContext } from "./registry-context.js"
import { readState } from "./runner-entry.js"
import { encodeRunnerMeta } from "./runner-meta.js"
import { newRunnerState } from "./runner-state.js"
import type { Watch } from "./watch.js"
import type { WorkspaceOps } from "./workspace.js"

/** Sessions on the tmux server that are not runners, and making one of them a runner. */
export const makeAdopt = (ctx: RegistryContext, watching: Watch, workspace: WorkspaceOps) => {
  const { monitor, logs, entries } = ctx

  const unmanagedSessions = Effect.map(monitor.listSessions, (listings) =>
    listings
      .filter((s) => s.metadata.id === undefined)
      .map((s): UnmanagedSession => {
        const active = s.panes.find((p) => p.active) ?? s.panes[0]
        return {
          name: s.name,
          windows: s.windows,
          panes: s.panes.length,
          attached: s.attached,
          createdAt: s.createdAt,
          command: active?.currentCommand,
        }
      }),
  )

  const adoptSession = (sessionName: string) =>
    Effect.gen(function* () {
      const name = yield* decodeSessionName(sessionName, "name")
      const listing = (yield* monitor.listSessions).find((s) => s.name === name)
      if (listing === undefined) {
        return yield* new NotFoundError({
          resource: "session",
          id: name,
          message: `there is no tmux session named ${name}`,
        })
      }
      if (listing.metadata.id !== undefined) {
        return yield* new ValidationError({
          field: "name",
          message: `tmux session ${name} is already runner ${listing.metadata.id}`,
        })
      }
      yield* logs.checkWritable
      const id = generateProcessId("run")
      const primary = listing.panes.find((p) => p.active) ?? listing.panes[0]
      const provider = detectFromCommand(primary?.currentCommand ?? "")
      const now = yield* Clock.currentTimeMillis
      const cwd = primary?.currentPath ?? ""
      const state = newRunnerState({
        id,
        name,
        provider,
        mode: "interactive",
        cwd,
        adopted: true,
        workspace: cwd === "" ? undefined : yield* workspace.describe(cwd),
        at: now,
      })
      const entry = yield* ctx.newEntry({
        ...state,
        createdAt: listing.createdAt > 0 ? listing.createdAt : now,
      })
      const scope = yield* Scope.fork(ctx.registryScope, ExecutionStrategy.sequential)
      const handle = yield* monitor
        .monitorExisting(name, {
          processId: ProcessId(id),
          // Marks the session as ours, so a restarted server finds it again.
          metadata: { provider, meta: encodeRunnerMeta(yield* readState(entry)) },
        })
        .pipe(
          Scope.extend(scope),
          Effect.tapError(() => Scope.close(scope, Exit.void)),
        )
      entries.set(id, entry)
      yield* watching.watch(entry, handle, scope)
      yield* ctx.persist(entry)
      yield* ctx.publishRunner(entry)
      return yield* ctx.detailOf(entry)
    }).pipe(Effect.withSpan("AiRunner.adopt"))

  return { unmanagedSessions, adoptSession } as const
}
