import { spawnSync } from "node:child_process"
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Stream } from "effect"
import { ProcessId } from "../../src/domain/ids.js"
import { runnerEnvironment } from "../../src/domain/runner-environment.js"
import { makeProviderCatalog } from "../../src/providers/catalog.js"
import { testRunner, tmuxSync } from "../harness.js"
import { registryWorld } from "../runners/harness.js"
import { waitUntil } from "../streams.js"

let counter = 0

/** What tmux puts in every pane itself; the rest of a pane's environment is the spawn's. */
const TMUX_OWN = ["TERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "TMUX", "TMUX_PANE"]

/**
 * A tmux server started first, by a process with a minimal environment and a stale package
 * manager variable, as an older start or the user's own tmux would have: its global environment
 * is what every pane got before. Killed (and its socket file deleted) when the scope closes.
 */
const staleTmuxServer = Effect.gen(function* () {
  const home = mkdtempSync(join(tmpdir(), "geppetto-env-"))
  const socket = `geppetto-env-${process.pid}-${++counter}-${Date.now().toString(36)}`
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => {
      tmuxSync(socket, ["kill-server"])
      rmSync(join(process.env.TMUX_TMPDIR ?? "/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), {
        force: true,
      })
      rmSync(home, { recursive: true, force: true })
    }),
  )
  const started = spawnSync(
    "tmux",
    ["-L", socket, "new-session", "-d", "-s", "first", "--", "sleep", "600"],
    { env: { PATH: "/usr/bin:/bin", HOME: home, npm_config_stale: "1" }, encoding: "utf8" },
  )
  expect(started.status, started.stderr).toBe(0)
  expect(tmuxSync(socket, ["show-environment", "-g"]).stdout).toContain("npm_config_stale=1")
  // A folder on no PATH tmux knows of, with a fake `claude` that prints its environment.
  const bin = join(home, "bin")
  mkdirSync(bin)
  writeFileSync(
    join(bin, "claude"),
    [
      "#!/bin/sh",
      '[ "$1" = --version ] && { echo "1.0.0 (Fake Code)"; exit 0; }',
      'echo "args: $*"',
      "env",
      "echo END-OF-ENV",
    ].join("\n"),
  )
  chmodSync(join(bin, "claude"), 0o755)
  return { socket, home, bin }
})

/** `env` output (up to `END-OF-ENV`, if there) as a map; the pty turned each `\n` into `\r\n`. */
const parseEnv = (text: string): Map<string, string> => {
  const end = text.indexOf("END-OF-ENV")
  const lines = (end === -1 ? text : text.slice(0, end)).split("\r\n")
  return new Map(
    lines.flatMap((line) => {
      const eq = line.indexOf("=")
      return eq > 0 ? [[line.slice(0, eq), line.slice(eq + 1)] as const] : []
    }),
  )
}

