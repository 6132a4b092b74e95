import type { ProviderInfo, RunnerMode } from "@geppetto/protocol"

/** What both start forms ask for: *Start a runner* and *Add a schedule* (its runs' start). */
export interface StartFields {
  readonly provider: string
  readonly mode: RunnerMode
  /** An agent's first message; ignored for the shell. */
  readonly prompt: string
  /** The shell's command line; ignored for an agent. */
  readonly command: string
  readonly cwd: string
  /** The runner's name (a schedule's runs get it plus their date and time). */
  readonly name: string
}

/**
 * The start request's part from what was typed, to be checked by the protocol's schema: the
 * shell runs its command line with `sh -c` (none: an interactive shell), an agent takes the
 * prompt, and an empty field is left out so the server's default applies. A prompt is kept as
 * typed; the other fields are trimmed.
 */
export const startFields = (fields: StartFields): Record<string, unknown> => {
  const start: Record<string, unknown> = { provider: fields.provider, mode: fields.mode }
  if (fields.provider === "shell") {
    if (fields.command.trim() !== "") start.command = ["sh", "-c", fields.command]
  } else if (fields.prompt.trim() !== "") start.prompt = fields.prompt
  if (fields.cwd.trim() !== "") start.cwd = fields.cwd.trim()
  if (fields.name.trim() !== "") start.name = fields.name.trim()
  return start
}

/** The mode to keep once `provider` is chosen: the one chosen when it offers it, else its first. */
export const modeFor = (provider: ProviderInfo | undefined, mode: RunnerMode): RunnerMode =>
  provider === undefined || provider.modes.includes(mode)
    ? mode
    : (provider.modes[0] ?? "interactive")
