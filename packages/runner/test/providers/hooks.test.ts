import { spawnSync } from "node:child_process"
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Effect, Option, Queue, Schedule, Stream } from "effect"
import { makeAttentionDetector } from "../../src/attention/detector.js"
import { screenOf } from "../../src/attention/evaluate.js"
import type { AttentionHint } from "../../src/attention/signals.js"
import {
  agentHooks,
  CLAUDE_SETTINGS_FILE_NAME,
  followHookFile,
  HOOK_FILE_NAME,
  MAX_HOOK_LINE_BYTES,
  makeLineSplitter,
  parseHookLine,
  withHookArgs,
  writeHookFiles,
} from "../../src/providers/hooks.js"
import { followNothing } from "../streams.js"

/** A temp folder, removed when the test's scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "geppetto-hooks-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
)

/** A runner folder whose path needs quoting: a space and a single quote. */
const awkwardRunnerDir = Effect.map(tempDir, (base) => {
  const dir = join(base, "data dir", "it's run-1")
  mkdirSync(dir, { recursive: true, mode: 0o700 })
  return { base, dir }
})

const readLines = (path: string): ReadonlyArray<string> =>
  readFileSync(path, "utf8").split("\n").slice(0, -1)

// What Claude Code sends on stdin (fields from the hooks reference), pretty-printed so the
// hook has line breaks to remove; the message carries shell syntax that must stay data.
const claudeEvents = [
  {
    session_id: "s1",
    cwd: "/home/dev/it's here",
    hook_event_name: "Notification",
    notification_type: "permission_prompt",
    message: "Claude needs your permission to use Bash: $(touch pwned) `touch pwned2` 'x' \\n ✻",
  },
  { session_id: "s1", hook_event_name: "UserPromptSubmit", prompt: "fix it\nplease" },
  {
    session_id: "s1",
    hook_event_name: "PreToolUse",
    tool_name: "Bash",
    tool_input: { command: "ls" },
  },
  { session_id: "s1", hook_event_name: "Stop", stop_hook_active: false },
]

describe("agentHooks: Claude Code", () => {
  it.scoped("a settings file with one command per event, passed with --settings", () =>
    Effect.gen(function* () {
      const { dir } = yield* awkwardRunnerDir
      const hooks = agentHooks("claude", dir)
      if (hooks === undefined) return yield* Effect.dieMessage("no hooks for claude")
      const settingsPath = join(dir, CLAUDE_SETTINGS_FILE_NAME)
      expect(hooks.hookFile).toBe(join(dir, HOOK_FILE_NAME))
      expect(hooks.args).toEqual(["--settings", settingsPath])
      expect(withHookArgs(["claude", "-p", "--", "hi"], hooks)).toEqual([
        "claude",
        "--settings",
        settingsPath,
        "-p",
        "--",
        "hi",
      ])

      yield* writeHookFiles(hooks)
      expect(statSync(settingsPath).mode & 0o777).toBe(0o600)
      const settings: unknown = JSON.parse(readFileSync(settingsPath, "utf8"))
      expect(settings).toMatchObject({ hooks: {} })
      const byEvent = (settings as { hooks: Record<string, unknown> }).hooks
      expect(Object.keys(byEvent).sort()).toEqual([
        "Notification",
        "PostToolUse",
        "PreToolUse",
        "Stop",
        "UserPromptSubmit",
      ])
      const handler = { type: "command", command: expect.any(String), timeout: 10 }
      expect(byEvent.PreToolUse).toEqual([{ matcher: "*", hooks: [handler] }])
      expect(byEvent.Stop).toEqual([{ hooks: [handler] }])
    }),
  )

  it.scoped("the hook command appends stdin as one line to a path with a space and a quote", () =>
    Effect.gen(function* () {
      const { base, dir } = yield* awkwardRunnerDir
      const hooks = agentHooks("claude", dir)
      if (hooks === undefined) return yield* Effect.dieMessage("no hooks for claude")
      const settings = JSON.parse(hooks.files[0]?.content ?? "{}") as {
        hooks: Record<string, Array<{ hooks: Array<{ command: string }> }>>
      }
      const command = settings.hooks.Notification?.[0]?.hooks[0]?.command ?? ""
      // Every event runs the same command.
      for (const groups of Object.values(settings.hooks)) {
        expect(groups[0]?.hooks[0]?.command).toBe(command)
      }
      for (const event of claudeEvents) {
        // As Claude Code runs a shell-form hook: `sh -c COMMAND`, the event JSON on stdin.
        const run = spawnSync("sh", ["-c", command], {
          cwd: base,
          input: JSON.stringify(event, null, 2),
          encoding: "utf8",
        })
        expect(run.status, run.stderr).toBe(0)
        expect(run.stdout).toBe("") // stdout of UserPromptSubmit would reach the model
      }
      const lines = readLines(hooks.hookFile)
      expect(lines.map((line) => JSON.parse(line))).toEqual(claudeEvents)
      expect(existsSync(join(base, "pwned"))).toBe(false)
      expect(existsSync(join(base, "pwned2"))).toBe(false)
      expect(lines.map((line) => parseHookLine("claude", line))).toEqual([
        { kind: "waiting", reason: "permission" },
        { kind: "working" },
        { kind: "working" },
        { kind: "waiting", reason: "ready" },
      ])
    }),
  )
})

