import { Effect, Layer } from "effect"
import { RunnerConfig } from "../config.js"
import { type AiRunner, AiRunnerPort } from "../ports.js"
import { makeRegistrySearch } from "../search/registry-search.js"
import { makeAdopt } from "./adopt.js"
import { makeAgentUsage } from "./agent-usage.js"
import { makeControl } from "./control.js"
import { makeOutput } from "./output.js"
import { makeRediscovery } from "./rediscover.js"
import { makeRegistryContext } from "./registry-context.js"
import { makeReply } from "./reply.js"
import { makeStart } from "./start.js"
import { makeWait } from "./wait.js"
import { makeWatch } from "./watch.js"
import { makeWorkspaceOps } from "./workspace.js"
import { makeWriteNow } from "./write-now.js"

/**
 * The runners (the seed's `AiRunnerRegistry`), composed from one module per concern: start,
 * control, watch, adopt, rediscovery, output, over one shared context (the runners, the change
 * feed, persistence). Building it rediscovers the runners already in tmux and in the journal;
 * closing its scope stops watching, and every live runner keeps running in tmux.
 */
export const makeAiRunnerRegistry = Effect.gen(function* () {
  const ctx = yield* makeRegistryContext
  const workspace = makeWorkspaceOps(ctx)
  const control = makeControl(ctx, workspace)
  const watching = yield* makeWatch(ctx, control, workspace)
  const { startRunner } = yield* makeStart(ctx, watching, workspace)
  const { unmanagedSessions, adoptSession } = makeAdopt(ctx, watching, workspace)
  const { reattachAfter } = yield* RunnerConfig
  const { rediscover } = makeRediscovery(ctx, watching, workspace, reattachAfter)
  const { output, follow, logBounds, snapshot } = makeOutput(ctx)
  const { searchRunnerLogs } = yield* makeRegistrySearch(ctx)
  const writeNow = yield* makeWriteNow(ctx)

  yield* rediscover

  const getRunner = (id: string) => Effect.flatMap(ctx.entryOf(id), ctx.detailOf)

  const waitForCompletion = makeWait(ctx)

  return {
    startRunner,
    getRunner,
    listRunners: ctx.listRunners,
    removeRunner: control.removeRunner,
    pauseRunner: control.pauseRunner,
    resumeRunner: control.resumeRunner,
    terminateRunner: control.terminateRunner,
    waitForCompletion,
    write: control.write,
    writeNow,
    reply: makeReply(ctx, control),
    resize: control.resize,
    output,
    follow,
    logBounds,
    searchLogs: searchRunnerLogs,
    snapshot,
    unmanagedSessions,
    adoptSession,
    diff: workspace.diff,
    commit: workspace.commit,
    merge: workspace.merge,
    gitWorkTree: workspace.gitWorkTree,
    tmuxStatus: ctx.monitor.serverStatus,
    tmuxVersion: ctx.monitor.serverVersion,
    subscribe: ctx.feed.subscribe(ctx.listRunners),
    onRunnerEvent: ctx.feed.onRunnerEvent,
    ...makeAgentUsage(ctx),
  } satisfies AiRunner
})

/** `AiRunnerPort` over the process monitor, log store, journal and settings in context. */
export const AiRunnerRegistryLive = Layer.scoped(AiRunnerPort, makeAiRunnerRegistry)
