import { delimiter } from "node:path"

/** Our own secrets: no runner gets the operator's or the viewers' token. */
const SECRETS = new Set(["GEPPETTO_TOKEN", "GEPPETTO_VIEWER_TOKEN"])

/** Set by a tmux the server itself ran inside; a runner's pane gets tmux's own. */
const TMUX_CLIENT = new Set(["TMUX", "TMUX_PANE"])

/** What npm and pnpm set for the script they run, besides `npm_*` (measured with pnpm 12, npm 11). */
const PACKAGE_MANAGER = new Set(["PNPM_SCRIPT_SRC_DIR", "PNPM_PACKAGE_NAME", "INIT_CWD"])

/** Any of these says a package manager launched us (`pnpm geppetto`, `npm run`, `pnpm exec`). */
const LAUNCH_MARKERS = [
  "npm_lifecycle_event",
  "npm_config_user_agent",
  "npm_execpath",
  "PNPM_SCRIPT_SRC_DIR",
]

/** The folders npm and pnpm put in front of `PATH`: every `node_modules/.bin` up the tree, their node-gyp shim. */
const isPrependedEntry = (entry: string): boolean =>
  entry.endsWith("/node_modules/.bin") || entry.endsWith("/node-gyp-bin")

/**
 * The base environment of every runner: the server's own environment as the user had it before a
 * package manager launched the server. Rules, in order:
 * - unset (`undefined`) values and empty names are dropped;
 * - `npm_*` (so `npm_config_*` too), `pnpm_config_*`, `PNPM_SCRIPT_SRC_DIR`, `PNPM_PACKAGE_NAME`,
 *   `INIT_CWD` are dropped, and `NODE` when it is the `npm_node_execpath` npm and pnpm set with it;
 * - when one of `LAUNCH_MARKERS` shows a package-manager launch, the `PATH` entries it put in front
 *   (`…/node_modules/.bin`, `…/node-gyp-bin`) are dropped from the front of `PATH`; without a
 *   launch `PATH` is kept whole, and so is everything else (`PNPM_HOME` is the user's own);
 * - `TMUX`, `TMUX_PANE` (a server started inside tmux) and our tokens are dropped.
 * Geppetto adds nothing, not even a `PATH` entry.
 */
export const runnerEnvironment = (
  env: NodeJS.ProcessEnv | Readonly<Record<string, string | undefined>>,
): Record<string, string> => {
  const launched = LAUNCH_MARKERS.some((name) => env[name] !== undefined)
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || name === "") continue
    if (name.startsWith("npm_") || name.startsWith("pnpm_config_")) continue
    if (PACKAGE_MANAGER.has(name) || TMUX_CLIENT.has(name) || SECRETS.has(name)) continue
    if (name === "NODE" && value === env.npm_node_execpath) continue
    out[name] = value
  }
  if (launched && out.PATH !== undefined) {
    const entries = out.PATH.split(delimiter)
    const firstOwn = entries.findIndex((entry) => !isPrependedEntry(entry))
    out.PATH = (firstOwn === -1 ? [] : entries.slice(firstOwn)).join(delimiter)
  }
  return out
}
