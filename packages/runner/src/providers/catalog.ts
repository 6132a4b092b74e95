import { Clock, Effect } from "effect"
import type { ProviderMode } from "./provider.js"
import { detectInstalled, providerIds, providers } from "./registry.js"

/** One entry of the provider list the dashboard's picker shows. */
export interface ProviderListing {
  readonly id: string
  readonly name: string
  readonly installed: boolean
  readonly modes: ReadonlyArray<ProviderMode>
  readonly version?: string
}

/** How long a probe result is reused: `--version` of a node CLI costs a second of CPU. */
const TTL_MS = 60_000

/**
 * Every provider with whether it is installed (on `PATH`) and its version; probed in
 * parallel, then cached for a minute so a busy dashboard does not fork CLIs on every load.
 */
export const makeProviderCatalog = (env: { readonly PATH?: string | undefined }) => {
  let cached: { at: number; list: ReadonlyArray<ProviderListing> } | undefined
  const probe = Effect.forEach(
    providerIds,
    (id) =>
      Effect.map(detectInstalled(providers[id], env), (found): ProviderListing => {
        const p = providers[id]
        return {
          id,
          name: p.name,
          // `shell` runs any argv: there is always /bin/sh.
          installed: id === "shell" ? true : found.installed,
          modes: p.modes,
          ...(found.version !== undefined ? { version: found.version } : {}),
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
