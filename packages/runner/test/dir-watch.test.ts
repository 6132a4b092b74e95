import { spawn } from "node:child_process"
import { appendFileSync, mkdtempSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { watchDir } from "../src/logs/dir-watch.js"
import { eventually } from "./harness.js"

const waitFor = (check: () => boolean, what: string) =>
  eventually(() => (check() ? true : undefined), what, 2_000)

/**
 * A temp folder holding an empty segment (and the files `before` makes), watched; `seen` lists
 * the names of every change reported.
 */
const watchedFolder = (before: (dir: string) => void = () => {}) =>
  Effect.gen(function* () {
    const dir = mkdtempSync(join(tmpdir(), "geppetto-watch-"))
    yield* Effect.addFinalizer(() =>
      Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
    )
    const segment = join(dir, "out-000000000000000-1000000-000000")
    writeFileSync(segment, "")
    before(dir)
    const watch = yield* watchDir(dir)
    const seen: string[] = []
    watch.onChange((name) => seen.push(name))
    return { dir, segment, watch, seen }
  })

describe("folder watch", () => {
  it.scopedLive("keeps reporting growth and new files by name through a flood and after it", () =>
    Effect.gen(function* () {
      const { dir, segment, watch, seen } = yield* watchedFolder()
      expect(watch.mode()).toBe("inotify")

      // A flood from another process (each `echo` is one write, as the log writer's are):
      // events far faster than one per 2 ms, so the watch switches to polling.
      const writer = spawn(
        "sh",
        [
          "-c",
          'i=0; while [ $i -lt 20000 ]; do echo xxxxxxxxxxxxxxxx; i=$((i+1)); done >> "$0"',
          segment,
        ],
        { stdio: "ignore" },
      )
      yield* Effect.async<void>((resume) => {
        writer.on("exit", () => resume(Effect.void))
      })
      expect(statSync(segment).size).toBe(20_000 * 17)
      const afterFlood = watch.version()
      // The last bytes are still reported after the flood stops...
      appendFileSync(segment, "tail")
      yield* waitFor(() => watch.version() > afterFlood, "growth after the flood")
      // ...and a file renamed into place mid-burst is reported by its name.
      writeFileSync(join(dir, "exit.tmp"), "0 ")
      renameSync(join(dir, "exit.tmp"), join(dir, "exit"))
      yield* waitFor(() => seen.includes("exit"), "the exit file")

      // Quiet again (inotify back): one small write still wakes a waiting reader.
      yield* waitFor(() => watch.mode() === "inotify", "inotify back after the flood")
      const before = watch.version()
      const woke = yield* Effect.fork(watch.awaitChange(before))
      appendFileSync(segment, "one")
      yield* woke.await.pipe(Effect.timeout("2 seconds"))
      expect(watch.version()).toBeGreaterThan(before)
      expect(seen.some((n) => n.startsWith("out-"))).toBe(true)
    }),
  )

  it.scopedLive("during a flood, reports a file rewritten in place and one appended to", () =>
    Effect.gen(function* () {
      // Both exist before the flood: only a change of them can be reported, not a new name.
      const { dir, segment, seen } = yield* watchedFolder((folder) => {
        writeFileSync(join(folder, "size"), "80 24")
        writeFileSync(join(folder, "hooks.jsonl"), "")
      })
      const writer = spawn(
        "sh",
        [
          "-c",
          'i=0; while [ $i -lt 60000 ]; do echo xxxxxxxxxxxxxxxx; i=$((i+1)); done >> "$0"',
          segment,
        ],
        { stdio: "ignore" },
      )
      const done = yield* Effect.async<void>((resume) => {
        writer.on("exit", () => resume(Effect.void))
      }).pipe(Effect.fork)
      // Well into the flood, where the watch polls instead of taking inotify events.
      yield* waitFor(() => statSync(segment).size > 200_000, "the flood under way")
      const from = seen.length
      writeFileSync(join(dir, "size.tmp"), "77 21")
      renameSync(join(dir, "size.tmp"), join(dir, "size"))
      appendFileSync(join(dir, "hooks.jsonl"), '{"hook_event_name":"Notification"}\n')
      yield* waitFor(
        () => seen.slice(from).includes("size") && seen.slice(from).includes("hooks.jsonl"),
        "the resize and the hook line",
      )
      yield* done.await
      expect(statSync(segment).size).toBe(60_000 * 17)
    }),
  )
})
