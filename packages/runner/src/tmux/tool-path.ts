import { accessSync, constants } from "node:fs"
import { delimiter, join } from "node:path"

const found = new Map<string, string>()

/**
 * Absolute path of a system tool (`mv`, `split`) as this server's PATH finds it, falling
 * back to the usual folders. Hooks and the log writer run in the session's environment,
 * which carries the runner's own env: a runner started with `PATH=/nonexistent` must still
 * have its output logged and its exit recorded.
 */
export const toolPath = (name: string): string => {
  const cached = found.get(name)
  if (cached !== undefined) return cached
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/bin", "/bin"]
  for (const dir of dirs) {
    if (!dir.startsWith("/")) continue
    const candidate = join(dir, name)
    try {
      accessSync(candidate, constants.X_OK)
      found.set(name, candidate)
      return candidate
    } catch {
      // not here
    }
  }
  return name
}
