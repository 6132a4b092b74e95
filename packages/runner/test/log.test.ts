import { createHash } from "node:crypto"
import { readdirSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Scope, Stream } from "effect"
import { ProcessId } from "../src/domain/ids.js"
import { busyLoops, eventually, expectedLines, fixture, testRunner } from "./harness.js"
import { readOutput } from "./streams.js"

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex")

describe("durable rolling log", () => {
  it.scopedLive("is byte-exact for 50k lines", () =>
    Effect.gen(function* () {
      const { monitor } = yield* testRunner()
      const expected = expectedLines(50_000)
      const handle = yield* monitor.spawn(fixture("lines.sh"), ["50000"], {
        processId: ProcessId("fifty-k"),
        cwd: "/tmp",
      })
      const exit = yield* handle.awaitExit
      expect(exit.exitCode).toBe(0)
      expect(exit.offset).toBe(expected.length)
      const log = yield* readOutput(handle, 0, expected.length)
      expect(log.length).toBe(expected.length)
      expect(sha(log)).toBe(sha(expected))
    }),
  )

  it.scopedLive(
    "keeps offsets across many rotations, prunes old segments, tails exact suffixes",
    () =>
      Effect.gen(function* () {
        const segmentBytes = 64 * 1024
        const { monitor, dataDir } = yield* testRunner({
          segmentBytes,
          retainBytes: 8 * segmentBytes,
        })
        const expected = expectedLines(50_000) // ~2.4 MB: ~37 segments
        const handle = yield* monitor.spawn(fixture("lines.sh"), ["50000"], {
          processId: ProcessId("rotating"),
          cwd: "/tmp",
        })
        yield* handle.awaitExit
        // Retention runs when a new segment starts; the last one may still be pruning.
        const segments = () =>
          readdirSync(`${dataDir}/runners/rotating`).filter((f) => f.startsWith("out-"))
        yield* eventually(() => (segments().length <= 9 ? true : undefined), "retention")
        const bounds = yield* handle.logBounds
        expect(bounds.end).toBe(expected.length)
        expect(bounds.start).toBeGreaterThan(0)
        expect(bounds.start % segmentBytes).toBe(0)
        expect(bounds.end - bounds.start).toBeLessThanOrEqual(9 * segmentBytes)
        expect(segments().length).toBeLessThanOrEqual(9)

        // From the start of what is kept, from inside a segment, from a boundary, near the end.
        for (const from of [
          bounds.start,
          bounds.start + 12_345,
          bounds.start + 2 * segmentBytes,
          bounds.end - 7,
        ]) {
          const suffix = yield* readOutput(handle, from, bounds.end - from)
          expect(sha(suffix)).toBe(sha(expected.subarray(from)))
        }
        // Asking for pruned bytes starts at the oldest kept byte.
        const first = yield* Stream.runHead(handle.output(0))
        expect(first._tag === "Some" ? first.value.offset : -1).toBe(bounds.start)
      }),
  )

  it.scopedLive(
    "keeps the last bytes a command prints before it exits, on a machine short of CPU",
    () =>
      Effect.gen(function* () {
        // Busy loops hold both cores: the kernel then hands a pty's last write to tmux late,
        // and tmux, told of the exit first, closed the pane with those bytes unread (plain
        // tmux: 8 of 90 panes lost up to 10 KB of their tail). 48 short floods: without the
        // wrapper's wait (paneWrapperScript) this failed 5 runs in 5.
        yield* busyLoops(4)
        const { monitor } = yield* testRunner()
        const lines = 5_000
        const expected = expectedLines(lines)
        // awk the wrapper's own child, so its exit follows its last write closely.
        const print = `stty -opost; exec awk 'BEGIN { for (i = 0; i < ${lines}; i++) printf "line %06d abcdefghijklmnopqrstuvwxyz0123456789\\n", i }'`
        for (const round of [1, 2, 3]) {
          const handles = yield* Effect.forEach(
            Array.from({ length: 16 }, (_, i) => i),
            (i) =>
              monitor.spawn("sh", ["-c", print], {
                processId: ProcessId(`tail-${round}-${i}`),
                cwd: "/tmp",
              }),
            { concurrency: "unbounded" },
          )
          const ends = yield* Effect.forEach(handles, (h) =>
            Effect.map(h.awaitExit, (exit) => exit.offset),
          )
          expect(ends).toEqual(handles.map(() => expected.length))
          for (const handle of handles) {
            const log = yield* readOutput(handle, 0, expected.length)
            expect(sha(log)).toBe(sha(expected))
          }
        }
      }),
    60_000,
  )

  it.scopedLive("logs output produced while nothing is watching", () =>
    Effect.gen(function* () {
      const { monitor, tmux } = yield* testRunner()
      const expected = expectedLines(20_000)
      const watching = yield* Scope.make()
      yield* monitor
        .spawn(fixture("lines.sh"), ["20000", "1"], {
          processId: ProcessId("offline"),
          cwd: "/tmp",
        })
        .pipe(Scope.extend(watching))
      // Stop every watcher and reader at once, while the process is mid-way (it pauses 1 s).
      yield* Scope.close(watching, Exit.void)
      // The rest is printed, and the process ends, with nothing watching.
      yield* eventually(
        () =>
          tmux(["display-message", "-p", "-t", "=offline:", "#{pane_dead}"]).stdout.trim() === "1"
            ? true
            : undefined,
        "the process to end unwatched",
      )
      // Come back the way a restarted server does: adopt the session by name.
      const again = yield* monitor.monitorExisting("offline", { processId: ProcessId("offline") })
      const exit = yield* again.awaitExit
      expect(exit.exitCode).toBe(0)
      const log = yield* readOutput(again, 0, expected.length)
      expect(sha(log)).toBe(sha(expected))
    }),
  )
})
