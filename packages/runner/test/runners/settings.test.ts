import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { loadRunnerSettings } from "../../src/runners/settings.js"

const withConfig = (content: string | undefined) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const dir = mkdtempSync(join(tmpdir(), "geppetto-settings-"))
      if (content !== undefined) writeFileSync(join(dir, "config.json"), content)
      return dir
    }),
    (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true })),
  )

describe("runner settings from config.json", () => {
  it.scoped("defaults without a file; user rules under DATA_DIR/rules", () =>
    Effect.gen(function* () {
      const dir = yield* withConfig(undefined)
      const settings = yield* loadRunnerSettings(dir)
      expect(settings.accounts).toEqual({})
      expect(settings.limits).toEqual({})
      expect(settings.attention.debounceMs).toBe(1_500)
      expect(settings.rulesDir).toBe(join(dir, "rules"))
    }),
  )

  it.scoped("accounts, limits and detection timing", () =>
    Effect.gen(function* () {
      const dir = yield* withConfig(
        JSON.stringify({
          accounts: {
            personal: {
              provider: "claude",
              env: { CLAUDE_CONFIG_DIR: "/home/me/.claude-personal" },
            },
            work: { provider: "claude", autoApprove: { allow: ["npm (?:test|run lint)"] } },
          },
          limits: { perProvider: { claude: 3 }, perAccount: { work: 1 } },
          attention: { debounceMs: 2_000 },
          logs: { segmentBytes: 8 * 1024 * 1024, retainBytes: 64 * 1024 * 1024 },
          activity: { idleThresholdMs: 5_000 },
          server: { ignored: true },
        }),
      )
      const settings = yield* loadRunnerSettings(dir, { ignoreKeys: ["server"] })
      expect(settings.accounts.personal).toEqual({
        id: "personal",
        provider: "claude",
        env: { CLAUDE_CONFIG_DIR: "/home/me/.claude-personal" },
      })
      expect(settings.accounts.work?.env).toEqual({})
      expect(settings.accounts.work?.autoApprove).toEqual({ allow: ["npm (?:test|run lint)"] })
      expect(settings.limits).toEqual({ perProvider: { claude: 3 }, perAccount: { work: 1 } })
      expect(settings.attention).toEqual({ debounceMs: 2_000, confirmMs: 250, recheckMs: 300 })
      expect(settings.runnerConfig).toEqual({
        segmentBytes: 8 * 1024 * 1024,
        retainBytes: 64 * 1024 * 1024,
        idleThresholdMs: 5_000,
      })
    }),
  )

  it.scoped.each([
    ["{not json", "is not valid JSON"],
    ["[]", "must hold a JSON object"],
    ['{"acounts": {}}', "acounts"],
    ['{"accounts": {"a b": {"provider": "claude"}}}', "accounts"],
    ['{"accounts": {"x": {"provider": "claude", "env": {"A=B": "1"}}}}', "accounts.x.env"],
    ['{"limits": {"perProvider": {"claude": -1}}}', "limits.perProvider.claude"],
    [
      '{"accounts": {"x": {"provider": "claude", "autoApprove": {"allow": ["("]}}}}',
      "accounts.x.autoApprove.allow.0",
    ],
    [
      '{"accounts": {"x": {"provider": "claude", "autoApprove": {"allow": []}}}}',
      "accounts.x.autoApprove.allow",
    ],
    ['{"limits": {"perAccount": {"ghost": 1}}}', "limits.perAccount.ghost"],
    ['{"attention": {"debounceMs": "fast"}}', "attention.debounceMs"],
    ['{"logs": {"segmentBytes": 10}}', "logs.segmentBytes"],
    ['{"logs": {"segmentBytes": 2097152, "retainBytes": 1048576}}', "logs.retainBytes"],
    ['{"logs": {"retention": 1}}', "logs"],
    ['{"activity": {"idleThresholdMs": -5}}', "activity.idleThresholdMs"],
  ])("%s is a SettingsError naming %s", ([content, needle]) =>
    Effect.gen(function* () {
      const dir = yield* withConfig(content)
      const result = yield* Effect.either(loadRunnerSettings(dir))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        expect(result.left._tag).toBe("SettingsError")
        expect(result.left.message).toContain(needle)
        expect(result.left.message).toContain(join(dir, "config.json"))
      }
    }),
  )
})