describe("runner environment", () => {
  it.scopedLive(
    "a pane's environment is exactly the config's plus the request's, whatever tmux's global one holds",
    () =>
      Effect.gen(function* () {
        const stale = yield* staleTmuxServer
        const environment = {
          PATH: `${stale.bin}:/usr/bin:/bin`,
          HOME: stale.home,
          LANG: "C.UTF-8",
          GEPPETTO_BASE: "from the config",
          OVERRIDDEN: "from the config",
          SHELL: "/bin/geppetto-test-shell",
        }
        const { monitor } = yield* testRunner({ tmuxSocket: stale.socket, environment })
        // `env` itself, no shell between: a shell would add PWD of its own.
        const handle = yield* monitor.spawn("env", [], {
          processId: ProcessId("env-exact"),
          cwd: "/tmp",
          env: { OVERRIDDEN: "from the request", ODD_VALUE: "two\nlines 'and' $HOME" },
        })
        // Every event up to the exit, which comes last: the whole log.
        const events = Chunk.toReadonlyArray(yield* Stream.runCollect(handle.events))
        expect(events.at(-1)).toMatchObject({ _tag: "exit", exitCode: 0 })
        const text = Buffer.concat(
          events.flatMap((e) => (e._tag === "output" ? [Buffer.from(e.data)] : [])),
        ).toString("utf8")
        expect(text).toContain("ODD_VALUE=two\r\nlines 'and' $HOME\r\n")
        const env = parseEnv(text)
        expect(env.get("PATH")).toBe(environment.PATH)
        expect(env.get("OVERRIDDEN")).toBe("from the request")
        expect(env.get("GEPPETTO_BASE")).toBe("from the config")
        // tmux sets SHELL to its default-shell over the session's environment; ours is back.
        expect(env.get("SHELL")).toBe(environment.SHELL)
        expect(env.has("npm_config_stale")).toBe(false)
        // Exactly: nothing from tmux's global environment, nothing of the wrapper's.
        expect([...env.keys()].filter((k) => !TMUX_OWN.includes(k)).sort()).toEqual(
          [...Object.keys(environment), "ODD_VALUE"].sort(),
        )
      }),
  )

  it.scopedLive(
    "claude found by the providers check on the server's PATH starts and completes (not exit 127)",
    () =>
      Effect.gen(function* () {
        const stale = yield* staleTmuxServer
        // What `pnpm geppetto` hands the server once the user put the CLI's folder on PATH.
        const serverEnv = {
          PATH: `/src/geppetto/node_modules/.bin:/usr/lib/node_modules/pnpm/dist/node-gyp-bin:${stale.bin}:/usr/bin:/bin`,
          HOME: stale.home,
          LANG: "C.UTF-8",
          npm_lifecycle_event: "geppetto",
          npm_config_user_agent: "pnpm/12.4.2 npm/? node/? linux x64",
          npm_package_json: "/src/geppetto/package.json",
          PNPM_SCRIPT_SRC_DIR: "/src/geppetto",
        }
        const listed = yield* makeProviderCatalog(serverEnv).list
        expect(listed.find((p) => p.id === "claude")).toMatchObject({
          installed: true,
          version: "1.0.0 (Fake Code)",
        })
        const world = yield* registryWorld({
          tmuxSocket: stale.socket,
          environment: runnerEnvironment(serverEnv),
        })
        const { registry } = yield* world.open()
        const { runner } = yield* registry.startRunner({
          provider: "claude",
          mode: "oneshot",
          prompt: "hello there",
        })
        const done = yield* registry.waitForCompletion(runner.id)
        // The bug: `failed`, exit 127, "claude: not found" on tmux's global PATH.
        expect(done.runner).toMatchObject({ status: "completed", exitCode: 0 })
        const text = yield* waitUntil(
          registry.output(runner.id, 0),
          (t) => t.includes("END-OF-ENV"),
          "the fake claude's environment",
        )
        expect(text).toMatch(/^args: .*-p -- hello there\r$/m)
        const env = parseEnv(text)
        expect(env.get("PATH")).toBe(`${stale.bin}:/usr/bin:/bin`)
        expect([...env.keys()].filter((k) => /^(npm_|PNPM_)/i.test(k))).toEqual([])
      }),
  )

  it.scoped(
    "a CLI only in the checkout's node_modules/.bin is not installed: runners never see it",
    () =>
      Effect.gen(function* () {
        const checkout = mkdtempSync(join(tmpdir(), "geppetto-checkout-"))
        yield* Effect.addFinalizer(() =>
          Effect.sync(() => rmSync(checkout, { recursive: true, force: true })),
        )
        const bin = join(checkout, "node_modules", ".bin")
        mkdirSync(bin, { recursive: true })
        writeFileSync(join(bin, "claude"), "#!/bin/sh\necho 1.0.0\n")
        chmodSync(join(bin, "claude"), 0o755)
        const PATH = `${bin}:/usr/bin:/bin`
        const claudeOf = (env: Record<string, string>) =>
          Effect.map(makeProviderCatalog(env).list, (list) => list.find((p) => p.id === "claude"))
        expect(yield* claudeOf({ PATH, npm_lifecycle_event: "geppetto" })).toMatchObject({
          installed: false,
        })
        // Not launched by a package manager: that PATH is the runners' too.
        expect(yield* claudeOf({ PATH })).toMatchObject({ installed: true })
      }),
  )
})
