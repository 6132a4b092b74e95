import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  builtinRulesDir,
  loadBuiltinRuleFiles,
  readBuiltinRuleFile,
} from "../../src/attention/builtin-rules.js"
import { evaluateScreen, screenOf } from "../../src/attention/evaluate.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"
import { ScreenRuleError } from "../../src/attention/rules.js"
import * as F from "./fixtures.js"

const verdict = (provider: string, lines: ReadonlyArray<string>) =>
  Effect.map(loadRuleSet(provider), (rules) => evaluateScreen(screenOf(lines), rules))

describe("builtin screen rules", () => {
  it.effect("every builtin file in rules/ decodes and compiles", () =>
    Effect.map(loadBuiltinRuleFiles(), (files) => {
      expect(files.map((f) => f.provider)).toEqual([
        "aider",
        "claude",
        "codex",
        "gemini",
        "generic",
        "opencode",
        "qwen",
      ])
      for (const file of files) expect(file.rules.length).toBeGreaterThan(0)
    }),
  )

  it.effect("an Esc answer is the ESC byte, written \\u001b in the JSON file", () =>
    Effect.gen(function* () {
      const text = yield* Effect.promise(() =>
        readFile(join(builtinRulesDir, "claude.json"), "utf8"),
      )
      expect(text).toContain('"keys": "\\u001b"')
      const claude = yield* readBuiltinRuleFile("claude")
      const permission = claude?.rules.find((r) => r.id === "claude.permission")
      expect(permission?.answers?.at(-1)).toEqual({ label: "No", keys: "\u001b" })
    }),
  )

  it.effect("claude: a permission menu is waiting even with the spinner still drawn", () =>
    Effect.gen(function* () {
      const v = yield* verdict("claude", F.claudePermission)
      expect(v).toMatchObject({
        kind: "waiting",
        reason: "permission",
        ruleId: "claude.permission",
      })
      expect(v.answers).toEqual([
        { label: "Yes", keys: "1" },
        { label: "Yes, don't ask again", keys: "2" },
        { label: "No", keys: "\u001b" },
      ])
    }),
  )

  it.effect("claude: an edit dialog with two options offers Yes / No only", () =>
    Effect.gen(function* () {
      const v = yield* verdict("claude", F.claudeEditPermission)
      expect(v).toMatchObject({ kind: "waiting", ruleId: "claude.permission-yes-no" })
      expect(v.answers?.map((a) => a.label)).toEqual(["Yes", "No"])
    }),
  )

  it.effect("claude: spinner with 'esc to interrupt' is busy, not ready", () =>
    Effect.gen(function* () {
      expect(yield* verdict("claude", F.claudeBusy)).toMatchObject({ kind: "busy" })
      // Prompt-like words from a tool's output in the transcript are not a prompt.
      expect(yield* verdict("claude", F.claudeBusyWithPromptInTranscript)).toMatchObject({
        kind: "busy",
      })
    }),
  )

  it.effect("claude: an empty prompt box is ready", () =>
    Effect.gen(function* () {
      expect(yield* verdict("claude", F.claudeReady)).toMatchObject({
        kind: "ready",
        reason: "ready",
      })
      const newLayout = F.screen(`
● Done.

────────────────────────────────────────────────────────────
> 
────────────────────────────────────────────────────────────
  ? for shortcuts
`)
      expect(yield* verdict("claude", newLayout)).toMatchObject({ kind: "ready" })
    }),
  )

  it.effect("codex: approval prompts are waiting, 'Esc to interrupt' is busy", () =>
    Effect.gen(function* () {
      expect(yield* verdict("codex", F.codexApproval)).toMatchObject({
        kind: "waiting",
        reason: "permission",
        ruleId: "codex.confirm",
      })
      expect(yield* verdict("codex", F.codexLegacyAllow)).toMatchObject({
        kind: "waiting",
        ruleId: "codex.allow",
      })
      expect(yield* verdict("codex", F.codexBusy)).toMatchObject({ kind: "busy" })
    }),
  )

  it.effect("gemini and qwen: confirmation is waiting, 'esc to cancel' busy, input box ready", () =>
    Effect.gen(function* () {
      for (const provider of ["gemini", "qwen"]) {
        expect(yield* verdict(provider, F.geminiConfirmation)).toMatchObject({
          kind: "waiting",
          reason: "permission",
          ruleId: `${provider}.confirmation`,
        })
        expect(yield* verdict(provider, F.geminiBusy)).toMatchObject({ kind: "busy" })
        expect(yield* verdict(provider, F.geminiReady)).toMatchObject({ kind: "ready" })
      }
    }),
  )

  it.effect("opencode: 'Permission required' is waiting", () =>
    Effect.map(verdict("opencode", F.opencodePermission), (v) =>
      expect(v).toMatchObject({ kind: "waiting", reason: "permission" }),
    ),
  )

  it.effect("generic rules apply to any provider, including unknown ones", () =>
    Effect.gen(function* () {
      for (const provider of ["shell", "claude", "aider"]) {
        expect(yield* verdict(provider, F.shellYesNo)).toMatchObject({
          kind: "waiting",
          reason: "question",
          ruleId: "generic.yes-no",
        })
        expect(yield* verdict(provider, F.aptContinue)).toMatchObject({ kind: "waiting" })
      }
      expect(
        yield* verdict("shell", F.screen("Setup complete.\nPress Enter to continue...")),
      ).toMatchObject({
        kind: "waiting",
        ruleId: "generic.press-enter",
      })
    }),
  )

  it.effect("no false 'waiting' on busy screens or logs that merely mention prompts", () =>
    Effect.gen(function* () {
      const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>]> = [
        ["shell", F.buildLog],
        ["claude", F.buildLog],
        ["claude", F.claudeBusy],
        ["claude", F.claudeBusyWithPromptInTranscript],
        ["claude", F.claudeReady],
        ["codex", F.codexBusy],
        ["gemini", F.geminiBusy],
        ["gemini", F.geminiReady],
        ["qwen", F.geminiBusy],
        ["opencode", F.buildLog],
      ]
      for (const [provider, lines] of cases) {
        expect((yield* verdict(provider, lines)).kind, `${provider}`).not.toBe("waiting")
      }
    }),
  )

  it.effect("a prompt scrolled above the bottom region is ignored", () =>
    Effect.gen(function* () {
      const scrolled = [...F.shellYesNo.filter((l) => l.trim() !== ""), "y", "Deploying…", "done"]
      expect((yield* verdict("shell", scrolled)).kind).toBe("unknown")
    }),
  )
})

