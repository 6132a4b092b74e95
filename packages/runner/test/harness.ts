import { spawn, spawnSync } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Context, Effect, Layer } from "effect"
import { defaultRunnerConfig, type RunnerConfigShape } from "../src/config.js"
import { RunnerLive } from "../src/live.js"
import { LogStore } from "../src/logs/log-store.js"
import { ProcessMonitorTag } from "../src/monitor/process-monitor-tag.js"
import { TmuxControlClient } from "../src/tmux/control-client.js"
import { TmuxSessionManager } from "../src/tmux/session-manager.js"

let counter = 0

const tmuxSocketPath = (socket: string) =>
  join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket)

/** A tmux command on the test's own server, run directly (for checks from outside). */
export const tmuxSync = (socket: string, args: ReadonlyArray<string>) => {
  const result = spawnSync("tmux", ["-L", socket, ...args], {
    encoding: "utf8",
  })
  return { stdout: result.stdout, stderr: result.stderr, code: result.status }
}

/**
 * A runner domain on its own tmux server (`-L` unique name) and temp data dir; both are
 * killed and deleted when the test's scope closes.
 */
export const testRunner = (overrides: Partial<RunnerConfigShape> = {}) =>
  Effect.gen(function* () {
    const dataDir = mkdtempSync(join(tmpdir(), "geppetto-test-"))
    const socket = `geppetto-test-${process.pid}-${++counter}-${Date.now().toString(36)}`
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => {
        tmuxSync(socket, ["kill-server"])
        // tmux leaves its socket file behind when killed; do not litter /tmp/tmux-UID.
        rmSync(tmuxSocketPath(socket), { force: true })
        rmSync(dataDir, { recursive: true, force: true })
      }),
    )
    const config = defaultRunnerConfig(dataDir, {
      tmuxSocket: socket,
      idleThresholdMs: 500,
      activeConfirmMs: 100,
      terminateGraceMs: 500,
      ...overrides,
    })
    const context = yield* Layer.build(RunnerLive(config))
    return {
      config,
      dataDir,
      socket,
      monitor: Context.get(context, ProcessMonitorTag),
      sessions: Context.get(context, TmuxSessionManager),
      client: Context.get(context, TmuxControlClient),
      logs: Context.get(context, LogStore),
      tmux: (args: ReadonlyArray<string>) => tmuxSync(socket, args),
    }
  })

export const fixture = (name: string) => join(import.meta.dirname, "fixtures", name)

/** What `fixtures/lines.sh COUNT` prints. */
export const expectedLines = (count: number): Buffer => {
  const parts: string[] = []
  for (let i = 0; i < count; i++) {
    parts.push(`line ${String(i).padStart(6, "0")} abcdefghijklmnopqrstuvwxyz0123456789\n`)
  }
  return Buffer.from(parts.join(""))
}

/** Polls `check` every 25 ms until it returns a value; fails after `ms`. */
export const eventually = <A>(
  check: () => A | undefined,
  what: string | (() => string),
  ms = 10_000,
) =>
  Effect.gen(function* () {
    const deadline = Date.now() + ms
    for (;;) {
      const value = check()
      if (value !== undefined) return value
      if (Date.now() > deadline)
        return yield* Effect.fail(
          new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`),
        )
      yield* Effect.sleep("25 millis")
    }
  })

/**
 * `count` processes spinning on the CPU until the scope closes: a machine short of CPU, where
 * races between the kernel, tmux and us show. Each also ends by itself within a minute,
 * should the test be killed before its finalizer runs.
 */
export const busyLoops = (count: number) =>
  Effect.acquireRelease(
    Effect.sync(() =>
      Array.from({ length: count }, () =>
        spawn(
          process.execPath,
          ["-e", "for (const end = Date.now() + 60e3; Date.now() < end; );"],
          {
            stdio: "ignore",
          },
        ),
      ),
    ),
    (loops) =>
      Effect.sync(() => {
        for (const loop of loops) loop.kill("SIGKILL")
      }),
  )
