import type { RunnerSummary, Workspace } from "@geppetto/protocol"

/**
 * The branch a workspace's changes go back to: its `base` when that is a branch, undefined
 * when it is a commit id (the server stores a commit when HEAD was detached at the start).
 */
export const baseBranch = (workspace: Workspace): string | undefined => {
  const { base, baseCommit } = workspace
  if (base === "" || base === baseCommit) return undefined
  if (/^[0-9a-f]{4,64}$/.test(base) && baseCommit.startsWith(base)) return undefined
  return base
}

/** A commit id as people read it. */
export const shortCommit = (commit: string): string => commit.slice(0, 8)

/** The project a runner belongs to on the board: its repository, else its folder. */
export const projectOf = (runner: RunnerSummary): string => runner.workspace?.repo ?? runner.cwd

/** The last segment of a folder path, for a heading (`/srv/app` → `app`). */
export const folderName = (path: string): string => {
  const trimmed = path.replace(/\/+$/, "")
  return trimmed.slice(trimmed.lastIndexOf("/") + 1) || "/"
}
