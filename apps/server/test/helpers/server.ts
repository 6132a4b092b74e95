import { spawnSync } from "node:child_process"
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { RunnerDetail } from "@geppetto/protocol"
import {
  AiRunnerLive,
  AiRunnerPort,
  defaultRunnerConfig,
  loadRunnerSettings,
  makeProviderCatalog,
  type RunnerConfigShape,
} from "@geppetto/runner"
import { Effect, ManagedRuntime } from "effect"
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from "fastify"
import { type AppOptions, buildApp } from "../../src/app.js"
import { SERVER_CONFIG_KEYS } from "../../src/notify/config.js"
import type { ServerMetrics } from "../../src/observability/metrics.js"
import type { ApiContext } from "../../src/routes/context.js"
import { bearer, testAuth, testTokens } from "./auth.js"

export type Role = keyof typeof testTokens

let counter = 0

const tmuxSocketPath = (socket: string) =>
  join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket)

/** A tmux command on `socket`'s server, run from outside the app (what a user would see). */
export const tmuxOn = (socket: string, args: ReadonlyArray<string>) => {
  const result = spawnSync("tmux", ["-L", socket, ...args], { encoding: "utf8" })
  return { stdout: result.stdout, stderr: result.stderr, code: result.status }
}

/**
 * Polls `check` every 20 ms until it returns something other than `undefined`/`false`; throws
 * after `ms` with `what` (a condition, never a fixed sleep: the machine may be loaded).
 */