const turnComplete = {
  type: "agent-turn-complete",
  "thread-id": "t1",
  "turn-id": "12345",
  cwd: "/home/dev/it's here",
  "input-messages": ["Rename `foo` to $(bar)\nplease"],
  "last-assistant-message": "Done. 'ok' \"quoted\"",
}

/** Parses a `-c` value the way Codex does (`_x_ = VALUE` as TOML), if Python has tomllib. */
const parseTomlValue = (value: string): unknown => {
  const run = spawnSync(
    "python3",
    [
      "-c",
      "import json,sys,tomllib; print(json.dumps(tomllib.loads('_x_ = ' + sys.argv[1])['_x_']))",
      value,
    ],
    { encoding: "utf8" },
  )
  return run.status === 0 ? JSON.parse(run.stdout) : undefined
}

describe("agentHooks: Codex CLI", () => {
  it.scoped("-c notify=[...] before the subcommand; the JSON argument lands as one line", () =>
    Effect.gen(function* () {
      const { base, dir } = yield* awkwardRunnerDir
      const hooks = agentHooks("codex", dir)
      if (hooks === undefined) return yield* Effect.dieMessage("no hooks for codex")
      expect(hooks.files).toEqual([])
      const [flag, override] = hooks.args
      expect(flag).toBe("-c")
      expect(override?.startsWith("notify=[")).toBe(true)
      expect(withHookArgs(["codex", "exec", "--", "p"], hooks)).toEqual([
        "codex",
        "-c",
        override,
        "exec",
        "--",
        "p",
      ])

      const value = override?.slice("notify=".length) ?? ""
      // Our TOML strings use only escapes JSON shares (\" \\ \uXXXX).
      const notify = JSON.parse(value) as ReadonlyArray<string>
      expect(notify.slice(0, 2)).toEqual(["sh", "-c"])
      expect(notify[3]).toBe(hooks.hookFile)
      const toml = parseTomlValue(value)
      if (toml !== undefined) expect(toml).toEqual(notify)

      // As Codex runs it: the program and args, then the event JSON as one more argument.
      const [program = "", ...args] = notify
      for (const pretty of [false, true]) {
        const json = pretty ? JSON.stringify(turnComplete, null, 2) : JSON.stringify(turnComplete)
        const run = spawnSync(program, [...args, json], { cwd: base, encoding: "utf8" })
        expect(run.status, run.stderr).toBe(0)
      }
      const lines = readLines(hooks.hookFile)
      expect(lines.map((line) => JSON.parse(line))).toEqual([turnComplete, turnComplete])
      expect(existsSync(join(base, "bar"))).toBe(false)
      expect(parseHookLine("codex", lines[0] ?? "")).toEqual({ kind: "waiting", reason: "ready" })
    }),
  )

  it("other providers have no documented per-run hook", () => {
    for (const id of ["gemini", "qwen", "opencode", "cursor-agent", "aider", "shell", "nope"]) {
      expect(agentHooks(id, "/tmp/x"), id).toBeUndefined()
    }
    expect(withHookArgs(["bash", "-c", "x"], undefined)).toEqual(["bash", "-c", "x"])
  })
})

