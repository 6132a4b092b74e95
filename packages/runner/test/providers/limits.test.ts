import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { checkLimits, type RunnerSlot, TierLimitError } from "../../src/providers/limits.js"

const failure = (effect: Effect.Effect<void, TierLimitError>) =>
  Effect.map(Effect.either(effect), (r) => {
    if (Either.isRight(r)) throw new Error("expected a TierLimitError")
    expect(r.left).toBeInstanceOf(TierLimitError)
    return r.left
  })

describe("checkLimits", () => {
  it.effect("per provider: N runners pass, the (N+1)th fails", () =>
    Effect.gen(function* () {
      const limits = { perProvider: { claude: 2 } }
      const running: RunnerSlot[] = []
      const request = { provider: "claude" }
      for (let i = 0; i < 2; i++) {
        yield* checkLimits({ running, request, limits })
        running.push(request)
      }
      const e = yield* failure(checkLimits({ running, request, limits }))
      expect(e).toMatchObject({ provider: "claude", scope: "provider", limit: 2 })
      expect(e.accountId).toBeUndefined()
      expect(e.message).toContain("perProvider.claude")
      // Other providers are not counted against claude, nor limited.
      yield* checkLimits({ running, request: { provider: "codex" }, limits })
      yield* checkLimits({
        running: [...running, { provider: "codex" }],
        request: { provider: "codex" },
        limits,
      })
    }),
  )

  it.effect("per account: N runners pass, the (N+1)th fails; other accounts pass", () =>
    Effect.gen(function* () {
      const limits = { perAccount: { work: 1 } }
      const running: RunnerSlot[] = [{ provider: "claude", accountId: "home" }]
      const request = { provider: "claude", accountId: "work" }
      yield* checkLimits({ running, request, limits })
      running.push(request)
      const e = yield* failure(checkLimits({ running, request, limits }))
      expect(e).toMatchObject({
        provider: "claude",
        accountId: "work",
        scope: "account",
        limit: 1,
      })
      expect(e.message).toContain("perAccount.work")
      yield* checkLimits({ running, request: { provider: "claude", accountId: "home" }, limits })
      yield* checkLimits({ running, request: { provider: "claude" }, limits })
    }),
  )

  it.effect("the provider limit applies across accounts", () =>
    Effect.gen(function* () {
      const limits = { perProvider: { codex: 2 }, perAccount: { a: 5, b: 5 } }
      const running = [
        { provider: "codex", accountId: "a" },
        { provider: "codex", accountId: "b" },
      ]
      const e = yield* failure(
        checkLimits({ running, request: { provider: "codex", accountId: "a" }, limits }),
      )
      expect(e).toMatchObject({ scope: "provider", accountId: "a", limit: 2 })
    }),
  )

  it.effect("a limit of 0 refuses the first runner; no limits pass everything", () =>
    Effect.gen(function* () {
      const e = yield* failure(
        checkLimits({
          running: [],
          request: { provider: "aider" },
          limits: { perProvider: { aider: 0 } },
        }),
      )
      expect(e.limit).toBe(0)
      yield* checkLimits({
        running: Array.from({ length: 50 }, () => ({ provider: "aider" })),
        request: { provider: "aider" },
        limits: {},
      })
    }),
  )
})
