import { readdirSync, statSync } from "node:fs"
import { join } from "node:path"

/**
 * The newest modification time of any file under `path` (or of `path`, a file): is a build
 * older than what it is built from? (e2e/test/helpers/server.ts has its own: another package.)
 */
export const newestChange = (path: string): number => {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  return readdirSync(path, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .reduce(
      (newest, entry) => Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs),
      0,
    )
}
