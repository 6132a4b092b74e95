import { randomBytes } from "node:crypto"
import { constants } from "node:fs"
import { link, open, unlink } from "node:fs/promises"
import { dirname, join } from "node:path"

/** A secret file in the data dir is unsafe to trust or unreadable; the message says which and why. */
export class SecretFileError extends Error {
  override readonly name = "SecretFileError"
}

/** 32 random bytes, base64url: a token that cannot be guessed and survives a URL unescaped. */
export const generateToken = (): string => randomBytes(32).toString("base64url")

const describeMode = (mode: number): string => `0${(mode & 0o777).toString(8)}`

/**
 * Reads a secret file, refusing one that anybody but its owner could have read or swapped:
 * not a regular file (a symlink, a fifo), readable or writable by group or others, or owned
 * by another user. Opening with O_NOFOLLOW and checking the opened descriptor (not the path)
 * leaves no window between the check and the read. Returns undefined when there is no file.
 */
export const readSecretFile = async (path: string): Promise<string | undefined> => {
  let handle: Awaited<ReturnType<typeof open>>
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === "ENOENT") return undefined
    if (code === "ELOOP") {
      throw new SecretFileError(
        `refusing to read ${path}: it is a symbolic link, not a regular file`,
      )
    }
    throw new SecretFileError(`cannot read ${path}: ${(error as Error).message}`)
  }
  try {
    const stats = await handle.stat()
    if (!stats.isFile()) {
      throw new SecretFileError(`refusing to read ${path}: it is not a regular file`)
    }
    if ((stats.mode & 0o077) !== 0) {
      throw new SecretFileError(
        `refusing to read ${path}: its mode ${describeMode(stats.mode)} lets group or others read or write it; ` +
          `run \`chmod 600 ${path}\` if it is yours, or delete it to have new secrets generated`,
      )
    }
    const uid = process.getuid?.()
    if (uid !== undefined && stats.uid !== uid) {
      throw new SecretFileError(
        `refusing to read ${path}: it is owned by uid ${stats.uid}, not by this user (uid ${uid})`,
      )
    }
    return await handle.readFile({ encoding: "utf8" })
  } finally {
    await handle.close()
  }
}

/**
 * Creates `path` with `content` and mode 0600, atomically and only once: the content is
 * written and fsynced under a temporary name, then hard-linked into place, which fails if
 * another process created the file first (`rename` would silently replace it). Returns
 * false when the file already existed, and the caller reads that one instead.
 */
export const createSecretFileOnce = async (path: string, content: string): Promise<boolean> => {
  const tmp = join(dirname(path), `.${randomBytes(6).toString("hex")}.tmp`)
  const handle = await open(tmp, "wx", 0o600)
  try {
    try {
      await handle.writeFile(content, { encoding: "utf8" })
      await handle.sync()
    } finally {
      await handle.close()
    }
    try {
      await link(tmp, path)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EEXIST") return false
      throw error
    }
  } finally {
    await unlink(tmp).catch(() => undefined)
  }
  // Make the new name durable too; some filesystems refuse fsync on a directory, which is fine.
  const dir = await open(dirname(path), constants.O_RDONLY).catch(() => undefined)
  await dir
    ?.sync()
    .catch(() => undefined)
    .finally(() => dir.close())
  return true
}

/** Reads the secret at `path`, creating it from `generate()` first when there is none. */
export const readOrCreateSecretFile = async (
  path: string,
  generate: () => string,
): Promise<{ readonly content: string; readonly created: boolean }> => {
  const existing = await readSecretFile(path)
  if (existing !== undefined) return { content: existing, created: false }
  const created = await createSecretFileOnce(path, generate())
  const content = await readSecretFile(path)
  if (content === undefined)
    throw new SecretFileError(`${path} vanished right after it was created`)
  return { content, created }
}
