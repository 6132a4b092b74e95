import { execFileSync } from "node:child_process"
import { readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { readProcTable } from "../src/monitor/process-tree.js"
import { awaitWrapperCommand, paneWrapperScript } from "../src/tmux/pane-wrapper.js"
import { testRunner } from "./harness.js"

/** The command lines of `pid`'s children. */
const childCommands = async (pid: number) =>
  (await readProcTable())
    .filter((p) => p.ppid === pid)
    .map((p) => readFileSync(`/proc/${p.pid}/cmdline`, "latin1").split("\0").join(" ").trim())

describe("pane wrapper", () => {
  it.scopedLive(
    "awaitWrapperCommand waits for the command behind the gate, not for a plain shell",
    () =>
      Effect.gen(function* () {
        const { tmux, dataDir } = yield* testRunner()
        const gate = join(dataDir, "gate")
        execFileSync("mkfifo", [gate])
        tmux([
          "new-session",
          "-d",
          "-s",
          "gated",
          "--",
          "/bin/sh",
          "-c",
          paneWrapperScript(),
          gate,
          "sleep",
          "100",
        ])
        tmux(["new-session", "-d", "-s", "plain", "--", "/bin/sh"])
        const pidOf = (session: string) =>
          Number(tmux(["display-message", "-p", "-t", `=${session}:`, "#{pane_pid}"]).stdout.trim())
        const wrapper = pidOf("gated")

        // Gate shut: no command yet; the wait gives up at its bound.
        yield* awaitWrapperCommand(wrapper, 200)
        expect(yield* Effect.promise(() => childCommands(wrapper))).toEqual([])

        // Gate open: it returns once the command runs (the test's timeout is the bound).
        writeFileSync(gate, "go\n")
        yield* awaitWrapperCommand(wrapper, 60_000)
        expect(yield* Effect.promise(() => childCommands(wrapper))).toEqual(["sleep 100"])

        // Not our wrapper (an adopted shell with nothing running): no wait at all.
        yield* awaitWrapperCommand(pidOf("plain"), 60_000)
      }),
  )
})
