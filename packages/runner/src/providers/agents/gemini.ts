import { Effect } from "effect"
import { makeProvider, requirePrompt } from "../provider.js"

/**
 * Gemini CLI and its fork Qwen Code share a yargs command line (checked against the `--help`
 * and real runs of `@google/gemini-cli` 0.61.0 and `@qwen-code/qwen-code` 0.24.4):
 * `-i`/`--prompt-interactive` starts the TUI with a first message, `-p`/`--prompt` runs once.
 * The prompt is a flag's value, in the `--flag=value` form: yargs takes it verbatim, even
 * when it starts with `-` ("--help me" reached the model in both modes of both CLIs). Their
 * positional prompt is no substitute: words after `--` are dropped, not made the prompt (both
 * started with an empty prompt), and without `--` a leading `-` would be read as a flag.
 * Qwen Code 0.24 marks `-p` deprecated in favour of that positional prompt (which, unlike
 * Gemini's, runs once); it still works. Gemini's `-p` in a folder it does not trust exits 55
 * unless given `--skip-trust`, which is not added here, as it waives a check.
 *
 * Both continue a session with `--resume=ID`, in either mode, where the session was started
 * (its folder; Gemini keys its sessions by the folder's hash): the same id, the same file, so
 * the transcript reader keeps reading it. Gemini 0.61 takes a full id there (besides `latest`
 * or an index) and has no fork. Qwen Code forks with `--resume=ID --fork-session`: a new file
 * under an id of its own, whose copied records say `forkedFrom` (the transcript reader finds
 * the fork by that, `findQwenSession`).
 */
const geminiFamily = (id: string, name: string, forks: boolean) =>
  makeProvider({
    id,
    name,
    binary: id,
    modes: ["interactive", "oneshot"],
    versionArgs: ["--version"],
    interactivePrompt: true,
    resumes: { fork: forks },
    argv: ({ mode, prompt, resume }) => {
      const from =
        resume === undefined
          ? []
          : [`--resume=${resume.sessionId}`, ...(resume.fork ? ["--fork-session"] : [])]
      return mode === "oneshot"
        ? Effect.map(requirePrompt(id, prompt), (p) => [id, ...from, `--prompt=${p}`])
        : Effect.succeed(
            prompt === undefined ? [id, ...from] : [id, ...from, `--prompt-interactive=${prompt}`],
          )
    },
  })

export const gemini = geminiFamily("gemini", "Gemini CLI", false)
export const qwen = geminiFamily("qwen", "Qwen Code", true)
