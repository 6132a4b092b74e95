import { spawn } from "node:child_process"
import { appendFileSync, existsSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either, Fiber, Option, Stream } from "effect"
import { logEndSync } from "../../src/logs/log-cursor.js"
import type { AiRunner } from "../../src/ports.js"
import { expectedLines, fixture } from "../harness.js"
import { waitForText } from "../streams.js"
import { eventually, recordFeed, registryWorld, transitions } from "./harness.js"

const LINES = 30_000

/** The runner's whole log, once it has `length` bytes. */
const readLog = (registry: AiRunner, id: string, length: number) =>
  Effect.gen(function* () {
    const parts: Buffer[] = []
    let read = 0
    return yield* Stream.runForEachWhile(registry.output(id, 0), (chunk) =>
      Effect.sync(() => {
        parts.push(Buffer.from(chunk.bytes))
        read += chunk.bytes.length
        return read < length
      }),
    ).pipe(
      Effect.map(() => Buffer.concat(parts)),
      Effect.timeoutFail({
        duration: "30 seconds",
        onTimeout: () => new Error(`log of ${id}: ${read} of ${length} bytes read`),
      }),
      // Say how much the log holds: a short log (lost bytes) reads apart from a stalled reader.
      Effect.tapError(() =>
        Effect.flatMap(registry.logBounds(id), (bounds) =>
          Effect.logError(`log of ${id} holds bytes ${bounds.start} to ${bounds.end}`),
        ),
      ),
    )
  })

/** Starts `registry-host.ts` with `spec`; resolves with its `{ ids, finished }` and its pid. */
const startHost = (spec: object) =>
  Effect.async<{ ids: string[]; finished: string[]; pid: number }, Error>((resume) => {
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "--conditions=geppetto-source",
        fixture("registry-host.ts"),
        JSON.stringify(spec),
      ],
      { cwd: join(import.meta.dirname, "..", ".."), stdio: ["ignore", "pipe", "pipe"] },
    )
    let out = ""
    let err = ""
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString()
    })
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString()
      const line = out.split("\n")[0]
      if (out.includes("\n") && line !== undefined && child.pid !== undefined) {
        resume(Effect.succeed({ ...JSON.parse(line), pid: child.pid }))
      }
    })
    child.on("exit", (code) => resume(Effect.fail(new Error(`host exited ${code}: ${err}`))))
    return Effect.sync(() => child.kill("SIGKILL"))
  })

