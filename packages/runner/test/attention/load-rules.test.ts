import { mkdtemp, rm, writeFile } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { evaluateScreen, screenOf } from "../../src/attention/evaluate.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"
import { decodeRuleFile, ScreenRuleError } from "../../src/attention/rules.js"
import * as F from "./fixtures.js"

/** A temp user rules folder holding the given files, removed after the test. */
const withUserDir = <A, E>(
  files: Record<string, unknown>,
  use: (dir: string) => Effect.Effect<A, E>,
): Effect.Effect<A, E> =>
  Effect.acquireUseRelease(
    Effect.promise(async () => {
      const dir = await mkdtemp(join(tmpdir(), "screen-rules-"))
      for (const [name, content] of Object.entries(files)) {
        const text = typeof content === "string" ? content : JSON.stringify(content, null, 2)
        await writeFile(join(dir, name), text)
      }
      return dir
    }),
    use,
    (dir) => Effect.promise(() => rm(dir, { recursive: true, force: true })),
  )

const ids = (dir: string | undefined, provider = "claude") =>
  Effect.map(loadRuleSet(provider, dir), (rules) => rules.map((r) => r.id))

const loadError = (files: Record<string, unknown>, provider = "claude") =>
  withUserDir(files, (dir) => Effect.flip(loadRuleSet(provider, dir)))

describe("loadRuleSet", () => {
  it.effect("builtin provider rules come first, then the generic ones", () =>
    Effect.gen(function* () {
      const list = yield* ids(undefined)
      expect(list).toContain("claude.permission")
      expect(list).toContain("generic.yes-no")
      expect(list.indexOf("claude.busy")).toBeLessThan(list.indexOf("generic.yes-no"))
      expect(yield* ids(undefined, "shell")).toEqual([
        "generic.yes-no",
        "generic.press-enter",
        "generic.proceed",
        "generic.title-spinner",
      ])
    }),
  )

  it.effect("a missing user folder or file changes nothing", () =>
    Effect.gen(function* () {
      const builtin = yield* ids(undefined)
      expect(yield* ids(join(tmpdir(), "no-such-screen-rules-dir"))).toEqual(builtin)
    }),
  )

  it.effect("user files replace by id, add new ids and disable with { id, disabled: true }", () =>
    withUserDir(
      {
        "claude.json": {
          provider: "claude",
          rules: [
            // Replace: the builtin busy rule now only looks at the last line.
            {
              id: "claude.busy",
              kind: "busy",
              priority: 50,
              region: { from: "bottom", lines: 1 },
              all: ["esc to interrupt"],
            },
            // Add: a custom agent's own prompt.
            {
              id: "my.approve",
              kind: "waiting",
              reason: "permission",
              priority: 120,
              region: { from: "bottom", lines: 3 },
              all: ["^APPROVE\\? \\(a/r\\)$"],
              answers: [{ label: "Approve", keys: "a" }],
            },
            // Disable a builtin of this provider, and a generic one for this provider only.
            { id: "claude.ready", disabled: true },
            { id: "generic.press-enter", disabled: true },
          ],
        },
        "generic.json": {
          provider: "generic",
          rules: [{ id: "generic.proceed", disabled: true }],
        },
      },
      (dir) =>
        Effect.gen(function* () {
          const rules = yield* loadRuleSet("claude", dir)
          const list = rules.map((r) => r.id)
          expect(list).toContain("my.approve")
          expect(list).not.toContain("claude.ready")
          expect(list).not.toContain("generic.press-enter")
          expect(list).not.toContain("generic.proceed")
          expect(list.filter((id) => id === "claude.busy")).toHaveLength(1)

          // The replaced busy rule no longer sees a spinner above the prompt box...
          expect(evaluateScreen(screenOf(F.claudeBusy), rules).kind).toBe("unknown")
          // ...and the added rule works, with its answers.
          expect(evaluateScreen(screenOf(["working", "APPROVE? (a/r)"]), rules)).toMatchObject({
            kind: "waiting",
            ruleId: "my.approve",
            answers: [{ label: "Approve", keys: "a" }],
          })

          // The generic override applies to other providers; the claude one does not.
          const shell = (yield* loadRuleSet("shell", dir)).map((r) => r.id)
          expect(shell).toEqual(["generic.yes-no", "generic.press-enter", "generic.title-spinner"])
        }),
    ),
  )

  it.effect("a bad regex in a user file is a ScreenRuleError naming the file and rule", () =>
    Effect.gen(function* () {
      const error = yield* loadError({
        "claude.json": {
          provider: "claude",
          rules: [
            {
              id: "broken",
              kind: "waiting",
              priority: 1,
              region: { from: "bottom", lines: 3 },
              all: ["ok", "([unclosed"],
            },
          ],
        },
      })
      expect(error).toBeInstanceOf(ScreenRuleError)
      expect(error.source).toMatch(/claude\.json$/)
      expect(error.ruleId).toBe("broken")
      expect(error.message).toContain("([unclosed")
    }),
  )

  it.effect("a bad shape names the file, the rule and the field", () =>
    Effect.gen(function* () {
      const error = yield* loadError({
        "claude.json": {
          provider: "claude",
          rules: [
            {
              id: "too-tall",
              kind: "waiting",
              priority: 1,
              region: { from: "bottom", lines: 500 },
              all: ["x"],
            },
          ],
        },
      })
      expect(error._tag).toBe("ScreenRuleError")
      expect(error.source).toMatch(/claude\.json$/)
      expect(error.ruleId).toBe("too-tall")
      expect(error.message).toContain("region.lines")

      const kind = yield* loadError({
        "generic.json": {
          provider: "generic",
          rules: [
            { id: "k", kind: "sleepy", priority: 1, region: { from: "top", lines: 1 }, all: ["x"] },
          ],
        },
      })
      expect(kind).toMatchObject({ ruleId: "k" })
      expect(kind.source).toMatch(/generic\.json$/)
    }),
  )

  it.effect("invalid JSON, duplicate ids and a mismatched provider are typed errors", () =>
    Effect.gen(function* () {
      const json = yield* loadError({ "claude.json": "{ not json" })
      expect(json.message).toMatch(/invalid JSON/)
      expect(json.source).toMatch(/claude\.json$/)

      const rule = { kind: "busy", priority: 1, region: { from: "bottom", lines: 1 }, all: ["x"] }
      const dup = yield* loadError({
        "claude.json": {
          provider: "claude",
          rules: [
            { id: "d", ...rule },
            { id: "d", ...rule },
          ],
        },
      })
      expect(dup).toMatchObject({ ruleId: "d", message: 'duplicate rule id "d"' })

      const mismatch = yield* loadError({ "claude.json": { provider: "codex", rules: [] } })
      expect(mismatch.message).toMatch(/does not match/)
    }),
  )

  it.effect("decodeRuleFile rejects an empty `all` and an unknown region origin", () =>
    Effect.gen(function* () {
      const base = { id: "r", kind: "busy", priority: 1 }
      const empty = yield* Effect.either(
        decodeRuleFile("inline", {
          provider: "p",
          rules: [{ ...base, region: { from: "bottom", lines: 2 }, all: [] }],
        }),
      )
      expect(Either.isLeft(empty) && empty.left.ruleId).toBe("r")
      const origin = yield* Effect.either(
        decodeRuleFile("inline", {
          provider: "p",
          rules: [{ ...base, region: { from: "middle", lines: 2 }, all: ["x"] }],
        }),
      )
      expect(Either.isLeft(origin) && origin.left.source).toBe("inline")
    }),
  )
})
