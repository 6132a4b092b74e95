import { execFileSync } from "node:child_process"
import { readdirSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope, Supervisor } from "effect"
import { ProcessId } from "../src/domain/ids.js"
import { isRunning } from "../src/monitor/process-tree.js"
import { testRunner } from "./harness.js"

const openFds = () => readdirSync("/proc/self/fd").length

/** Processes whose command line mentions `needle` (our writers, our panes). */
const processesMentioning = (needle: string) => {
  const out = execFileSync("ps", ["-eo", "pid=,args="], { encoding: "utf8" })
  return out.split("\n").filter((line) => line.includes(needle) && !line.includes(" ps -eo"))
}

describe("100 runners", () => {
  it.scopedLive(
    "spawned and terminated leave no process, fd or fiber behind",
    () =>
      Effect.gen(function* () {
        // C-c ends each runner at once; the grace only matters on a loaded machine, where 1 s
        // let some escalate to SIGKILL before the signal landed.
        const { monitor, dataDir, tmux } = yield* testRunner({ terminateGraceMs: 5_000 })
        const cycle = (ids: ReadonlyArray<string>) =>
          Effect.gen(function* () {
            const scope = yield* Scope.make()
            const supervisor = yield* Supervisor.track
            const pids: number[] = []
            yield* Effect.forEach(
              ids,
              (id) =>
                Effect.gen(function* () {
                  const handle = yield* monitor
                    .spawn("sh", ["-c", `echo started ${id}; exec sleep 1000`], {
                      processId: ProcessId(id),
                      cwd: "/tmp",
                    })
                    .pipe(Scope.extend(scope))
                  const pane = handle.sessionInfo?.paneId ?? ""
                  pids.push(
                    Number(tmux(["display-message", "-p", "-t", pane, "#{pane_pid}"]).stdout),
                  )
                  yield* handle.terminate
                  const exit = yield* handle.awaitExit
                  expect(exit.signal).toBe("SIGINT")
                }),
              { concurrency: 10 },
            ).pipe(Effect.supervised(supervisor))
            yield* Scope.close(scope, Exit.void)
            return { pids, fibers: yield* supervisor.value }
          })

        // Warm up: the control client, the inotify instance and /proc readers exist once.
        yield* cycle(["warm-up"])
        const fdsBefore = openFds()
        const ids = Array.from({ length: 100 }, (_, i) => `scale-${i}`)
        const { pids, fibers } = yield* cycle(ids)

        expect(pids).toHaveLength(100)
        expect(pids.filter(isRunning)).toEqual([])
        expect(processesMentioning(dataDir)).toEqual([])
        const sessions = tmux(["list-sessions", "-F", "#{session_name}"]).stdout.trim().split("\n")
        expect(sessions).toEqual(["geppetto-control"])
        expect(fibers.filter((f) => f.unsafePoll() === null)).toEqual([])
        expect(openFds()).toBeLessThanOrEqual(fdsBefore)
      }),
    180_000,
  )
})
