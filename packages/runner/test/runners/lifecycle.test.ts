import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Schedule, Stream } from "effect"
import { evaluateScreen, screenOf } from "../../src/attention/evaluate.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"
import { PaneId } from "../../src/domain/ids.js"
import { descendantPids, processState } from "../../src/monitor/process-tree.js"
import { fixture } from "../harness.js"
import { eventually, recordFeed, registryWorld, transitions } from "./harness.js"

/** Runs `look` every 20 ms until `done` holds; fails after 10 s (a condition, not a sleep). */
const pollUntil = <A, E>(look: Effect.Effect<A, E>, done: (a: A) => boolean, what: string) =>
  look.pipe(
    Effect.filterOrFail(done, () => new Error(`not yet ${what}`)),
    Effect.retry(Schedule.spaced("20 millis")),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`never saw ${what}`) }),
  )

const sh = (script: string) => ({ provider: "shell", command: ["sh", "-c", script] })

describe("runner lifecycle", () => {
  it.scopedLive("a command that exits 0 is completed, with its metrics", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open()
      const started = yield* registry.startRunner({
        ...sh("printf 'one\\ntwo\\nthree\\n'; sleep 0.3"),
        mode: "oneshot",
        name: "three-lines",
      })
      expect(started.runner).toMatchObject({
        name: "three-lines",
        provider: "shell",
        mode: "oneshot",
        status: "running",
        cwd: "/tmp",
      })
      expect(started.session?.attachCommand).toContain(`-L ${world.socket} attach -t =three-lines`)
      const done = yield* registry.waitForCompletion(started.runner.id)
      expect(done.runner).toMatchObject({
        status: "completed",
        exitCode: 0,
        waitingForInput: false,
      })
      expect(done.runner.failureReason).toBeUndefined()
      expect(done.metrics.lines).toBe(3)
      // The pty turns \n into \r\n.
      expect(done.metrics.bytesOut).toBe("one\r\ntwo\r\nthree\r\n".length)
      expect(done.runner.bytesOut).toBe(done.metrics.bytesOut)
      expect(done.metrics.endedAt).toBeGreaterThanOrEqual(done.metrics.startedAt ?? Infinity)
      expect(done.session).toBeUndefined()
      // Finished runners stay listed, and their log stays readable.
      expect((yield* registry.listRunners).map((r) => r.id)).toEqual([started.runner.id])
      const text = yield* registry.output(started.runner.id, 0).pipe(
        Stream.take(1),
        Stream.runCollect,
        Effect.map((c) => Buffer.from([...c][0]?.bytes ?? []).toString()),
      )
      expect(text).toBe("one\r\ntwo\r\nthree\r\n")
    }),
  )

  it.scopedLive("a non-zero exit is failed with the code as the reason", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open()
      const feed = yield* recordFeed(registry)
      const { runner } = yield* registry.startRunner(sh("echo bad; exit 3"))
      const done = yield* registry.waitForCompletion(runner.id)
      expect(done.runner).toMatchObject({
        status: "failed",
        exitCode: 3,
        failureReason: "exited with code 3",
      })
      yield* eventually(
        () => (transitions(feed, runner.id).includes("status:failed") ? true : undefined),
        "the failed status event",
      )
      const exitEvents = feed.filter(
        (e) => e.type === "event" && e.runnerId === runner.id && e.event.type === "exit",
      )
      expect(exitEvents).toHaveLength(1)
    }),
  )

  it.scopedLive("a runner whose PATH has no coreutils still logs its output and its exit", () =>
    Effect.gen(function* () {
      // Hooks and the log writer run in the session's environment: they must not depend on
      // the runner's PATH to find `mv` and `split`.
      const world = yield* registryWorld()
      const { registry } = yield* world.open()
      const { runner } = yield* registry.startRunner({
        provider: "shell",
        command: ["/bin/sh", "-c", "echo still-logged; exit 3"],
        env: { PATH: "/nonexistent" },
      })
      const done = yield* registry.waitForCompletion(runner.id)
      expect(done.runner).toMatchObject({ status: "failed", exitCode: 3 })
      const text = yield* registry.output(runner.id, 0).pipe(
        Stream.take(1),
        Stream.runCollect,
        Effect.map((c) => Buffer.from([...c][0]?.bytes ?? []).toString()),
      )
      expect(text).toBe("still-logged\r\n")
    }),
  )

  it.scopedLive("terminate stops a runner: failed, terminated, session gone", () =>
    Effect.gen(function* () {
      // A long grace: on a loaded machine C-c may take more than the harness's 500 ms to land.
      const world = yield* registryWorld({ terminateGraceMs: 5_000 })
      const { registry } = yield* world.open()
      const { runner } = yield* registry.startRunner(sh("echo up; exec sleep 100"))
      const stopped = yield* registry.terminateRunner(runner.id)
      expect(stopped.runner.status).toBe("failed")
      expect(stopped.runner.failureReason).toBe("terminated: killed by SIGINT")
      expect(world.tmux(["has-session", "-t", `=${runner.name}`]).code).not.toBe(0)
    }),
  )

  it.scopedLive("maxDurationMs ends a runner as failed with a timeout reason", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open()
      const { runner } = yield* registry.startRunner({
        ...sh("exec sleep 100"),
        maxDurationMs: 400,
      })
      const done = yield* registry.waitForCompletion(runner.id)
      expect(done.runner.status).toBe("failed")
      expect(done.runner.failureReason).toBe("timeout: ran longer than maxDurationMs (400 ms)")
      // That it is stopped at the limit and not before is a rule of time: proved on TestClock
      // in test/unit/max-duration.test.ts, not measured on this machine's clock.
    }),
  )

  it.scopedLive("pause stops the output and resume restarts it", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open()
      const feed = yield* recordFeed(registry)
      const { runner } = yield* registry.startRunner(
        sh("i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done"),
      )
      const bytes = () => registry.logBounds(runner.id).pipe(Effect.map((b) => b.end))
      // The command's processes (under the pane's wrapper) and their states, from /proc.
      const panePid = Number(
        world.tmux(["display-message", "-p", "-t", `=${runner.name}:`, "#{pane_pid}"]).stdout,
      )
      const commandStates = Effect.promise(() => descendantPids(panePid)).pipe(
        Effect.map((pids) => pids.map(processState).filter((s) => s !== undefined)),
      )
      const ticked = yield* pollUntil(bytes(), (n) => n > 0, "the first tick")
      expect(ticked).toBeGreaterThan(0)
      const paused = yield* registry.pauseRunner(runner.id)
      expect(paused.runner.status).toBe("paused")
      // Output stops because every process of the command is stopped (state T): that is
      // what pause does, seen from the kernel rather than guessed from a quiet log.
      yield* pollUntil(
        commandStates,
        // A child that exited just as it was stopped stays a zombie (Z) of its stopped shell.
        (states) => states.includes("T") && states.every((s) => s === "T" || s === "Z"),
        "every process of the command stopped",
      )
      const at = yield* bytes()
      const resumed = yield* registry.resumeRunner(runner.id)
      expect(resumed.runner.status).toBe("running")
      const moved = yield* pollUntil(bytes(), (n) => n > at, "output after resume")
      expect(moved).toBeGreaterThan(at)
      expect(transitions(feed, runner.id)).toEqual(["status:paused", "status:running"])
      // Terminating a paused runner works too (it is resumed first so it can act on C-c).
      yield* registry.pauseRunner(runner.id)
      const stopped = yield* registry.terminateRunner(runner.id)
      expect(stopped.runner.status).toBe("failed")
    }),
  )

  it.scopedLive("bad requests are typed errors that start nothing", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open()
      const sessionsBefore = world.tmux(["list-sessions", "-F", "#{session_name}"]).stdout
      const attempts = [
        { provider: "nope" },
        { ...sh("true"), cwd: "relative/dir" },
        { ...sh("true"), cwd: "/does/not/exist" },
        { ...sh("true"), name: "bad name" },
        { ...sh("true"), name: "-flag" },
        { ...sh("true"), env: { "A=B": "x" } },
        { ...sh("true"), accountId: "ghost" },
        { ...sh("true"), cols: 1 },
        { ...sh("true"), maxDurationMs: -5 },
        { provider: "shell", mode: "oneshot" as const },
        { provider: "claude", command: ["rm", "-rf", "/"] },
      ]
      for (const request of attempts) {
        const result = yield* Effect.either(registry.startRunner(request))
        expect(Either.isLeft(result), JSON.stringify(request)).toBe(true)
        if (Either.isLeft(result)) expect(result.left._tag).toBe("ValidationError")
      }
      expect(yield* registry.listRunners).toEqual([])
      expect(world.tmux(["list-sessions", "-F", "#{session_name}"]).stdout).toBe(sessionsBefore)

      const first = yield* registry.startRunner({ ...sh("exec sleep 100"), name: "taken" })
      const dup = yield* Effect.either(registry.startRunner({ ...sh("true"), name: "taken" }))
      expect(Either.isLeft(dup) && dup.left._tag).toBe("ValidationError")
      yield* registry.removeRunner(first.runner.id)
      const missing = yield* Effect.either(registry.getRunner("run-missing"))
      expect(Either.isLeft(missing) && missing.left._tag).toBe("NotFoundError")
    }),
  )

  it.scopedLive("an account's env reaches the process; provider limits refuse one too many", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld(
        {},
        {
          accounts: { work: { id: "work", provider: "shell", env: { PROFILE_DIR: "/tmp/work" } } },
          limits: { perProvider: { shell: 2 }, perAccount: { work: 1 } },
        },
      )
      const { registry } = yield* world.open()
      const a = yield* registry.startRunner({
        ...sh('echo "profile=$PROFILE_DIR"; exec sleep 100'),
        accountId: "work",
      })
      const text = yield* registry.output(a.runner.id, 0).pipe(
        Stream.map((c) => Buffer.from(c.bytes).toString()),
        Stream.runFoldWhile(
          "",
          (t) => !t.includes("\n"),
          (t, s) => t + s,
        ),
      )
      expect(text).toContain("profile=/tmp/work")
      const accountLimited = yield* Effect.either(
        registry.startRunner({ ...sh("exec sleep 100"), accountId: "work" }),
      )
      expect(Either.isLeft(accountLimited) && accountLimited.left._tag).toBe("TierLimitError")
      yield* registry.startRunner(sh("exec sleep 100"))
      const providerLimited = yield* Effect.either(registry.startRunner(sh("exec sleep 100")))
      expect(Either.isLeft(providerLimited) && providerLimited.left).toMatchObject({
        _tag: "TierLimitError",
        scope: "provider",
        limit: 2,
      })
      // A finished runner frees its slot.
      yield* registry.terminateRunner(a.runner.id)
      yield* registry.startRunner(sh("exec sleep 100"))
    }),
  )

  it.scopedLive(
    "a Claude-like session: working, permission, working, ready (idle), working, ready, completed",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const { registry } = yield* world.open()
        const feed = yield* recordFeed(registry)
        // A fake `claude` first on PATH: the real provider argv, the real Claude rules.
        const { runner } = yield* registry.startRunner({
          provider: "claude",
          prompt: "fix the tests",
          env: { PATH: `${fixture("fake-bin")}:${process.env.PATH ?? ""}` },
          cols: 80,
          rows: 30,
        })
        const id = runner.id
        const waitFor = (needle: string) =>
          eventually(
            () => (transitions(feed, id).includes(needle) ? true : undefined),
            `${needle} in ${JSON.stringify(transitions(feed, id))}`,
          )
        yield* waitFor("waiting:permission")
        const detail = yield* registry.getRunner(id)
        expect(detail.runner).toMatchObject({
          status: "running",
          waitingForInput: true,
          attentionReason: "permission",
        })
        expect(detail.answers?.map((a) => a.label)).toEqual(["Yes", "Yes, don't ask again", "No"])
        yield* registry.write(id, Buffer.from("1"))
        yield* waitFor("status:idle")
        expect((yield* registry.getRunner(id)).runner).toMatchObject({
          status: "idle",
          waitingForInput: true,
          attentionReason: "ready",
        })
        yield* registry.write(id, Buffer.from("add a test\r"))
        yield* eventually(
          () =>
            transitions(feed, id).filter((t) => t === "status:idle").length === 2
              ? true
              : undefined,
          "the second ready prompt",
        )
        yield* registry.write(id, Buffer.from("/exit\r"))
        const done = yield* registry.waitForCompletion(id)
        expect(done.runner.status).toBe("completed")
        const seen = transitions(feed, id)
        expect(seen.slice(0, 8)).toEqual([
          "waiting:permission",
          "working",
          "waiting:ready",
          "status:idle",
          "working",
          "status:running",
          "waiting:ready",
          "status:idle",
        ])
        // "/exit" may end it before the screen is looked at again: then no "working" first.
        expect(seen.at(-1)).toBe("status:completed")
        expect(done.runner.waitingForInput).toBe(false)
        expect(done.metrics.attentionCount).toBe(3)
        expect(done.metrics.waitingMs).toBeGreaterThan(0)
      }),
    30_000,
  )

  it.scopedLive(
    "Claude Code hooks: waiting the moment the agent says so, with no screen rule",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const { registry } = yield* world.open()
        const feed = yield* recordFeed(registry)
        const { runner } = yield* registry.startRunner({
          provider: "claude",
          prompt: "deploy",
          env: { PATH: `${fixture("fake-bin-hooks")}:${process.env.PATH ?? ""}` },
        })
        const id = runner.id
        const has = (needle: string) => transitions(feed, id).includes(needle)
        yield* eventually(
          () => (has("waiting:permission") ? true : undefined),
          () => `permission in ${JSON.stringify(transitions(feed, id))}`,
        )
        // No screen rule says so: the screen alone would be "unknown".
        const screen = world.tmux(["capture-pane", "-p", "-t", `=${runner.name}:`]).stdout
        const rules = yield* loadRuleSet("claude")
        expect(evaluateScreen(screenOf(screen.split("\n")), rules).kind).toBe("unknown")
        yield* registry.write(id, Buffer.from("y"))
        yield* eventually(() => (has("status:idle") ? true : undefined), "ready from the Stop hook")
        expect(transitions(feed, id).slice(0, 4)).toEqual([
          "waiting:permission",
          "working",
          "waiting:ready",
          "status:idle",
        ])
        yield* registry.write(id, Buffer.from("/exit\r"))
        expect((yield* registry.waitForCompletion(id)).runner.status).toBe("completed")
      }),
  )

  it.scopedLive("every resize reaches the feed: ours and one made by another tmux client", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const { registry } = yield* world.open()
      const feed = yield* recordFeed(registry)
      const { runner, session } = yield* registry.startRunner({
        ...sh("exec sleep 100"),
        cols: 80,
        rows: 24,
      })
      const resizes = () =>
        feed.flatMap((e) =>
          e.type === "resize" && e.runnerId === runner.id ? [`${e.cols}x${e.rows}`] : [],
        )
      yield* registry.resize(runner.id, 100, 30)
      yield* eventually(() => (resizes().includes("100x30") ? true : undefined), "our resize")
      // As `tmux attach` from a bigger terminal would.
      world.tmux(["resize-window", "-t", session?.windowId ?? "", "-x", "132", "-y", "40"])
      yield* eventually(() => (resizes().includes("132x40") ? true : undefined), "tmux's resize")
      expect(resizes()).toEqual(["100x30", "132x40"])
      const detail = yield* registry.getRunner(runner.id)
      expect(detail.session?.panes[0]).toMatchObject({ cols: 132, rows: 40 })
    }),
  )

  it.scopedLive("an adopted two-pane session: each pane's input and output apart", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      world.tmux(["new-session", "-d", "-s", "two", "-x", "120", "-y", "30", "--", "sh"])
      world.tmux(["split-window", "-t", "=two:", "--", "sh"])
      const { registry } = yield* world.open()
      const adopted = yield* registry.adoptSession("two")
      const panes = adopted.session?.panes ?? []
      expect(panes).toHaveLength(2)
      const main = adopted.session?.paneId
      const other = panes.find((p) => p.id !== main)?.id
      if (main === undefined || other === undefined) return yield* Effect.fail(new Error("panes"))
      yield* registry.write(adopted.runner.id, Buffer.from("echo in-main-$((1+1))\r"))
      yield* registry.write(adopted.runner.id, Buffer.from("echo in-other-$((2+2))\r"), other)
      const read = (pane: typeof main, needle: string) =>
        registry.output(adopted.runner.id, 0, pane).pipe(
          Stream.map((c) => Buffer.from(c.bytes).toString()),
          Stream.runFoldWhile(
            "",
            (t) => !t.includes(needle),
            (t, c) => t + c,
          ),
          Effect.timeout("10 seconds"),
        )
      expect(yield* read(main, "in-main-2")).not.toContain("in-other-4")
      expect(yield* read(other, "in-other-4")).not.toContain("in-main-2")
      const wrong = yield* Effect.either(
        registry.write(adopted.runner.id, Buffer.from("x"), PaneId("%999")),
      )
      expect(Either.isLeft(wrong) && wrong.left._tag).toBe("NotFoundError")
      yield* registry.terminateRunner(adopted.runner.id)
    }),
  )
})
