import { Layer } from "effect"
import { AuditLog } from "./audit/audit-log.js"
import { RunnerConfig, type RunnerConfigShape } from "./config.js"
import { JournalStore } from "./journal/journal-store.js"
import { LogStore } from "./logs/log-store.js"
import { AiRunnerRegistryLive } from "./runners/registry.js"
import { RunnerSettings, type RunnerSettingsShape } from "./runners/settings.js"
import { Schedules } from "./schedules/schedules.js"
import { TmuxControlClient } from "./tmux/control-client.js"
import { TmuxSessionManager } from "./tmux/session-manager.js"
import { TmuxProcessMonitorLive } from "./tmux/tmux-process-monitor.js"
import { Transcripts } from "./transcripts/transcripts.js"
import { Workspaces } from "./workspaces/workspaces.js"

/** The composition root: everything the runner domain needs, over real tmux and disk. */
export const RunnerLive = (config: RunnerConfigShape) => {
  const configLayer = Layer.succeed(RunnerConfig, config)
  const tmux = TmuxSessionManager.Default.pipe(
    Layer.provideMerge(TmuxControlClient.Default),
    Layer.provideMerge(configLayer),
  )
  const base = Layer.merge(tmux, LogStore.Default.pipe(Layer.provide(configLayer)))
  return TmuxProcessMonitorLive.pipe(Layer.provideMerge(base))
}

/**
 * Everything plus the runner registry, the audit trail and the schedules: what the server runs.
 * Building it rediscovers the runners already in tmux and in the journal, then starts the kept
 * schedules (whose loops end before the registry does).
 */
export const AiRunnerLive = (config: RunnerConfigShape, settings: RunnerSettingsShape) => {
  const base = RunnerLive(config)
  const configLayer = Layer.succeed(RunnerConfig, config)
  const journal = JournalStore.Default.pipe(Layer.provide(configLayer))
  const workspaces = Workspaces.Default.pipe(Layer.provide(configLayer))
  const audit = AuditLog.Default.pipe(Layer.provide(configLayer))
  const registry = AiRunnerRegistryLive.pipe(
    Layer.provideMerge(
      Layer.mergeAll(base, journal, workspaces, audit, Layer.succeed(RunnerSettings, settings)),
    ),
  )
  // The transcripts follow the registry's runners and read the runner env for the agents' homes.
  return Layer.mergeAll(Schedules.Default, Transcripts.Default).pipe(Layer.provideMerge(registry))
}