describe("parseHookLine", () => {
  const claude = (event: Record<string, unknown>) => parseHookLine("claude", JSON.stringify(event))
  const note = (fields: Record<string, unknown>) =>
    claude({ hook_event_name: "Notification", ...fields })

  it("Claude Code: notifications by type, then by message for versions without a type", () => {
    expect(note({ notification_type: "permission_prompt" })).toEqual({
      kind: "waiting",
      reason: "permission",
    })
    expect(note({ notification_type: "idle_prompt" })).toEqual({ kind: "waiting", reason: "ready" })
    for (const type of ["elicitation_dialog", "elicitation_url_dialog", "agent_needs_input"]) {
      expect(note({ notification_type: type })).toEqual({ kind: "waiting", reason: "question" })
    }
    for (const type of ["auth_success", "elicitation_complete", "agent_completed", "new_kind"]) {
      expect(note({ notification_type: type }), type).toBeUndefined()
    }
    expect(note({ message: "Claude needs your permission to use Bash" })).toMatchObject({
      reason: "permission",
    })
    expect(note({ message: "Claude is waiting for your input" })).toMatchObject({ reason: "ready" })
    expect(note({ message: "Something else" })).toMatchObject({ reason: "question" })
  })

  it("Claude Code: Stop is ready; prompts and tools are work, except the question tool", () => {
    expect(claude({ hook_event_name: "Stop" })).toEqual({ kind: "waiting", reason: "ready" })
    expect(claude({ hook_event_name: "UserPromptSubmit", prompt: "x" })).toEqual({
      kind: "working",
    })
    expect(claude({ hook_event_name: "PreToolUse", tool_name: "Edit" })).toEqual({
      kind: "working",
    })
    expect(claude({ hook_event_name: "PostToolUse", tool_name: "Edit" })).toEqual({
      kind: "working",
    })
    expect(claude({ hook_event_name: "PreToolUse", tool_name: "AskUserQuestion" })).toEqual({
      kind: "waiting",
      reason: "question",
    })
    expect(claude({ hook_event_name: "SessionStart" })).toBeUndefined()
  })

  it("malformed lines, other shapes and other providers give nothing, never a throw", () => {
    for (const line of ["", "{", "null", "[1]", '"Stop"', "42", "{}", '{"hook_event_name":7}']) {
      expect(parseHookLine("claude", line), line).toBeUndefined()
      expect(parseHookLine("codex", line), line).toBeUndefined()
    }
    expect(parseHookLine("codex", '{"type":"approval-requested"}')).toBeUndefined()
    expect(parseHookLine("claude", '{"type":"agent-turn-complete"}')).toBeUndefined()
    expect(parseHookLine("gemini", '{"hook_event_name":"Stop"}')).toBeUndefined()
  })
})

describe("makeLineSplitter", () => {
  it("joins lines across chunks, even inside a UTF-8 character", () => {
    const split = makeLineSplitter(100)
    const bytes = Buffer.from("a✻b\ncd\n")
    expect(split.push(bytes.subarray(0, 2))).toEqual([])
    expect(split.push(bytes.subarray(2, 8))).toEqual(["a✻b"])
    expect(split.push(bytes.subarray(8))).toEqual(["cd"])
  })

  it("drops a line longer than the cap, whole, and holds no more than the cap", () => {
    const split = makeLineSplitter(8)
    expect(split.push(Buffer.from("12345"))).toEqual([])
    expect(split.push(Buffer.from("6789"))).toEqual([]) // past the cap: skipping
    expect(split.push(Buffer.from("abc\nok\n"))).toEqual(["ok"])
    expect(split.push(Buffer.from("123456789\n12345678\n"))).toEqual(["12345678"])
  })
})

/** The first `n` hints of a stream; fails after 10 s. */
const firstHints = (stream: Stream.Stream<AttentionHint>, n: number) =>
  Stream.runCollect(Stream.take(stream, n)).pipe(
    Effect.map(Chunk.toReadonlyArray),
    Effect.timeoutFail({
      duration: "10 seconds",
      onTimeout: () => new Error(`fewer than ${n} hints`),
    }),
  )

const line = (event: Record<string, unknown>) => `${JSON.stringify(event)}\n`
const stop = line({ hook_event_name: "Stop" })
const permission = line({ hook_event_name: "Notification", notification_type: "permission_prompt" })
const work = line({ hook_event_name: "UserPromptSubmit" })

/**
 * Follows `path` into a queue and returns once the follower is known to be live: a `work`
 * line appended after it noted where the file ends has come through (lines before that are
 * old, so not hints). Probes are appended 20 ms apart until one arrives; `next` then skips
 * the "working" hints of late probes before the first other hint.
 */
const liveHints = (path: string, options?: { readonly fromStart?: boolean }) =>
  Effect.gen(function* () {
    const queue = yield* Queue.unbounded<AttentionHint>()
    yield* followHookFile(path, "claude", options).pipe(
      Stream.runForEach((hint) => Queue.offer(queue, hint)),
      Effect.forkScoped,
    )
    yield* Effect.sync(() => appendFileSync(path, work)).pipe(
      Effect.zipRight(Queue.take(queue).pipe(Effect.timeoutOption("20 millis"))),
      Effect.repeat({ until: Option.isSome }),
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("never live") }),
    )
    let started = false
    /** The next `n` hints, late probes skipped; fails after 10 s. */
    const next = (n: number) =>
      Effect.gen(function* () {
        const hints: AttentionHint[] = []
        while (hints.length < n) {
          const hint = yield* Queue.take(queue)
          if (!started && hint.kind === "working") continue
          started = true
          hints.push(hint)
        }
        return hints
      }).pipe(
        Effect.timeoutFail({
          duration: "10 seconds",
          onTimeout: () => new Error(`fewer than ${n} hints`),
        }),
      )
    return { next }
  })