describe("registry across restarts", () => {
  it.scopedLive(
    "kill -9 of the process hosting the registry: every runner back, every log byte-exact",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        // The pause must outlast starting the other three runners, or the printers may be done
        // before the kill (seen at load 6: "log more while no server runs" never came).
        const lines = ["sh", fixture("lines.sh"), String(LINES), "4"]
        const host = yield* startHost({
          dataDir: world.dataDir,
          socket: world.socket,
          finishFirst: [{ provider: "shell", command: ["sh", "-c", "echo done; exit 0"] }],
          runners: [
            { provider: "shell", command: lines, name: "printer-a" },
            { provider: "shell", command: lines, name: "printer-b" },
            { provider: "shell", command: ["sh", "-c", "sleep 0.8; exit 4"], name: "ends-away" },
            { provider: "shell", command: ["sh", "-c", "exec sleep 100"], pause: true },
          ],
        })
        // Killed while the printers are mid-output (they pause 4 s halfway).
        process.kill(host.pid, "SIGKILL")
        const [a, b, away, paused] = host.ids
        if (a === undefined || b === undefined || away === undefined || paused === undefined)
          return yield* Effect.fail(new Error("host started too few runners"))
        // Output goes on, and one runner ends, while no server runs.
        const logEnd = (id: string) => logEndSync(join(world.dataDir, "runners", id))
        const atKill = logEnd(a)
        yield* eventually(
          () => (logEnd(a) > atKill ? true : undefined),
          "printer-a to log more while no server runs",
        )
        yield* eventually(
          () =>
            world.tmux(["list-panes", "-t", "=ends-away", "-F", "#{pane_dead}"]).stdout.trim() ===
            "1"
              ? true
              : undefined,
          "ends-away to end while no server runs",
        )

        const { registry } = yield* world.open()
        const listed = yield* registry.listRunners
        expect(new Set(listed.map((r) => r.id))).toEqual(new Set([...host.finished, ...host.ids]))
        const byId = new Map(listed.map((r) => [r.id, r]))
        expect(byId.get(host.finished[0] ?? "")).toMatchObject({ status: "completed", exitCode: 0 })
        expect(byId.get(away)).toMatchObject({
          status: "failed",
          exitCode: 4,
          failureReason: "exited with code 4",
        })
        expect(byId.get(paused)?.status).toBe("paused")
        for (const id of [a, b]) {
          expect(["running", "completed"]).toContain(byId.get(id)?.status)
          const done = yield* registry.waitForCompletion(id)
          expect(done.runner.status).toBe("completed")
          const expected = expectedLines(LINES)
          const log = yield* readLog(registry, id, expected.length)
          expect(log.length).toBe(expected.length)
          expect(log.equals(expected)).toBe(true)
          // Lines counted before the crash plus those read after: each once.
          expect(done.metrics.lines).toBe(LINES)
          expect(done.metrics.bytesOut).toBe(expected.length)
        }
        const resumed = yield* registry.resumeRunner(paused)
        expect(resumed.runner.status).toBe("running")
        yield* registry.terminateRunner(paused)
      }),
    60_000,
  )

  it.scopedLive("a clean restart keeps history, live runners and adopted sessions", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      world.tmux(["new-session", "-d", "-s", "hand-made", "-x", "80", "-y", "24", "--", "sh"])
      const first = yield* world.open()
      const unmanaged = yield* first.registry.unmanagedSessions
      expect(unmanaged.map((s) => s.name)).toEqual(["hand-made"])
      const adopted = yield* first.registry.adoptSession("hand-made")
      expect(adopted.runner).toMatchObject({
        name: "hand-made",
        provider: "shell",
        status: "running",
      })
      expect(yield* first.registry.unmanagedSessions).toEqual([])
      const again = yield* Effect.either(first.registry.adoptSession("hand-made"))
      expect(Either.isLeft(again) && again.left._tag).toBe("ValidationError")

      const done = yield* first.registry.startRunner({
        provider: "shell",
        command: ["sh", "-c", "exit 0"],
        name: "finished",
      })
      yield* first.registry.waitForCompletion(done.runner.id)
      const live = yield* first.registry.startRunner({
        provider: "shell",
        command: ["sh", "-c", "exec sleep 100"],
        name: "live",
        prompt: undefined,
      })
      const removed = yield* first.registry.startRunner({
        provider: "shell",
        command: ["sh", "-c", "echo bye"],
        name: "removed",
      })
      yield* first.registry.waitForCompletion(removed.runner.id)
      yield* first.registry.removeRunner(removed.runner.id)
      expect(existsSync(join(world.dataDir, "runners", removed.runner.id))).toBe(false)
      yield* first.close

      const second = yield* world.open()
      const listed = yield* second.registry.listRunners
      expect(listed.map((r) => [r.name, r.status]).sort()).toEqual([
        ["finished", "completed"],
        ["hand-made", "running"],
        ["live", "running"],
      ])
      // The adopted session's input and output still flow.
      yield* second.registry.write(adopted.runner.id, Buffer.from("echo still-$((40+2))\r"))
      yield* Stream.runFoldWhile(
        second.registry.output(adopted.runner.id, 0),
        "",
        (t) => !t.includes("still-42"),
        (t, c) => t + Buffer.from(c.bytes).toString(),
      ).pipe(Effect.timeout("10 seconds"))
      yield* second.registry.terminateRunner(live.runner.id)
      yield* second.registry.terminateRunner(adopted.runner.id)
      expect((yield* second.registry.getRunner(live.runner.id)).runner.status).toBe("failed")
    }),
  )

  it.scopedLive(
    "a restart lists every live runner at once; input to one not yet watched again waits for it",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const first = yield* world.open()
        const ids: string[] = []
        for (let i = 0; i < 12; i++) {
          const started = yield* first.registry.startRunner({
            provider: "shell",
            command: ["cat"],
            name: `cat-${i}`,
          })
          ids.push(started.runner.id)
        }
        yield* first.close

        const second = yield* world.open()
        // Listed before they are all watched again: every one, running.
        const listed = yield* second.registry.listRunners
        expect(listed.map((r) => r.status)).toEqual(ids.map(() => "running"))
        // The last one is the last to be re-attached: input to it works all the same.
        const last = ids[ids.length - 1] ?? ""
        yield* second.registry.write(last, Buffer.from("typed-after-restart\r"))
        yield* waitForText(
          second.registry.output(last, 0),
          "typed-after-restart\r\ntyped-after-restart",
        )
        const detail = yield* second.registry.getRunner(last)
        expect(detail.session?.paneId).toMatch(/^%/)
        for (const id of ids) yield* second.registry.terminateRunner(id)
      }),
    60_000,
  )

  it.scopedLive(
    "told to wait (reattachAfter), a restart lists its live runners and watches them again only once the wait is over",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const first = yield* world.open()
        const { runner } = yield* first.registry.startRunner({
          provider: "shell",
          command: ["sh", "-c", "echo reading; read line; exit 3"],
          name: "gated",
        })
        yield* waitForText(first.registry.output(runner.id, 0), "reading")
        yield* first.close

        let release = () => {}
        const gate = new Promise<void>((resolve) => {
          release = resolve
        })
        const second = yield* world.open({}, { reattachAfter: gate })
        expect((yield* second.registry.listRunners).map((r) => [r.name, r.status])).toEqual([
          ["gated", "running"],
        ])
        // The runner ends while the gate is shut (typed to through tmux itself). Watched, it
        // would be seen as failed within milliseconds; not watched yet, it is still listed as
        // running after its pane is dead and a control client round trip, and a call about it
        // waits, as the keystroke fast path declines.
        world.tmux(["send-keys", "-t", "=gated:", "bye", "Enter"])
        yield* eventually(
          () =>
            world.tmux(["list-panes", "-t", "=gated:", "-F", "#{pane_dead}"]).stdout.trim() === "1"
              ? true
              : undefined,
          "the gated runner's pane to die",
        )
        yield* second.registry.tmuxStatus
        const detail = yield* Effect.fork(second.registry.getRunner(runner.id))
        yield* Effect.repeatN(Effect.yieldNow(), 20)
        expect(Option.isNone(yield* Fiber.poll(detail))).toBe(true)
        expect((yield* second.registry.listRunners).map((r) => r.status)).toEqual(["running"])
        expect(second.registry.writeNow(runner.id, Buffer.from("k"), undefined, () => {})).toBe(
          false,
        )

        release()
        yield* Fiber.join(detail)
        const ended = yield* second.registry.waitForCompletion(runner.id)
        expect(ended.runner).toMatchObject({ status: "failed", exitCode: 3 })
      }),
    60_000,
  )

  it.scopedLive("a corrupt journal line is skipped; the rest is listed", () =>
    Effect.gen(function* () {
      const world = yield* registryWorld()
      const first = yield* world.open()
      const { runner } = yield* first.registry.startRunner({
        provider: "shell",
        command: ["sh", "-c", "exit 0"],
      })
      yield* first.registry.waitForCompletion(runner.id)
      yield* first.close
      const journal = join(world.dataDir, "journal", "journal.log")
      appendFileSync(journal, 'deadbeef 12 {not json}\n00000000 5 {"a":')
      const second = yield* world.open()
      const listed = yield* second.registry.listRunners
      expect(listed.map((r) => r.id)).toEqual([runner.id])
      yield* eventually(() => (listed.length === 1 ? true : undefined), "listing")
    }),
  )

  it.scopedLive(
    "a runner waiting for an answer is still waiting after a restart, not announced twice",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const first = yield* world.open()
        const feed1 = yield* recordFeed(first.registry)
        const { runner } = yield* first.registry.startRunner({
          provider: "shell",
          command: ["bash", fixture("agents/yn-agent.sh")],
        })
        yield* eventually(
          () => (transitions(feed1, runner.id).includes("waiting:question") ? true : undefined),
          "the question",
        )
        yield* first.close

        const second = yield* world.open()
        const feed2 = yield* recordFeed(second.registry)
        const before = yield* second.registry.getRunner(runner.id)
        expect(before.runner).toMatchObject({ waitingForInput: true, attentionReason: "question" })
        expect(before.metrics.attentionCount).toBe(1)
        yield* second.registry.write(runner.id, Buffer.from("y\r"))
        const done = yield* second.registry.waitForCompletion(runner.id)
        expect(done.runner.status).toBe("completed")
        // Never announced again, from the restart to the end (that the carried-over state
        // survives its re-check while the prompt is up is a rule of time: proved on TestClock
        // in test/unit/restart.test.ts).
        expect(transitions(feed2, runner.id)).not.toContain("waiting:question")
        expect(done.metrics.attentionCount).toBe(1)
      }),
  )
})
