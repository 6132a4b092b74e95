import { Effect } from "effect"
import { invalidRequest, makeProvider, requirePrompt } from "../provider.js"

/*
 * Claude Code's parser (commander) dispatches the subcommand named by the first operand even
 * after `--`: `claude -- doctor` runs `claude doctor`, and `claude -p -- help` prints nothing
 * and exits 0 (2.1.331). These are its top-level commands (those `claude NAME --help`
 * answers for, hidden ones included) and aliases, plus `config` and `migrate-installer` from
 * 1.x. commander matches the exact string: "doctor " or "run doctor" reach the model.
 */
const SUBCOMMANDS: ReadonlySet<string> = new Set([
  "agents",
  "auth",
  "auto-mode",
  "config",
  "design-login",
  "doctor",
  "edit-chrome-settings",
  "edit-hook",
  "edit-memory-settings",
  "edit-permission-rules",
  "edit-sandbox-settings",
  "edit-skill-overrides",
  "gateway",
  "help",
  "import",
  "import-conversations",
  "install",
  "mcp",
  "migrate-installer",
  "plugin",
  "plugins",
  "project",
  "purge",
  "sandbox",
  "setup-token",
  "ultrareview",
  "update",
  "upgrade",
  "workspace-trust",
  "worktree-hook",
])

/** The prompt, unless Claude Code would run it as one of its own commands instead. */
const notASubcommand = (prompt: string) =>
  SUBCOMMANDS.has(prompt)
    ? invalidRequest(
        "prompt",
        `claude would run its "${prompt}" command instead of sending this prompt; add a word`,
      )
    : Effect.succeed(prompt)

/**
 * Claude Code (`@anthropic-ai/claude-code`; checked against 2.1.331's `--help` and real runs).
 * `claude [prompt]` starts the TUI with the prompt as its first message; `-p`/`--print`
 * prints one answer and exits. The prompt follows `--`, so a leading `-` in it is never read
 * as a flag ("--help me" reached the model in both modes); a prompt that is exactly the name
 * of one of its commands is rejected (see SUBCOMMANDS).
 */
export const claude = makeProvider({
  id: "claude",
  name: "Claude Code",
  binary: "claude",
  modes: ["interactive", "oneshot"],
  versionArgs: ["--version"],
  interactivePrompt: true,
  resumes: { fork: true },
  argv: ({ mode, prompt, sessionId, resume }) => {
    // `--session-id UUID` names the transcript file: projects/<cwd slug>/UUID.jsonl. With
    // `--resume` Claude Code takes it only beside `--fork-session` (the fork's new id); a
    // continued session keeps its id and file.
    const named = sessionId === undefined ? [] : ["--session-id", sessionId]
    const session =
      resume === undefined
        ? named
        : resume.fork
          ? ["--resume", resume.sessionId, "--fork-session", ...named]
          : ["--resume", resume.sessionId]
    return mode === "oneshot"
      ? requirePrompt("claude", prompt).pipe(
          Effect.flatMap(notASubcommand),
          Effect.map((p) => ["claude", ...session, "-p", "--", p]),
        )
      : prompt === undefined
        ? Effect.succeed(["claude", ...session])
        : Effect.map(notASubcommand(prompt), (p) => ["claude", ...session, "--", p])
  },
})