export const waitFor = async <A>(
  check: () => A | undefined | false | Promise<A | undefined | false>,
  what: string | (() => string),
  ms = 20_000,
): Promise<A> => {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export interface TestServerOptions {
  /** Written to `DATA_DIR/config.json` before the app is built (limits, attention timing). */
  readonly config?: Record<string, unknown>
  /** Runner domain overrides (segment size, retention, idle threshold). */
  readonly runner?: Partial<RunnerConfigShape>
  /** The terminal sockets' flow limits and `onFlow` hook. */
  readonly terminal?: ApiContext["terminal"]
  /** Open on another server's tmux and data dir (a restart); the last one closed cleans up. */
  readonly reuse?: { readonly dataDir: string; readonly socket: string }
  /** The app's metrics, also fed by the tmux client's `onTmuxCommand` (made by the app if unset). */
  readonly metrics?: ServerMetrics
  /** The app's log (off by default). */
  readonly logger?: AppOptions["logger"]
  /** Auth options over the test tokens and cookie key (e.g. a looser login rate limit). */
  readonly auth?: Partial<AppOptions["auth"]>
  /** Web Push and webhooks (the push service's TLS agent, shorter retries, `notifications`). */
  readonly notify?: AppOptions["notify"]
}

/**
 * A real server for one test: its own tmux server (`-L` unique name), a temp data dir, the
 * runner domain in a `ManagedRuntime`, and the app listening on 127.0.0.1:0. `close()` closes
 * the app (which disposes the runtime), kills the tmux server and removes the data dir.
 */
export const startServer = async (options: TestServerOptions = {}) => {
  const dataDir = options.reuse?.dataDir ?? mkdtempSync(join(tmpdir(), "geppetto-api-"))
  const socket =
    options.reuse?.socket ?? `geppetto-api-${process.pid}-${++counter}-${Date.now().toString(36)}`
  const cleanup = () => {
    tmuxOn(socket, ["kill-server"])
    // tmux leaves its socket file behind when killed.
    rmSync(tmuxSocketPath(socket), { force: true })
    rmSync(dataDir, { recursive: true, force: true })
  }
  let app: FastifyInstance | undefined
  let dispose: (() => Promise<void>) | undefined
  try {
    if (options.config !== undefined) {
      writeFileSync(join(dataDir, "config.json"), JSON.stringify(options.config))
    }
    const settings = await Effect.runPromise(
      loadRunnerSettings(dataDir, { ignoreKeys: SERVER_CONFIG_KEYS }),
    )
    const config = defaultRunnerConfig(dataDir, {
      tmuxSocket: socket,
      idleThresholdMs: 500,
      activeConfirmMs: 100,
      terminateGraceMs: 500,
      ...(options.metrics !== undefined
        ? { onTmuxCommand: options.metrics.observeTmuxCommand }
        : {}),
      ...options.runner,
    })
    const domain = ManagedRuntime.make(AiRunnerLive(config, { ...settings, defaultCwd: dataDir }))
    dispose = () => domain.dispose()
    const tmuxVersion = await domain.runPromise(Effect.flatMap(AiRunnerPort, (r) => r.tmuxVersion))
    const built = await buildApp({
      tmuxVersion: tmuxVersion.raw,
      // users.json in the data dir, like `geppetto serve`.
      auth: { ...testAuth, dataDir, ...options.auth },
      api: {
        runtime: domain,
        providers: makeProviderCatalog(process.env),
        tmuxSocket: socket,
        ...(options.terminal !== undefined ? { terminal: options.terminal } : {}),
      },
      ...(options.metrics !== undefined ? { metrics: options.metrics } : {}),
      ...(options.logger !== undefined ? { logger: options.logger } : {}),
      ...(options.notify !== undefined ? { notify: options.notify } : {}),
    })
    app = built
    built.addHook("onClose", async () => {
      await domain.dispose()
    })
    await built.listen({ host: "127.0.0.1", port: 0 })
  } catch (error) {
    if (app !== undefined) await app.close()
    else await dispose?.()
    cleanup()
    throw error
  }
  const listening = app
  const address = listening.server.address()
  if (address === null || typeof address === "string") throw new Error("not listening on TCP")
  const origin = `http://127.0.0.1:${address.port}`
  let stopped = false

  const request = (
    role: Role | "none" | "wrong",
    options: InjectOptions & { readonly url: string },
  ): Promise<LightMyRequestResponse> =>
    listening.inject({
      ...options,
      headers: {
        ...(role === "none"
          ? {}
          : role === "wrong"
            ? { authorization: "Bearer not-a-token-of-this-server" }
            : bearer(role)),
        ...options.headers,
      },
    })

  const server = {
    app: listening,
    dataDir,
    socket,
    origin,
    wsOrigin: origin.replace(/^http/, "ws"),
    tokens: testTokens,
    /** A tmux command on this server's tmux, from outside the app. */
    tmux: (args: ReadonlyArray<string>) => tmuxOn(socket, args),
    /** Names of every session on this server's tmux (an empty list when it has none). */
    sessions: (): ReadonlyArray<string> => {
      const out = tmuxOn(socket, ["list-sessions", "-F", "#{session_name}"])
      return out.code === 0 ? out.stdout.split("\n").filter((l) => l !== "") : []
    },
    /** The visible text of a session's active pane, as `capture-pane -p` prints it. */
    capture: (target: string): string =>
      tmuxOn(socket, ["capture-pane", "-p", "-t", target]).stdout.replace(/\n+$/, ""),
    request,
    get: (url: string, role: Role | "none" | "wrong" = "viewer") =>
      request(role, { method: "GET", url }),
    post: (url: string, body?: object | string, role: Role | "none" | "wrong" = "operator") =>
      request(role, {
        method: "POST",
        url,
        ...(body !== undefined ? { payload: body } : {}),
      }),
    /** Starts a runner as the operator and returns its parsed `RunnerDetail` (201 checked). */
    start: async (body: Record<string, unknown>): Promise<RunnerDetail> => {
      const reply = await request("operator", {
        method: "POST",
        url: "/api/runners",
        payload: body,
      })
      if (reply.statusCode !== 201)
        throw new Error(`start ${JSON.stringify(body)}: ${reply.statusCode} ${reply.body}`)
      return RunnerDetail.parse(reply.json())
    },
    /** The runner's detail now. */
    runner: async (id: string): Promise<RunnerDetail> => {
      const reply = await request("viewer", { method: "GET", url: `/api/runners/${id}` })
      if (reply.statusCode !== 200) throw new Error(`get ${id}: ${reply.statusCode} ${reply.body}`)
      return RunnerDetail.parse(reply.json())
    },
    /** The runner's whole kept log, and the offsets it spans. */
    log: async (id: string) => {
      const reply = await request("viewer", { method: "GET", url: `/api/runners/${id}/log` })
      if (reply.statusCode !== 200) throw new Error(`log ${id}: ${reply.statusCode} ${reply.body}`)
      return {
        bytes: reply.rawPayload,
        start: Number(reply.headers["x-log-start"]),
        end: Number(reply.headers["x-log-end"]),
      }
    },
    /** Closes the app (its sockets and the runner domain); tmux and the data dir stay. */
    stop: async () => {
      if (stopped) return
      stopped = true
      await listening.close()
    },
    /** Closes the app, kills the tmux server and removes the data dir. */
    close: async () => {
      try {
        await server.stop()
      } finally {
        cleanup()
      }
    },
  }
  return server
}

export type TestServer = Awaited<ReturnType<typeof startServer>>
