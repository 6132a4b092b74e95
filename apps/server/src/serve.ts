import { mkdir } from "node:fs/promises"
import { defaultRunnerConfig, RunnerLive, TmuxControlClient } from "@geppetto/runner"
import { Effect, ManagedRuntime } from "effect"
import { buildApp } from "./app.js"
import type { ServeConfig } from "./config.js"
import { defaultDashboardDir } from "./dashboard.js"

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"])

/** Starts the server: checks tmux, prepares the data dir, listens, and stops cleanly on signals. */
export const serve = async (
  config: ServeConfig,
): Promise<{ close: () => Promise<void>; url: string }> => {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  const runtime = ManagedRuntime.make(
    RunnerLive(defaultRunnerConfig(config.dataDir, { tmuxSocket: config.tmuxSocket })),
  )
  const tmux = await runtime
    .runPromise(Effect.flatMap(TmuxControlClient, (c) => c.version))
    .catch(async (error: unknown) => {
      await runtime.dispose()
      throw error
    })
  const app = await buildApp({ tmuxVersion: tmux.raw, dashboardDir: defaultDashboardDir })
  // The runner layer (control client, watchers) lives as long as the app; runners stay in tmux.
  app.addHook("onClose", async () => {
    await runtime.dispose()
  })
  const address = await app.listen({ host: config.host, port: config.port })
  if (!LOOPBACK.has(config.host)) {
    process.stderr.write(
      `warning: listening on ${config.host} without TLS: tokens and terminal contents cross the network in clear text\n`,
    )
  }
  return { close: () => app.close(), url: address }
}