/** A temp folder standing in for `rules/`, holding the given files, removed after the test. */
const withRulesDir = <A, E>(
  files: Record<string, string>,
  use: (dir: string) => Effect.Effect<A, E>,
): Effect.Effect<A, E> =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const dir = await mkdtemp(join(tmpdir(), "builtin-rules-"))
      for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text)
      return dir
    }),
    use,
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
  )

const rule = { kind: "busy", priority: 1, region: { from: "bottom", lines: 1 }, all: ["x"] }

describe("builtin rule files", () => {
  it.effect("a provider without a file, or a name that is not a provider id, has no rules", () =>
    Effect.gen(function* () {
      expect(yield* readBuiltinRuleFile("shell")).toBeUndefined()
      expect(yield* readBuiltinRuleFile("../package")).toBeUndefined()
      expect(yield* readBuiltinRuleFile("Claude")).toBeUndefined()
    }),
  )

  it.effect("a malformed builtin file is a ScreenRuleError naming the file", () =>
    withRulesDir(
      {
        "json.json": "{ not json",
        "regex.json": JSON.stringify({
          provider: "regex",
          rules: [{ id: "broken", ...rule, all: ["([unclosed"] }],
        }),
        "shape.json": JSON.stringify({
          provider: "shape",
          rules: [{ id: "s", ...rule, kind: "x" }],
        }),
        "named.json": JSON.stringify({ provider: "other", rules: [{ id: "n", ...rule }] }),
      },
      (dir) =>
        Effect.gen(function* () {
          const fail = (name: string) => Effect.flip(readBuiltinRuleFile(name, dir))
          const json = yield* fail("json")
          expect(json).toBeInstanceOf(ScreenRuleError)
          expect(json.source).toBe(join(dir, "json.json"))
          expect(json.message).toMatch(/^invalid JSON/)
          expect(yield* fail("regex")).toMatchObject({
            source: join(dir, "regex.json"),
            ruleId: "broken",
          })
          expect(yield* fail("shape")).toMatchObject({
            source: join(dir, "shape.json"),
            ruleId: "s",
          })
          const named = yield* fail("named")
          expect(named.source).toBe(join(dir, "named.json"))
          expect(named.message).toMatch(/does not match the file name "named"/)
        }),
    ),
  )
})
