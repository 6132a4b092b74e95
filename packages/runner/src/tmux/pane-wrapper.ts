import { Duration, Effect, Schedule } from "effect"
import { procCommandLine } from "../monitor/proc-scan.js"
import { childPids } from "../monitor/process-tree.js"
import { quoteShellArg } from "./quote.js"
import { toolPath } from "./tool-path.js"

/**
 * The pane's own process: waits on the start gate (FIFO in `$0`), then runs the command as its
 * child instead of `exec`ing it. tmux answers a SIGSTOP of a pane's process with SIGCONT
 * (server_child_stopped), so only a child can be paused; the wrapper is that child's parent.
 * It ignores nothing the command sees (a trapped signal is reset to default on exec) and sits
 * out INT/TERM/QUIT while the command decides; then it ends the way the command did,
 * re-raising a fatal signal (status 129–159) on itself so tmux records the signal, not 128+N.
 * Not HUP: when tmux goes (`kill-server`, a crash) the kernel hangs up only the session
 * leader, this wrapper, and hangs up the command's process group only once the leader is
 * gone. A wrapper sitting HUP out kept every command running with no terminal (measured:
 * ~1,000 processes left behind by a benchmark's killed tmux servers).
 *
 * After the command it waits `EXIT_SETTLE_SECONDS` before it ends. The kernel hands a pty's
 * writes to the reading side from a worker thread; tmux, told of the pane's exit, asks the
 * pty how much is unread (`FIONREAD`), which does not count bytes still waiting for that
 * worker, and closes the pane with them. On a machine short of CPU the last few KB of a
 * command's output were lost that way (plain tmux 3.3a with two busy loops: 8 of 90 panes
 * printing 1.5 MB, `bench/repro-tmux-lost-tail.sh`; the log test "keeps the last bytes ..."
 * fails 5 runs in 5 without the wait). 5 ms already kept every byte there; 50 ms was the
 * margin until a clean-clone CI run, the whole suite beside the test's busy loops, lost 1.9 KB
 * of one pane's 245 KB with it: 100 ms now, paid once per exit.
 */
const EXIT_SETTLE_SECONDS = "0.1"

/** How the script begins: what tells our wrapper apart from a shell in an adopted pane. */
const SCRIPT_START = 'read _ <"$0"; trap : INT TERM QUIT; '

/**
 * Carries the spawn's `SHELL` past tmux, which sets `SHELL` to its `default-shell` after the
 * session's environment (spawn.c, tmux 3.3a); the wrapper puts it back and `env -u` drops the
 * carrier. A name no spawn may use for anything else.
 */
export const SHELL_CARRIER = "GEPPETTO_PANE_SHELL"

/**
 * What tmux sets in every pane itself, over the session's environment (spawn.c, tmux 3.3a):
 * the terminal's description and where the pane is. These stay tmux's.
 */
const TMUX_OWN = new Set(["TERM", "TERM_PROGRAM", "TERM_PROGRAM_VERSION", "TMUX", "TMUX_PANE"])

/**
 * The names to remove from the pane's environment so that it is exactly `env` (plus `TMUX_OWN`):
 * tmux starts a pane with its global environment (from whichever process started that server),
 * then the session's (`new-session -e`, all of `env`), then `SHELL` and, when missing, `PATH`.
 * `globalNames` are the global environment's names (`show-environment -g`).
 */
export const namesToUnset = (
  env: Readonly<Record<string, string>>,
  globalNames: Iterable<string>,
): ReadonlyArray<string> => {
  const names = new Set([...globalNames, "SHELL", "PATH"])
  if (env.SHELL !== undefined) names.add(SHELL_CARRIER)
  // `env -u` refuses an empty name or one with `=`; neither can be in an environment anyway.
  return [...names].filter(
    (name) =>
      name !== "" && !name.includes("=") && !TMUX_OWN.has(name) && !Object.hasOwn(env, name),
  )
}

/**
 * The wrapper's arguments after the gate: `argv`, run through `env -u NAME ...` when there are
 * names to remove. Names only: values never appear on a command line (`/proc/PID/cmdline` is
 * readable by every user), they reach the pane through `new-session -e` on the control client's
 * stdin. `env` takes a leading `NAME=VALUE` word as an assignment even after `--`, so a command
 * whose first word holds `=` goes through `sh -c 'exec "$@"'`, which runs it as the wrapper would.
 */
export const paneCommandArgs = (
  argv: ReadonlyArray<string>,
  unset: ReadonlyArray<string>,
): ReadonlyArray<string> => {
  if (unset.length === 0) return argv
  const first = argv[0] ?? ""
  return [
    toolPath("env"),
    ...unset.flatMap((name) => ["-u", name]),
    "--",
    ...(first.includes("=") ? ["/bin/sh", "-c", 'exec "$@"', "sh"] : []),
    ...argv,
  ]
}

/** How often the wait for the command looks at the process table. */
const LOOK_EVERY = Duration.millis(20)

let script: string | undefined
/**
 * The wrapper's script (`/bin/sh -c`), with `sleep` by absolute path: the runner's PATH may lack
 * it. `SHELL` assigned here stays exported (it came from the environment).
 */
export const paneWrapperScript = (): string => {
  script ??=
    `${SCRIPT_START}[ -z "\${${SHELL_CARRIER}+x}" ] || SHELL=$${SHELL_CARRIER}; "$@"; s=$?; ` +
    `${quoteShellArg(toolPath("sleep"))} ${EXIT_SETTLE_SECONDS} 2>/dev/null; trap - INT TERM QUIT; ` +
    'if [ "$s" -gt 128 ] && [ "$s" -lt 160 ]; then kill -$((s - 128)) $$; fi; exit "$s"'
  return script
}

const commandLineOf = (pid: number): string | undefined => {
  try {
    return procCommandLine(pid)
  } catch {
    return undefined
  }
}

/**
 * Waits (at most `maxMs`) until the wrapper in pane process `panePid` runs its command: a
 * child that is no longer a copy of the wrapper (it has `exec`ed). A C-c that lands before
 * then is lost: the wrapper sits it out, and a child caught between fork and exec takes it
 * with the wrapper's handler, which its `exec` then drops. So `terminate` right after a start
 * waited out its whole grace and ended the runner with SIGTERM. Returns at once for a pane
 * whose process is not our wrapper (an adopted shell) or is gone.
 * A child running `env -u ...` (see `paneCommandArgs`) counts as the command: it has every
 * signal at its default, so a C-c there ends it as it would end the command, and it is the
 * same process that `exec`s the command, so a pause holds the command before it starts.
 */
export const awaitWrapperCommand = (panePid: number, maxMs: number): Effect.Effect<void> =>
  Effect.suspend(() => {
    const wrapper = commandLineOf(panePid)
    if (wrapper === undefined || !wrapper.startsWith(`/bin/sh\0-c\0${SCRIPT_START}`)) {
      return Effect.void
    }
    const started = Effect.map(
      Effect.promise(() => childPids(panePid)),
      (children) =>
        // A zombie child (the command already ended) has no command line: it ran too.
        children.some((child) => commandLineOf(child) !== wrapper) ||
        commandLineOf(panePid) === undefined,
    )
    return started.pipe(
      Effect.repeat({ until: (done) => done, schedule: Schedule.spaced(LOOK_EVERY) }),
      Effect.timeout(Duration.millis(maxMs)),
      Effect.ignore,
    )
  })
