import { Layer } from "effect"
import { RunnerConfig, type RunnerConfigShape } from "./config.js"
import { LogStore } from "./logs/log-store.js"
import { BasicProcessMonitorLive } from "./monitor/basic-process-monitor.js"
import { TmuxProcessMonitorLive } from "./monitor/tmux-process-monitor.js"
import { TmuxControlClient } from "./tmux/control-client.js"
import { TmuxSessionManager } from "./tmux/session-manager.js"

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

/** The runner domain over plain child processes (the `basic` adapter): no tmux needed. */
export const BasicRunnerLive = (config: RunnerConfigShape) => {
  const configLayer = Layer.succeed(RunnerConfig, config)
  const base = LogStore.Default.pipe(Layer.provideMerge(configLayer))
  return BasicProcessMonitorLive.pipe(Layer.provideMerge(base))
}
