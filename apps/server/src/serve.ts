import { mkdir, readFile } from "node:fs/promises"
import {
  AiRunnerLive,
  AiRunnerPort,
  defaultRunnerConfig,
  loadRunnerSettings,
  makeProviderCatalog,
  runnerEnvironment,
} from "@geppetto/runner"
import { Effect, ManagedRuntime } from "effect"
import { type AppOptions, buildApp } from "./app.js"
import {
  type LoadedTokens,
  loadSessionSecret,
  loadTokens,
  MIN_RECOMMENDED_TOKEN_LENGTH,
} from "./auth/tokens.js"
import { ConfigError, type ServeConfig } from "./config.js"
import { defaultDashboardDir } from "./dashboard.js"
import { acquireDataDirLock } from "./lock.js"
import { loadNotificationsConfig, SERVER_CONFIG_KEYS } from "./notify/config.js"
import { createServerMetrics } from "./observability/metrics.js"
import { serverVersion } from "./version.js"

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"])

export interface RunningServer {
  readonly close: () => Promise<void>
  /** e.g. `http://127.0.0.1:7420` */
  readonly url: string
  readonly tokens: LoadedTokens
  /** What `geppetto serve` prints once listening: where to log in, tmux, the data dir. */
  readonly banner: string
}

const loginLink = (url: string, token: string): string =>
  `${url}/?token=${encodeURIComponent(token)}`

/**
 * The start banner. It prints a login link only for a token the server generated: one the
 * user set in the environment is theirs to hand out, and is kept out of logs.
 */
export const startBanner = (config: ServeConfig, url: string, tokens: LoadedTokens): string => {
  const operator =
    tokens.source.operator === "file"
      ? `  open:        ${loginLink(url, tokens.tokens.operator)}  (owner, admin)`
      : `  open:        ${url}/  (log in with GEPPETTO_TOKEN)`
  const viewer =
    tokens.source.viewer === "file"
      ? `  viewers:     ${loginLink(url, tokens.tokens.viewer)}  (read-only)`
      : `  viewers:     log in with GEPPETTO_VIEWER_TOKEN`
  return [
    `Geppetto Runners listening on ${url}`,
    operator,
    viewer,
    `  tmux server: ${config.tmuxSocket === undefined ? "default" : `-L ${config.tmuxSocket}`}`,
    `  data dir:    ${config.dataDir}`,
    ...(tokens.source.operator === "file" || tokens.source.viewer === "file"
      ? [`  tokens:      ${tokens.file}${tokens.created ? " (new)" : ""}`]
      : []),
    "",
  ].join("\n")
}

export interface ServeOptions {
  /** The server log; off by default (`geppetto serve` passes `consoleLogger`). */
  readonly logger?: AppOptions["logger"]
}

/** Starts the server: checks tmux, prepares the data dir and secrets, listens. */
export const serve = async (
  config: ServeConfig,
  env: NodeJS.ProcessEnv = process.env,
  options: ServeOptions = {},
): Promise<RunningServer> => {
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  // One server per data dir: a second one would be a second writer of the journal and logs.
  const lock = await acquireDataDirLock(config.dataDir)
  try {
    return await serveLocked(config, env, options, lock.release)
  } catch (error) {
    await lock.release()
    throw error
  }
}

const serveLocked = async (
  config: ServeConfig,
  env: NodeJS.ProcessEnv,
  options: ServeOptions,
  releaseLock: () => Promise<void>,
): Promise<RunningServer> => {
  const tokens = await loadTokens(config.dataDir, env)
  const secret = await loadSessionSecret(config.dataDir)
  const https =
    config.tls === undefined
      ? undefined
      : { cert: await readFile(config.tls.certFile), key: await readFile(config.tls.keyFile) }
  const settings = await Effect.runPromise(
    loadRunnerSettings(config.dataDir, { ignoreKeys: SERVER_CONFIG_KEYS }).pipe(
      Effect.mapError((e) => new ConfigError(e.message)),
      Effect.either,
    ),
  ).then((result) => {
    if (result._tag === "Left") throw result.left
    return result.right
  })
  // A bad `notifications` key stops the start with a message naming it, like the rest of config.json.
  const notifications = await loadNotificationsConfig(config.dataDir)
  // Made before the runner domain, whose tmux client reports each command's latency into it.
  const metrics = createServerMetrics()
  // The runners found live in tmux are watched again once the server listens: 100 of them
  // took 0.5 s of the loop, and the list (from the journal and tmux) does not wait for them.
  let listened = () => {}
  const reattachAfter = new Promise<void>((resolve) => {
    listened = resolve
  })
  const runtime = ManagedRuntime.make(
    AiRunnerLive(
      defaultRunnerConfig(config.dataDir, {
        ...settings.runnerConfig,
        tmuxSocket: config.tmuxSocket,
        environment: runnerEnvironment(env),
        onTmuxCommand: metrics.observeTmuxCommand,
        reattachAfter,
      }),
      settings,
    ),
  )
  const { app, tmuxVersion } = await (async () => {
    const tmux = await runtime.runPromise(Effect.flatMap(AiRunnerPort, (r) => r.tmuxVersion))
    const built = await buildApp({
      tmuxVersion: tmux.raw,
      dashboardDir: config.dashboardDir ?? defaultDashboardDir,
      auth: { tokens: tokens.tokens, secret, dataDir: config.dataDir },
      api: { runtime, providers: makeProviderCatalog(env), tmuxSocket: config.tmuxSocket },
      metrics,
      notify: { config: notifications, dataDir: config.dataDir },
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      ...(https === undefined ? {} : { https }),
    })
    return { app: built, tmuxVersion: tmux.raw }
  })().catch(async (error: unknown) => {
    await runtime.dispose()
    throw error
  })
  // The runner layer (control client, watchers) lives as long as the app; runners stay in tmux.
  app.addHook("onClose", async () => {
    app.log.info("server stopping (runners keep running in tmux)")
    await runtime.dispose()
    await releaseLock()
  })
  const url = await app.listen({ host: config.host, port: config.port }).finally(listened)
  // The address only: the login link with its token is the banner's, printed once.
  app.log.info(
    {
      url,
      version: serverVersion,
      tmux: tmuxVersion,
      tmuxSocket: config.tmuxSocket ?? "default",
      dataDir: config.dataDir,
      tls: https !== undefined,
    },
    "server started",
  )
  if (!LOOPBACK.has(config.host) && https === undefined) {
    process.stderr.write(
      `warning: listening on ${config.host} without TLS: tokens and terminal contents cross the network in clear text (see --tls-cert/--tls-key)\n`,
    )
  }
  for (const role of ["operator", "viewer"] as const) {
    if (
      tokens.source[role] === "env" &&
      tokens.tokens[role].length < MIN_RECOMMENDED_TOKEN_LENGTH
    ) {
      process.stderr.write(
        `warning: the ${role} token from the environment is shorter than ${MIN_RECOMMENDED_TOKEN_LENGTH} characters and could be guessed\n`,
      )
    }
  }
  return { close: () => app.close(), url, tokens, banner: startBanner(config, url, tokens) }
}
