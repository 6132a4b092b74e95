import { execFile } from "node:child_process"
import { constants } from "node:fs"
import { access, stat } from "node:fs/promises"
import { basename, delimiter, isAbsolute, join } from "node:path"
import { Effect } from "effect"
import { NotFoundError } from "../domain/errors.js"
import { runnerEnvironment } from "../domain/runner-environment.js"
import { aider } from "./agents/aider.js"
import { claude } from "./agents/claude.js"
import { codex } from "./agents/codex.js"
import { cursorAgent } from "./agents/cursor-agent.js"
import { gemini, qwen } from "./agents/gemini.js"
import { opencode } from "./agents/opencode.js"
import { shell } from "./agents/shell.js"
import type { Provider } from "./provider.js"

/** Ids match the attention rule files (`loadRuleSet(provider)`), so a provider finds its rules. */
export const providerIds = [
  "claude",
  "codex",
  "gemini",
  "opencode",
  "qwen",
  "cursor-agent",
  "aider",
  "shell",
] as const
export type ProviderId = (typeof providerIds)[number]

export const providers: Readonly<Record<ProviderId, Provider>> = {
  claude,
  codex,
  gemini,
  opencode,
  qwen,
  "cursor-agent": cursorAgent,
  aider,
  shell,
}

const isProviderId = (id: string): id is ProviderId =>
  (providerIds as ReadonlyArray<string>).includes(id)

export const getProvider = (id: string): Effect.Effect<Provider, NotFoundError> =>
  isProviderId(id)
    ? Effect.succeed(providers[id])
    : Effect.fail(
        new NotFoundError({
          resource: "provider",
          id,
          message: `unknown provider ${JSON.stringify(id.slice(0, 100))} (known: ${providerIds.join(", ")})`,
        }),
      )

export interface Installation {
  readonly installed: boolean
  readonly path?: string
  readonly version?: string
}

const VERSION_TIMEOUT_MS = 3_000

const isExecutableFile = async (path: string): Promise<boolean> => {
  try {
    await access(path, constants.X_OK)
    return (await stat(path)).isFile()
  } catch {
    return false
  }
}

/** The first executable `binary` on PATH. Relative and empty entries (the cwd) are skipped. */
const findOnPath = async (binary: string, PATH: string | undefined) => {
  for (const dir of (PATH ?? "").split(delimiter)) {
    if (dir === "" || !isAbsolute(dir)) continue
    const candidate = join(dir, binary)
    if (await isExecutableFile(candidate)) return candidate
  }
  return undefined
}

/** First non-empty output line of `path ...args`, or undefined on any failure or timeout. */
const probeVersion = (path: string, args: ReadonlyArray<string>, PATH: string | undefined) =>
  new Promise<string | undefined>((resolve) => {
    // A runner's environment (no tokens, no package-manager launch variables), with PATH as
    // given: `#!/usr/bin/env node` scripts resolve their interpreter through it.
    const base = runnerEnvironment(process.env)
    const env = PATH === undefined ? base : { ...base, PATH }
    let child: ReturnType<typeof execFile>
    try {
      child = execFile(
        path,
        [...args],
        { timeout: VERSION_TIMEOUT_MS, env, encoding: "utf8", maxBuffer: 64 * 1024 },
        (error, stdout, stderr) => {
          if (error !== null) return resolve(undefined)
          const line = `${stdout}\n${stderr}`
            .split(/\r?\n/)
            .map((l) => l.trim())
            .find((l) => l !== "")
          resolve(line)
        },
      )
    } catch {
      // execFile throws at once for a path it cannot even try (EACCES on some systems).
      return resolve(undefined)
    }
    // A CLI that prompts on stdin would otherwise sit until the timeout.
    child.stdin?.end()
  })

/** Whether `provider.binary` is on PATH, where, and what `--version` (or its args) prints. */
export const detectInstalled = (
  provider: Pick<Provider, "binary" | "versionArgs">,
  env: { readonly PATH?: string | undefined },
): Effect.Effect<Installation> =>
  Effect.promise(async (): Promise<Installation> => {
    const path = await findOnPath(provider.binary, env.PATH)
    if (path === undefined) return { installed: false }
    if (provider.versionArgs.length === 0) return { installed: true, path }
    const version = await probeVersion(path, provider.versionArgs, env.PATH)
    return version === undefined ? { installed: true, path } : { installed: true, path, version }
  })

/**
 * The provider of an adopted pane from tmux's `pane_current_command`: an exact binary name
 * match, else `shell` (an agent run through `node` cannot be told apart by name alone).
 */
export const detectFromCommand = (paneCurrentCommand: string): ProviderId => {
  const name = basename(paneCurrentCommand.trim())
  const match = providerIds.find((id) => id !== "shell" && providers[id].binary === name)
  return match ?? "shell"
}
