import {
  CommitRequest,
  type CommitResult,
  DiffQuery,
  GitQuery,
  type GitWorkTree,
  MergeRequest,
  RunnerParams,
  type WorkspaceDiff,
} from "@geppetto/protocol"
import { type AiRunner, AiRunnerPort, NotFoundError } from "@geppetto/runner"
import { Effect } from "effect"
import type { FastifyInstance } from "fastify"
import { parseWith, runEffect } from "../http/run-effect.js"
import { actor } from "../team/register.js"
import type { ApiContext } from "./context.js"

/** A runner's git workspace: its diff (viewers too), commit and merge (operators). */
export const registerWorkspaceRoutes = (app: FastifyInstance, ctx: ApiContext) => {
  const withRunners = <A, E>(f: (r: AiRunner) => Effect.Effect<A, E>) =>
    runEffect(ctx.runtime, Effect.flatMap(AiRunnerPort, f))
  const idOf = (params: unknown) => parseWith(RunnerParams, params, "params").id

  app.get(
    "/api/runners/:id/diff",
    { config: { auth: "viewer" } },
    async (request): Promise<WorkspaceDiff> => {
      const id = idOf(request.params)
      const { stat } = parseWith(DiffQuery, request.query, "query")
      const diff = await withRunners((r) => r.diff(id, { stat: stat === "1" }))
      return {
        baseCommit: diff.baseCommit,
        headCommit: diff.headCommit,
        files: [...diff.files],
        patch: diff.patch,
        ...(diff.truncated === true ? { truncated: true } : {}),
      }
    },
  )

  app.post(
    "/api/runners/:id/commit",
    { config: { auth: "operator" } },
    async (request): Promise<CommitResult> => {
      const id = idOf(request.params)
      const { message } = parseWith(CommitRequest, request.body, "body")
      const result = await withRunners((r) => r.commit(id, message))
      request.log.info({ runnerId: id, commit: result.commit }, "workspace committed")
      await app.audit.record({
        user: actor(request),
        action: "workspace.commit",
        runnerId: id,
        detail: `${result.commit.slice(0, 12)} ${message.split("\n", 1)[0] ?? ""}`,
      })
      return { commit: result.commit }
    },
  )

  app.post(
    "/api/runners/:id/merge",
    { config: { auth: "operator" } },
    async (request): Promise<CommitResult> => {
      const id = idOf(request.params)
      const body = parseWith(MergeRequest, request.body ?? {}, "body")
      const result = await withRunners((r) =>
        r.merge(id, {
          ...(body.into !== undefined ? { into: body.into } : {}),
          ...(body.strategy !== undefined ? { strategy: body.strategy } : {}),
        }),
      )
      request.log.info(
        { runnerId: id, commit: result.commit, strategy: body.strategy ?? "merge" },
        "workspace merged",
      )
      await app.audit.record({
        user: actor(request),
        action: "workspace.merge",
        runnerId: id,
        detail: `${result.commit.slice(0, 12)} into ${body.into ?? "its base branch"} (${body.strategy ?? "merge"})`,
      })
      return { commit: result.commit }
    },
  )

  // Operators only: it tells which folders on the host are repositories.
  app.get("/api/git", { config: { auth: "operator" } }, async (request): Promise<GitWorkTree> => {
    const { cwd } = parseWith(GitQuery, request.query, "query")
    const found = await withRunners((r) =>
      Effect.flatMap(r.gitWorkTree(cwd), (tree) =>
        tree === undefined
          ? Effect.fail(
              new NotFoundError({
                resource: "git work tree",
                id: cwd.slice(0, 200),
                message: "that folder is not in a git work tree",
              }),
            )
          : Effect.succeed(tree),
      ),
    )
    return found
  })
}
