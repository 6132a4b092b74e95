import { randomBytes } from "node:crypto"
import { constants } from "node:fs"
import { mkdir, open, rename, unlink } from "node:fs/promises"
import { basename, dirname, join } from "node:path"
import { readSecretFile } from "../auth/secret-files.js"

/**
 * Replaces `path` with `content` (mode 0600) so that a crash leaves the old file or the new one,
 * never a mix: write and fsync a temporary file beside it, rename it over, fsync the folder.
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

/** Reads a JSON file that only its owner may read (see `readSecretFile`); `undefined` if none. */
export const readPrivateJson = async (path: string): Promise<unknown> => {
  const text = await readSecretFile(path)
  if (text === undefined) return undefined
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`)
  }
}

/**
 * Serialized saves of one file: a save asked for while another waits to start is folded into
 * it (it writes the state as of when it starts, which includes both changes).
 */
export class FileSaver {
  private saving: Promise<void> = Promise.resolve()
  private queued = false

  constructor(
    private readonly path: string | undefined,
    private readonly render: () => string,
    private readonly onError: (error: unknown) => void,
  ) {}

  save(): Promise<void> {
    const path = this.path
    if (path === undefined) return Promise.resolve()
    if (this.queued) return this.saving
    this.queued = true
    const next = this.saving
      .catch(() => undefined)
      .then(() => {
        this.queued = false
        return writeFileAtomically(path, this.render())
      })
      .catch((error: unknown) => this.onError(error))
    this.saving = next
    return next
  }

  flush(): Promise<void> {
    return this.saving
  }
}
