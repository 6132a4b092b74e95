import { readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Fiber, Stream } from "effect"
import type { ProcessEvent } from "../src/domain/events.js"
import { ProcessId } from "../src/domain/ids.js"
import { liveWriters } from "../src/logs/writer-drain.js"
import { testRunner } from "./harness.js"
import { waitForText } from "./streams.js"

type Tagged<T extends ProcessEvent["_tag"]> = Extract<ProcessEvent, { _tag: T }>

/** Pids of the `split` processes logging into `dir`. */
const splitsOf = (dir: string): ReadonlyArray<number> =>
  readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .flatMap((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
        return /(^|\/)split$/.test(argv[0] ?? "") && argv.some((a) => a.startsWith(`${dir}/out-`))
          ? [Number(pid)]
          : []
      } catch {
        return []
      }
    })

const killWriter = (dir: string) =>
  Effect.gen(function* () {
    const pids = yield* Effect.promise(async () => {
      for (let i = 0; i < 200; i++) {
        const found = splitsOf(dir)
        if (found.length === 1) return found
        await new Promise((r) => setTimeout(r, 10))
      }
      return splitsOf(dir)
    })
    expect(pids).toHaveLength(1)
    process.kill(pids[0] ?? 0, "SIGKILL")
    return pids[0] ?? 0
  })

const nextOf = <T extends ProcessEvent["_tag"]>(
  events: Stream.Stream<ProcessEvent, unknown>,
  tag: T,
  count = 1,
) =>
  events.pipe(
    Stream.filter((e): e is Tagged<T> => e._tag === tag),
    Stream.take(count),
    Stream.runCollect,
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeoutFail({ duration: "15 seconds", onTimeout: () => new Error(`no ${tag} event`) }),
    Effect.fork,
  )

describe("the log writer of a pane", () => {
  it.scopedLive("killed: restarted at the log's end, with a log-gap event; output goes on", () =>
    Effect.gen(function* () {
      const { monitor, dataDir } = yield* testRunner()
      const handle = yield* monitor.spawn(
        "sh",
        ["-c", "i=0; while [ $i -lt 60 ]; do echo tick-$i; i=$((i+1)); sleep 0.05; done"],
        { processId: ProcessId("writer-a"), cwd: "/tmp" },
      )
      const dir = `${dataDir}/runners/writer-a`
      const gaps = yield* nextOf(handle.events, "log-gap")
      yield* waitForText(handle.output(0), "tick-5")
      const killed = yield* killWriter(dir)
      const [gap] = yield* Fiber.join(gaps)
      expect(gap?.paneId).toMatch(/^%\d+$/)
      expect(gap?.reason).toContain("killed by SIGKILL")
      const { end } = yield* handle.logBounds
      expect(gap?.logOffset).toBeLessThanOrEqual(end)
      expect(gap?.offset).toBe(gap?.logOffset)
      expect(splitsOf(dir)).not.toContain(killed)
      yield* waitForText(handle.output(gap?.logOffset ?? 0), "tick-59")
      expect((yield* handle.awaitExit).exitCode).toBe(0)
      expect(readdirSync(dir).filter((n) => n.startsWith("writer-exit-"))).toEqual([])
    }),
  )

  it.scopedLive(
    "killed again before it logged a byte: one error, a delayed restart, then it logs",
    () =>
      Effect.gen(function* () {
        const { monitor, dataDir } = yield* testRunner()
        const handle = yield* monitor.spawn("cat", [], {
          processId: ProcessId("writer-b"),
          cwd: "/tmp",
        })
        const dir = `${dataDir}/runners/writer-b`
        const gaps = yield* nextOf(handle.events, "log-gap")
        const errors = yield* nextOf(handle.events, "error")
        yield* killWriter(dir)
        const [gap] = yield* Fiber.join(gaps)
        expect(gap?.logOffset).toBe(0)
        yield* killWriter(dir)
        const [error] = yield* Fiber.join(errors)
        expect(error?.error.message).toMatch(/stopped again without logging a byte/)
        // Restarted after the delay: typed input is echoed into the log.
        yield* Effect.promise(async () => {
          for (let i = 0; i < 300 && (await liveWriters(dir)) === 0; i++) {
            await new Promise((r) => setTimeout(r, 10))
          }
        })
        yield* handle.write(Buffer.from("back\r"))
        yield* waitForText(handle.output(0), "back")
        yield* handle.terminate
      }),
  )
})
