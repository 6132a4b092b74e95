import { randomBytes } from "node:crypto"
import { constants } from "node:fs"
import { mkdir, open, rename, unlink } from "node:fs/promises"
import { basename, dirname, join } from "node:path"

/**
 * Replaces `path` with `content` (mode 0600; its folder made 0700 if missing) so that a crash
 * leaves the old file or the new one, never a mix: write and fsync a temporary file beside it,
 * rename it over, fsync the folder. For the small JSON files of the data dir (users,
 * schedules, push subscriptions), each rewritten whole.
 */
export const writeFileAtomically = async (path: string, content: string): Promise<void> => {
  const dir = dirname(path)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`)
  const handle = await open(tmp, "wx", 0o600)
  try {
    try {
      await handle.writeFile(content, { encoding: "utf8" })
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, path)
  } catch (error) {
    await unlink(tmp).catch(() => undefined)
    throw error
  }
  const folder = await open(dir, constants.O_RDONLY).catch(() => undefined)
  await folder
    ?.sync()
    .catch(() => undefined)
    .finally(() => folder.close())
}
