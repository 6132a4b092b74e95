import { join } from "node:path"
import webpush from "web-push"
import { z } from "zod"
import { readOrCreateSecretFile, SecretFileError } from "../auth/secret-files.js"

export const VAPID_FILE = "vapid.json"

/** The server's VAPID key pair (RFC 8292): P-256, base64url, as `web-push` makes them. */
export interface VapidKeys {
  readonly publicKey: string
  readonly privateKey: string
}

const VapidFile = z.object({
  version: z.literal(1),
  publicKey: z.string().regex(/^[A-Za-z0-9_-]{87}$/),
  privateKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
})

const generate = (): string => {
  const keys = webpush.generateVAPIDKeys()
  return `${JSON.stringify({ version: 1, publicKey: keys.publicKey, privateKey: keys.privateKey }, null, 2)}\n`
}

/**
 * The VAPID keys in `DATA_DIR/vapid.json` (0600), made once on first use: browsers tie each
 * subscription to the public key, so a new key pair would orphan every subscription. Without a
 * data dir (tests), a pair for this process only.
 */
export const loadVapidKeys = async (dataDir: string | undefined): Promise<VapidKeys> => {
  if (dataDir === undefined) {
    const keys = webpush.generateVAPIDKeys()
    return { publicKey: keys.publicKey, privateKey: keys.privateKey }
  }
  const path = join(dataDir, VAPID_FILE)
  const { content } = await readOrCreateSecretFile(path, generate)
  let parsed: unknown
  try {
    parsed = JSON.parse(content)
  } catch {
    throw new SecretFileError(
      `${path} is not valid JSON; delete it to have new VAPID keys made (browsers then subscribe again)`,
    )
  }
  const keys = VapidFile.safeParse(parsed)
  if (!keys.success) {
    throw new SecretFileError(
      `${path} does not hold VAPID keys; delete it to have new ones made (browsers then subscribe again)`,
    )
  }
  return { publicKey: keys.data.publicKey, privateKey: keys.data.privateKey }
}
