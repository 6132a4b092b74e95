import { describe, expect, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { ValidationError } from "../../src/domain/errors.js"
import type { AccountProfile, PlanRequest, ProviderMode } from "../../src/providers/provider.js"
import { type ProviderId, providerIds, providers } from "../../src/providers/registry.js"

const plan = (id: ProviderId, request: PlanRequest, shell?: string) =>
  providers[id].plan(request, { shell })

/** The ValidationError a bad request fails with (the test fails if it succeeds). */
const rejected = (id: ProviderId, request: PlanRequest) =>
  Effect.map(Effect.either(plan(id, request)), (result) => {
    if (Either.isRight(result)) throw new Error(`expected a ValidationError for ${id}`)
    expect(result.left).toBeInstanceOf(ValidationError)
    return result.left
  })

const P = "fix the bug"

// Expected argv per provider × mode, with and without a prompt (undefined = rejected).
const expected: Record<
  Exclude<ProviderId, "shell">,
  Record<ProviderMode, { with: (p: string) => string[]; without: string[] | undefined }>
> = {
  claude: {
    interactive: { with: (p) => ["claude", "--", p], without: ["claude"] },
    oneshot: { with: (p) => ["claude", "-p", "--", p], without: undefined },
  },
  codex: {
    interactive: { with: (p) => ["codex", "--", p], without: ["codex"] },
    oneshot: { with: (p) => ["codex", "exec", "--", p], without: undefined },
  },
  gemini: {
    interactive: { with: (p) => ["gemini", `--prompt-interactive=${p}`], without: ["gemini"] },
    oneshot: { with: (p) => ["gemini", `--prompt=${p}`], without: undefined },
  },
  qwen: {
    interactive: { with: (p) => ["qwen", `--prompt-interactive=${p}`], without: ["qwen"] },
    oneshot: { with: (p) => ["qwen", `--prompt=${p}`], without: undefined },
  },
  opencode: {
    interactive: { with: (p) => ["opencode", `--prompt=${p}`], without: ["opencode"] },
    oneshot: { with: (p) => ["opencode", "run", "--", p], without: undefined },
  },
  "cursor-agent": {
    interactive: { with: (p) => ["cursor-agent", "--", p], without: ["cursor-agent"] },
    oneshot: { with: (p) => ["cursor-agent", "-p", "--", p], without: undefined },
  },
  aider: {
    // Interactive aider cannot take a first message: a prompt is rejected (tested below).
    interactive: { with: () => [], without: ["aider"] },
    oneshot: { with: (p) => ["aider", `--message=${p}`, "--yes-always"], without: undefined },
  },
}

const HOSTILE = [
  `it's "quoted"`,
  "a; rm -rf / ; echo",
  "$(touch /tmp/pwned) `id` $HOME",
  "line one\nline two\n",
  "-p --dangerously-skip-permissions",
  "--help",
  "-",
  "   leading spaces and trailing tab\t",
  "unicode ❯ ✓ 🚀",
]

describe("provider argv", () => {
  for (const [id, modes] of Object.entries(expected) as Array<
    [Exclude<ProviderId, "shell">, (typeof expected)[keyof typeof expected]]
  >) {
    for (const mode of ["interactive", "oneshot"] as const) {
      const want = modes[mode]
      if (id !== "aider" || mode !== "interactive")
        it.effect(`${id} ${mode} with a prompt`, () =>
          Effect.map(plan(id, { mode, prompt: P }), (r) => {
            expect(r.argv).toEqual(want.with(P))
            expect(r.env).toEqual({})
          }),
        )
      if (want.without === undefined)
        it.effect(`${id} ${mode} without a prompt → ValidationError(prompt)`, () =>
          Effect.map(rejected(id, { mode }), (e) => expect(e.field).toBe("prompt")),
        )
      else {
        const without = want.without
        it.effect(`${id} ${mode} without a prompt`, () =>
          Effect.gen(function* () {
            expect((yield* plan(id, { mode })).argv).toEqual(without)
            // An empty prompt is no prompt.
            expect((yield* plan(id, { mode, prompt: "" })).argv).toEqual(without)
          }),
        )
      }
    }
  }

  it.effect("hostile prompts arrive as exactly one argv element, never as a flag", () =>
    Effect.gen(function* () {
      for (const id of providerIds) {
        if (id === "shell") continue
        for (const mode of ["interactive", "oneshot"] as const) {
          if (id === "aider" && mode === "interactive") continue
          for (const prompt of HOSTILE) {
            if (id === "codex" && mode === "oneshot" && prompt === "-") continue
            const { argv } = yield* plan(id, { mode, prompt })
            const isFlagValue = (a: string) =>
              a.endsWith(`=${prompt}`) && /^--[a-z-]+=$/.test(a.slice(0, a.length - prompt.length))
            // Either the bare prompt right after `--`, or one `--flag=prompt` element.
            const at = argv.findIndex((a, i) => (a === prompt && i > 0) || isFlagValue(a))
            expect(at, `${id} ${mode} ${JSON.stringify(prompt)}`).toBeGreaterThan(0)
            if (argv[at] === prompt) expect(argv[at - 1]).toBe("--")
            // Nothing else carries it (short prompts like "-" also match the binary's name).
            if (prompt.length > 2)
              expect(argv.filter((a, i) => i !== at && a.includes(prompt))).toEqual([])
            expect(argv).toEqual(expected[id][mode].with(prompt))
          }
        }
      }
    }),
  )

  it.effect(
    "gemini and qwen continue a session with --resume=ID in both modes; qwen forks, gemini cannot",
    () =>
      Effect.gen(function* () {
        const sessionId = "0b4c2b1e-5f7a-4d2e-9c1b-3a2f6e8d9c10"
        const resume = { sessionId, fork: false }
        for (const id of ["gemini", "qwen"] as const) {
          expect((yield* plan(id, { mode: "interactive", resume })).argv).toEqual([
            id,
            `--resume=${sessionId}`,
          ])
          expect((yield* plan(id, { mode: "interactive", resume, prompt: P })).argv).toEqual([
            id,
            `--resume=${sessionId}`,
            `--prompt-interactive=${P}`,
          ])
          expect((yield* plan(id, { mode: "oneshot", resume, prompt: P })).argv).toEqual([
            id,
            `--resume=${sessionId}`,
            `--prompt=${P}`,
          ])
        }
        const fork = { sessionId, fork: true }
        expect(
          (yield* plan("qwen", { mode: "interactive", resume: fork, prompt: P })).argv,
        ).toEqual(["qwen", `--resume=${sessionId}`, "--fork-session", `--prompt-interactive=${P}`])
        expect((yield* rejected("gemini", { mode: "interactive", resume: fork })).field).toBe(
          "resume.fork",
        )
      }),
  )

  it.effect("codex exec rejects the prompt '-' (it would read stdin)", () =>
    Effect.map(rejected("codex", { mode: "oneshot", prompt: "-" }), (e) =>
      expect(e.field).toBe("prompt"),
    ),
  )

  it.effect("claude rejects a prompt that is exactly one of its command names", () =>
    Effect.gen(function* () {
      // `claude -- doctor` runs `claude doctor` (2.1.331): commander dispatches after `--`.
      for (const mode of ["interactive", "oneshot"] as const) {
        for (const prompt of ["doctor", "update", "help", "mcp"]) {
          const e = yield* rejected("claude", { mode, prompt })
          expect(e.field).toBe("prompt")
          expect(e.message).toContain(`"${prompt}"`)
        }
        // Only the exact name is dispatched; anything else is a prompt.
        for (const prompt of ["doctor ", "run doctor", "Doctor"])
          expect((yield* plan("claude", { mode, prompt })).argv).toEqual(
            expected.claude[mode].with(prompt),
          )
      }
    }),
  )

  it.effect("a NUL in the prompt → ValidationError(prompt)", () =>
    Effect.map(rejected("claude", { mode: "oneshot", prompt: "a\0b" }), (e) =>
      expect(e.field).toBe("prompt"),
    ),
  )

  it.effect("aider interactive rejects a prompt rather than dropping it", () =>
    Effect.map(rejected("aider", { mode: "interactive", prompt: P }), (e) =>
      expect(e.field).toBe("prompt"),
    ),
  )

  it.effect("command given to a non-shell provider → ValidationError(command)", () =>
    Effect.forEach(
      providerIds.filter((id) => id !== "shell"),
      (id) =>
        Effect.map(rejected(id, { mode: "oneshot", prompt: P, command: ["ls"] }), (e) =>
          expect(e.field).toBe("command"),
        ),
    ),
  )

  it.effect("a mode the provider lacks → ValidationError(mode)", () =>
    Effect.map(
      // A request from outside TypeScript (JSON) can carry any string.
      rejected("claude", { mode: "batch" as ProviderMode, prompt: P }),
      (e) => expect(e.field).toBe("mode"),
    ),
  )
})

describe("shell provider", () => {
  it.effect("interactive: the command as given, else $SHELL, else /bin/sh", () =>
    Effect.gen(function* () {
      const command = ["bash", "-lc", "echo 'hi'; $(x)"]
      expect((yield* plan("shell", { mode: "interactive", command })).argv).toEqual(command)
      expect((yield* plan("shell", { mode: "interactive" }, "/usr/bin/zsh")).argv).toEqual([
        "/usr/bin/zsh",
      ])
      expect((yield* plan("shell", { mode: "interactive" })).argv).toEqual(["/bin/sh"])
      expect((yield* plan("shell", { mode: "interactive" }, "")).argv).toEqual(["/bin/sh"])
      // No context: the server's own $SHELL.
      const own = yield* providers.shell.plan({ mode: "interactive" })
      expect(own.argv).toEqual([process.env.SHELL || "/bin/sh"])
    }),
  )

  it.effect("oneshot requires a command", () =>
    Effect.gen(function* () {
      expect((yield* plan("shell", { mode: "oneshot", command: ["true"] })).argv).toEqual(["true"])
      expect((yield* rejected("shell", { mode: "oneshot" })).field).toBe("command")
      expect((yield* rejected("shell", { mode: "oneshot", command: [] })).field).toBe("command")
      expect((yield* rejected("shell", { mode: "oneshot", command: ["a\0"] })).field).toBe(
        "command[0]",
      )
    }),
  )

  it.effect("a prompt is rejected in both modes", () =>
    Effect.forEach(["interactive", "oneshot"] as const, (mode) =>
      Effect.map(rejected("shell", { mode, prompt: P, command: ["true"] }), (e) =>
        expect(e.field).toBe("prompt"),
      ),
    ),
  )
})

describe("accounts", () => {
  const work: AccountProfile = {
    id: "work",
    provider: "claude",
    env: { CLAUDE_CONFIG_DIR: "/home/u/.claude-work" },
  }

  it.effect("account env is merged into the plan", () =>
    Effect.gen(function* () {
      const r = yield* plan("claude", { mode: "oneshot", prompt: P, account: work })
      expect(r.env).toEqual({ CLAUDE_CONFIG_DIR: "/home/u/.claude-work" })
      const codex = yield* plan("codex", {
        mode: "interactive",
        account: { id: "b", provider: "codex", env: { CODEX_HOME: "/x", OPENAI_BASE_URL: "y" } },
      })
      expect(codex.env).toEqual({ CODEX_HOME: "/x", OPENAI_BASE_URL: "y" })
    }),
  )

  it.effect("bad env names or values → ValidationError naming the account env field", () =>
    Effect.gen(function* () {
      const bad = (env: Record<string, string>) =>
        rejected("claude", { mode: "interactive", account: { ...work, env } })
      expect((yield* bad({ "A=B": "x" })).field).toBe("account.env.A=B")
      expect((yield* bad({ "1X": "x" })).field).toBe("account.env.1X")
      expect((yield* bad({ OK: "nul\0" })).field).toBe("account.env.OK")
    }),
  )

  it.effect("an account of another provider → ValidationError(account.provider)", () =>
    Effect.map(rejected("codex", { mode: "interactive", account: work }), (e) =>
      expect(e.field).toBe("account.provider"),
    ),
  )
})
