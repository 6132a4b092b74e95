import { writeFileAtomically } from "@geppetto/runner"
import { readSecretFile } from "../auth/secret-files.js"

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
