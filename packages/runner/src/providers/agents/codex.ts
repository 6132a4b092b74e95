import { Effect } from "effect"
import { invalidRequest, makeProvider, requirePrompt } from "../provider.js"

/**
 * Codex CLI (`@openai/codex`; checked against 0.169.0's `--help` and real runs).
 * `codex [PROMPT]` starts the TUI with a first message; `codex exec PROMPT` runs once and
 * exits. Its parser (clap) ends options at `--`, so the prompt follows `--`: "--help me",
 * "login" and "review" after it all reached the model as prompts, not as flags or commands.
 * `codex exec` outside a git repository exits 1 ("Not inside a trusted directory and
 * --skip-git-repo-check was not specified"); the flag is not added here, as it waives a check.
 */
export const codex = makeProvider({
  id: "codex",
  name: "Codex CLI",
  binary: "codex",
  modes: ["interactive", "oneshot"],
  versionArgs: ["--version"],
  interactivePrompt: true,
  // `codex resume SESSION_ID [PROMPT]` continues a session in the TUI; it has no fork.
  resumes: { fork: false },
  argv: ({ mode, prompt, resume }) =>
    resume !== undefined
      ? mode === "oneshot"
        ? invalidRequest("mode", "codex resumes a session interactively only")
        : Effect.succeed(
            prompt === undefined
              ? ["codex", "resume", resume.sessionId]
              : ["codex", "resume", resume.sessionId, "--", prompt],
          )
      : mode === "oneshot"
        ? Effect.flatMap(requirePrompt("codex", prompt), (p) =>
            // `codex exec -` reads the prompt from stdin, which would hang on the pane's tty.
            p === "-"
              ? invalidRequest(
                  "prompt",
                  'codex exec reads "-" as "prompt from stdin"; give a real prompt',
                )
              : Effect.succeed(["codex", "exec", "--", p]),
          )
        : Effect.succeed(prompt === undefined ? ["codex"] : ["codex", "--", prompt]),
})
