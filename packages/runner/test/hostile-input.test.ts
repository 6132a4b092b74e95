import { existsSync, mkdirSync, readdirSync } from "node:fs"
import { homedir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import { ProcessMonitorError, ValidationError } from "../src/domain/errors.js"
import { ProcessId, SessionName } from "../src/domain/ids.js"
import { quoteTmuxArg } from "../src/tmux/quote.js"
import { fixture, testRunner } from "./harness.js"

/** Strings that would run `touch CANARY` if anything put them through a shell or tmux formats. */
const hostile = (canary: string): ReadonlyArray<string> => [
  `#(touch ${canary})`,
  `$(touch ${canary})`,
  `\`touch ${canary}\``,
  `; touch ${canary};`,
  `x\\; touch ${canary} \\;`,
  `' ; touch ${canary} ; '`,
  `" ; touch ${canary} ; "`,
  `#{session_name} #{pane_id} ##{x}`,
  `-t`,
  `--`,
  `~`,
  `$HOME`,
  `line one\nline two\r\ttab`,
  `\u202Eevil\u200B unicode ✓ 日本`,
  `{ run-shell 'touch ${canary}' }`,
  `%1 %end 1 2 1`,
  ";",
  "",
]

const readJsonLine = (stream: Stream.Stream<{ bytes: Uint8Array }, unknown>) =>
  Stream.runFoldWhile(
    stream,
    "",
    (text) => !/\{"argv".*\}\r?\n/s.test(text),
    (text, c) => text + Buffer.from(c.bytes).toString("utf8"),
  ).pipe(
    Effect.map((text) => JSON.parse(text.slice(text.indexOf('{"argv"')).split(/\r?\n/)[0] ?? "")),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("no JSON line") }),
  )

describe("hostile input never reaches a shell or tmux's format expander", () => {
  it.scopedLive("argv, env values and cwd arrive byte for byte", () =>
    Effect.gen(function* () {
      const { monitor, dataDir, tmux } = yield* testRunner()
      const canary = join(dataDir, "canary")
      const args = hostile(canary)
      // A folder name holds no `/`: its canary is relative, so look wherever it could land.
      const weirdDir = join(dataDir, `dir #(touch canary-cwd) $(touch canary-cwd) ' " ;`)
      const cwdCanaries = [process.cwd(), dataDir, weirdDir, "/", "/tmp", homedir()].map((d) =>
        join(d, "canary-cwd"),
      )
      mkdirSync(weirdDir)
      const handle = yield* monitor.spawn(process.execPath, [fixture("print-argv.cjs"), ...args], {
        processId: ProcessId("hostile"),
        cwd: weirdDir,
        env: { HOSTILE: args.join("|") },
      })
      const seen = yield* readJsonLine(handle.output(0))
      expect(seen.argv).toEqual(args)
      expect(seen.env).toBe(args.join("|"))
      expect(seen.cwd).toBe(weirdDir)
      yield* handle.awaitExit
      expect(existsSync(canary)).toBe(false)
      expect(cwdCanaries.filter((c) => existsSync(c))).toEqual([])
      // Only the sessions we meant exist on the server.
      const names = tmux(["list-sessions", "-F", "#{session_name}"]).stdout.trim().split("\n")
      expect(names.sort()).toEqual(["geppetto-control", "hostile"])
    }),
  )

  it.scopedLive("a one-word command is not run through sh -c", () =>
    Effect.gen(function* () {
      const { monitor, dataDir } = yield* testRunner()
      const canary = join(dataDir, "canary1")
      const handle = yield* monitor.spawn(`true; touch ${canary}`, [], {
        processId: ProcessId("oneword"),
        cwd: "/tmp",
      })
      const exit = yield* handle.awaitExit
      expect(exit.exitCode).toBe(127) // no such program: exec was given the whole string
      expect(existsSync(canary)).toBe(false)
    }),
  )

  it.scopedLive(
    "bad names, env keys, NUL bytes, sizes and cwds are typed errors that change nothing",
    () =>
      Effect.gen(function* () {
        const { monitor, dataDir, tmux } = yield* testRunner()
        const canary = join(dataDir, "canary2")
        const attempts = [
          { name: `x#(touch ${canary})` },
          { name: "-t" },
          { name: "a.b" },
          { name: "a:b" },
          { name: "" },
          { name: "x".repeat(65) },
          { env: { "BAD=KEY": "v" } },
          { env: { [`$(touch ${canary})`]: "v" } },
          { env: { OK: "nul\0byte" } },
          { args: ["nul\0byte"] },
          { cwd: "relative/path" },
          { cwd: join(dataDir, "missing") },
          { cols: 0 },
          { rows: 100_000 },
        ]
        for (const [i, attempt] of attempts.entries()) {
          const error = yield* Effect.flip(
            monitor.spawn("echo", attempt.args ?? ["hi"], {
              processId: ProcessId(`bad-${i}`),
              cwd: attempt.cwd ?? "/tmp",
              ...(attempt.name === undefined ? {} : { sessionName: SessionName(attempt.name) }),
              ...(attempt.env === undefined ? {} : { env: attempt.env }),
              ...(attempt.cols === undefined ? {} : { cols: attempt.cols }),
              ...(attempt.rows === undefined ? {} : { rows: attempt.rows }),
            }),
          )
          expect(error, JSON.stringify(attempt)).toBeInstanceOf(ValidationError)
        }
        expect(existsSync(canary)).toBe(false)
        expect(
          existsSync(join(dataDir, "runners")) ? readdirSync(join(dataDir, "runners")) : [],
        ).toEqual([])
        const sessions = tmux(["list-sessions", "-F", "#{session_name}"])
        expect(
          sessions.stdout
            .trim()
            .split("\n")
            .filter((n) => n !== "geppetto-control" && n !== ""),
        ).toEqual([])
      }),
  )

  it.scopedLive("adopting a hostile session name finds nothing and runs nothing", () =>
    Effect.gen(function* () {
      const { monitor, dataDir } = yield* testRunner()
      const canary = join(dataDir, "canary3")
      for (const name of hostile(canary)) {
        const error = yield* Effect.flip(
          monitor.monitorExisting(name, { processId: ProcessId("adopt") }),
        )
        expect(error).toBeInstanceOf(ProcessMonitorError)
      }
      expect(existsSync(canary)).toBe(false)
    }),
  )
})

describe("quoteTmuxArg", () => {
  it("single-quotes plain text and escapes quotes and control characters in octal", () => {
    expect(quoteTmuxArg("abc")).toBe("'abc'")
    expect(quoteTmuxArg("")).toBe("''")
    expect(quoteTmuxArg("it's")).toBe(`'it'"\\047"'s'`)
    expect(quoteTmuxArg("a\nb")).toBe(`'a'"\\012"'b'`)
    expect(quoteTmuxArg("$HOME ~ #{x}")).toBe("'$HOME ~ #{x}'")
    expect(() => quoteTmuxArg("a\0b")).toThrow()
  })
})