describe("followHookFile (real files)", () => {
  it.scopedLive(
    "new complete lines as the file grows; old, partial, bad and long lines are not hints",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const path = join(dir, HOOK_FILE_NAME)
        writeFileSync(path, stop) // before we follow: not an event any more
        const hints = yield* liveHints(path)
        // A line in two writes (joined across reads when the follower wakes between them; the
        // join itself is makeLineSplitter's, tested above without timing).
        const half = Buffer.from(permission)
        appendFileSync(path, half.subarray(0, 20))
        appendFileSync(path, half.subarray(20))
        appendFileSync(path, "not json\n")
        // A valid event too long to keep: skipped whole.
        appendFileSync(
          path,
          line({ hook_event_name: "Stop", pad: "x".repeat(MAX_HOOK_LINE_BYTES) }),
        )
        appendFileSync(path, work + stop)
        expect(yield* hints.next(3)).toEqual([
          { kind: "waiting", reason: "permission" },
          { kind: "working" },
          { kind: "waiting", reason: "ready" },
        ])
        // From the start when asked, and a missing file is only "nothing yet".
        // From the start when asked (the probes' "working" left out here).
        const fromStart = followHookFile(path, "claude", { fromStart: true }).pipe(
          Stream.filter((hint) => hint.kind !== "working"),
        )
        expect(yield* firstHints(fromStart, 2)).toEqual([
          { kind: "waiting", reason: "ready" },
          { kind: "waiting", reason: "permission" },
        ])
        // A missing file is only "nothing yet": lines come once it exists.
        const later = join(dir, "later.jsonl")
        const fromNothing = yield* liveHints(later)
        appendFileSync(later, stop)
        expect(yield* fromNothing.next(1)).toEqual([{ kind: "waiting", reason: "ready" }])
      }),
  )

  it.scopedLive(
    "a line written while the folder floods (the watch polls segments) still arrives",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const path = join(dir, HOOK_FILE_NAME)
        const segment = join(dir, "out-000000")
        writeFileSync(path, "")
        writeFileSync(segment, "")
        const hints = yield* liveHints(path)
        // Writes under 2 ms apart (one per event-loop turn, so each is seen): past 32 of them the
        // folder watch polls instead of inotify, and polling does not report our file growing.
        const nextTurn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        const flood = (n: number) =>
          Effect.repeatN(
            Effect.zipRight(
              Effect.sync(() => appendFileSync(segment, "x".repeat(512))),
              nextTurn,
            ),
            n,
          )
        yield* flood(60)
        appendFileSync(path, permission)
        yield* flood(100)
        expect(yield* hints.next(1)).toEqual([{ kind: "waiting", reason: "permission" }])
      }),
  )

  it.scopedLive("end to end: the Claude hook command wakes a detector on a quiet pane", () =>
    Effect.gen(function* () {
      const { dir } = yield* awkwardRunnerDir
      const hooks = agentHooks("claude", dir)
      if (hooks === undefined) return yield* Effect.dieMessage("no hooks for claude")
      const settings = JSON.parse(hooks.files[0]?.content ?? "{}") as {
        hooks: { Stop: Array<{ hooks: Array<{ command: string }> }> }
      }
      const command = settings.hooks.Stop[0]?.hooks[0]?.command ?? ""
      const detector = yield* makeAttentionDetector({
        handle: { followOutput: followNothing, logBounds: Effect.succeed({ start: 0, end: 0 }) },
        capture: Effect.succeed(screenOf(["some output nobody has a rule for"])),
        rules: [],
        hints: followHookFile(hooks.hookFile, "claude"),
      })
      // The hook command is run again until the detector's follower, which starts in the
      // background, has taken one of its lines: no guess at how long it takes to start.
      yield* Effect.sync(() =>
        spawnSync("sh", ["-c", command], { input: JSON.stringify({ hook_event_name: "Stop" }) }),
      ).pipe(
        Effect.zipRight(detector.current),
        Effect.repeat({ until: (s) => s.waitingForInput, schedule: Schedule.spaced("20 millis") }),
        Effect.timeoutFail({ duration: "5 seconds", onTimeout: () => new Error("never waiting") }),
      )
      expect(yield* detector.current).toEqual({ waitingForInput: true, reason: "ready" })
    }),
  )
})
