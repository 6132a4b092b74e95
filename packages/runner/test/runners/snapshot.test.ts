import { describe, expect, it } from "@effect/vitest"
import xterm from "@xterm/headless"
import { Effect, Stream } from "effect"
import type { AiRunner } from "../../src/ports.js"
import type { RunnerSnapshot } from "../../src/tmux/pane-snapshot.js"
import { fixture } from "../harness.js"
import { eventually, registryWorld } from "./harness.js"

type Term = InstanceType<typeof xterm.Terminal>

/** The visible rows of a headless terminal, trailing blanks trimmed, like `capture-pane -p`. */
const screenText = (term: Term) => {
  const buffer = term.buffer.active
  const rows: string[] = []
  for (let y = 0; y < term.rows; y++) {
    rows.push(buffer.getLine(buffer.baseY + y)?.translateToString(true) ?? "")
  }
  return rows.join("\n").replace(/\n+$/, "")
}

const write = (term: Term, data: string | Uint8Array) =>
  Effect.async<void>((resume) => term.write(data, () => resume(Effect.void)))

/** A viewer as the terminal socket makes one: snapshot, then the output from its offset. */
const viewer = (registry: AiRunner, id: string) =>
  Effect.gen(function* () {
    const snap = yield* registry.snapshot(id)
    const term = new xterm.Terminal({ cols: snap.cols, rows: snap.rows, allowProposedApi: true })
    yield* write(term, snap.data)
    let offset = snap.offset
    yield* registry.output(id, snap.offset).pipe(
      Stream.runForEach((chunk) => {
        expect(chunk.offset).toBe(offset)
        offset += chunk.bytes.length
        return write(term, chunk.bytes)
      }),
      Effect.forkScoped,
    )
    return { snap, term, offset: () => offset }
  })

describe("pane snapshots", () => {
  it.scopedLive(
    "snapshot + stream from its offset = what tmux shows, through the alternate screen",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const { registry } = yield* world.open()
        const { runner } = yield* registry.startRunner({
          provider: "shell",
          command: ["bash", fixture("draw-screen.sh")],
          cols: 70,
          rows: 24,
        })
        const tmuxScreen = () =>
          world.tmux(["capture-pane", "-p", "-t", `=${runner.name}:`]).stdout.replace(/\n+$/, "")
        yield* eventually(() => (tmuxScreen().includes("prompt>") ? true : undefined), "prompt")
        const early = yield* viewer(registry, runner.id)
        expect(early.snap.exact).toBe(true)
        expect([early.snap.cols, early.snap.rows]).toEqual([70, 24])
        expect(screenText(early.term)).toBe(tmuxScreen())
        // Scrollback came along: the line scrolled off the top is in the viewer's buffer.
        const scrolled = early.term.buffer.active.getLine(0)?.translateToString(true)
        expect(scrolled).toMatch(/^history line 0\d\d$/)

        yield* registry.write(runner.id, Buffer.from("a"))
        yield* eventually(() => (tmuxScreen().includes("cursor hidden") ? true : undefined), "alt")
        const inAlt = yield* viewer(registry, runner.id)
        expect(screenText(inAlt.term)).toBe(tmuxScreen())
        expect(inAlt.term.buffer.active.type).toBe("alternate")
        // The early viewer followed the stream into the alternate screen as well.
        yield* eventually(
          () => (screenText(early.term) === tmuxScreen() ? true : undefined),
          "early viewer in alt",
        )

        yield* registry.write(runner.id, Buffer.from("q"))
        yield* eventually(() => (tmuxScreen().includes("back from alt") ? true : undefined), "back")
        for (const v of [early, inAlt]) {
          yield* eventually(
            () => (screenText(v.term) === tmuxScreen() ? true : undefined),
            () => `viewer back on the normal screen:\n${screenText(v.term)}\n---\n${tmuxScreen()}`,
          )
          expect(v.term.buffer.active.type).toBe("normal")
        }
        yield* registry.write(runner.id, Buffer.from("x"))
        const done = yield* registry.waitForCompletion(runner.id)
        expect(done.runner.status).toBe("completed")
        // A finished runner is replayed from its first byte.
        const replay = yield* registry.snapshot(runner.id)
        expect(replay).toMatchObject({ offset: 0, cols: 70, rows: 24 })
      }),
  )

  it.scopedLive(
    "while output never pauses: snapshots say they are inexact, and concurrent ones share one capture",
    () =>
      Effect.gen(function* () {
        const world = yield* registryWorld()
        const { registry } = yield* world.open()
        const { runner } = yield* registry.startRunner({
          provider: "shell",
          command: ["sh", "-c", "yes flowing-output-line"],
        })
        yield* eventually(
          () =>
            world.tmux(["capture-pane", "-p", "-t", `=${runner.name}:`]).stdout.includes("flowing")
              ? true
              : undefined,
          "the flood on screen",
        )
        // Ten viewers at once. Under a loaded machine the flood can stall for a whole capture
        // (seen once in a full CI run: the log's end did not move around it), and then that
        // capture is exact; a few rounds find one taken while it flowed.
        let snaps: ReadonlyArray<RunnerSnapshot> = []
        for (let round = 0; round < 5 && !snaps.some((s) => !s.exact); round++) {
          snaps = yield* Effect.all(
            Array.from({ length: 10 }, () => registry.snapshot(runner.id)),
            { concurrency: "unbounded" },
          )
        }
        for (const snap of snaps) {
          expect(snap.exact).toBe(false)
          expect(snap.data).toContain("flowing-output-line")
        }
        // Ten viewers asking at once got the one capture (same offset, same picture).
        expect(new Set(snaps.map((s) => s.offset)).size).toBe(1)
        expect(new Set(snaps.map((s) => s.data)).size).toBe(1)
        // A later request takes a new one.
        const later = yield* registry.snapshot(runner.id)
        expect(later.offset).toBeGreaterThan(snaps[0]?.offset ?? Infinity)
        yield* registry.terminateRunner(runner.id)
      }),
  )
})
