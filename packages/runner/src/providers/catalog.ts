import { Clock, Effect } from "effect"
import { runnerEnvironment } from "../domain/runner-environment.js"
import type { ProviderMode } from "./provider.js"
import { detectInstalled, providerIds, providers } from "./registry.js"

/** One entry of the provider list the dashboard's picker shows. */
export interface ProviderListing {
  readonly id: string
  readonly name: string
  readonly installed: boolean
  readonly modes: ReadonlyArray<ProviderMode>
  readonly version?: string
  /** Whether a finished runner of it can be continued, and forked (`Provider.resumes`). */
  readonly resumes?: { readonly fork: boolean }
}

/** How long a probe result is reused: `--version` of a node CLI costs a second of CPU. */
const TTL_MS = 60_000

/**
 * Every provider with whether it is installed and its version; probed in parallel, then cached
 * for a minute so a busy dashboard does not fork CLIs on every load. `env` is the server's
 * environment: "installed" is looked up on the `PATH` its runners get (`runnerEnvironment`), so
 * a provider listed as installed is one a runner can start.
 */
export const makeProviderCatalog = (env: Readonly<Record<string, string | undefined>>) => {
  const runnerPath = { PATH: runnerEnvironment(env).PATH }
  let cached: { at: number; list: ReadonlyArray<ProviderListing> } | undefined
  const probe = Effect.forEach(
    providerIds,
    (id) =>
      Effect.map(detectInstalled(providers[id], runnerPath), (found): ProviderListing => {
        const p = providers[id]
        return {
          id,
          name: p.name,
          // `shell` runs any argv: there is always /bin/sh.
          installed: id === "shell" ? true : found.installed,
          modes: p.modes,
          ...(found.version !== undefined ? { version: found.version } : {}),
          ...(p.resumes !== undefined ? { resumes: { fork: p.resumes.fork } } : {}),
        }
      }),
    { concurrency: "unbounded" },
  )
  return {
    list: Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      if (cached !== undefined && now - cached.at < TTL_MS) return cached.list
      const list = yield* probe
      cached = { at: now, list }
      return list
    }),
  }
}
