import { randomBytes } from "node:crypto"
import { join } from "node:path"
import { z } from "zod"
import { generateToken, readOrCreateSecretFile, SecretFileError } from "./secret-files.js"

/** The two bearer tokens: `operator` may do everything, `viewer` reads and watches. */
export interface Tokens {
  readonly operator: string
  readonly viewer: string
}

/** Where each token came from, so the banner prints only what the user did not choose. */
export interface LoadedTokens {
  readonly tokens: Tokens
  readonly source: { readonly operator: "env" | "file"; readonly viewer: "env" | "file" }
  /** The file generated tokens live in (whether or not it was used). */
  readonly file: string
  /** True when this start generated the file. */
  readonly created: boolean
}

export const TOKENS_FILE = "tokens.json"
export const SESSION_SECRET_FILE = "session-secret"
/** Below this a user-chosen token is guessable by a patient script (only logins are rate-limited). */
export const MIN_RECOMMENDED_TOKEN_LENGTH = 16

const TokenText = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces")
const TokensFile = z.object({ operator: TokenText, viewer: TokenText })

const envToken = (env: NodeJS.ProcessEnv, name: string): string | undefined => {
  const value = env[name]
  if (value === undefined || value === "") return undefined
  const parsed = TokenText.safeParse(value)
  if (!parsed.success) {
    throw new SecretFileError(`${name} ${parsed.error.issues[0]?.message ?? "is invalid"}`)
  }
  return parsed.data
}

/**
 * The operator and viewer tokens: `GEPPETTO_TOKEN` / `GEPPETTO_VIEWER_TOKEN` when set, else
 * the ones generated once into `DATA_DIR/tokens.json` (mode 0600). The file is read only
 * when an env token is missing, and refused if group or others could read it.
 */
export const loadTokens = async (
  dataDir: string,
  env: NodeJS.ProcessEnv,
): Promise<LoadedTokens> => {
  const file = join(dataDir, TOKENS_FILE)
  const fromEnv = {
    operator: envToken(env, "GEPPETTO_TOKEN"),
    viewer: envToken(env, "GEPPETTO_VIEWER_TOKEN"),
  }
  let stored: Tokens | undefined
  let created = false
  if (fromEnv.operator === undefined || fromEnv.viewer === undefined) {
    const result = await readOrCreateSecretFile(file, () =>
      JSON.stringify({ operator: generateToken(), viewer: generateToken() }, null, 2),
    )
    created = result.created
    let json: unknown
    try {
      json = JSON.parse(result.content)
    } catch {
      throw new SecretFileError(`${file} is not valid JSON; delete it to have new tokens generated`)
    }
    const parsed = TokensFile.safeParse(json)
    if (!parsed.success) {
      throw new SecretFileError(
        `${file} does not hold { "operator": TOKEN, "viewer": TOKEN }; delete it to have new tokens generated`,
      )
    }
    stored = parsed.data
  }
  const operator = fromEnv.operator ?? stored?.operator
  const viewer = fromEnv.viewer ?? stored?.viewer
  if (operator === undefined || viewer === undefined) {
    throw new SecretFileError("unreachable: a token is missing after loading")
  }
  if (operator === viewer) {
    throw new SecretFileError(
      "the operator and viewer tokens are the same: a viewer could then operate; set GEPPETTO_VIEWER_TOKEN to another value",
    )
  }
  return {
    tokens: { operator, viewer },
    source: {
      operator: fromEnv.operator === undefined ? "file" : "env",
      viewer: fromEnv.viewer === undefined ? "file" : "env",
    },
    file,
    created,
  }
}

/**
 * The key that signs session cookies, generated once into `DATA_DIR/session-secret` (0600),
 * so sessions survive a restart. Deleting the file logs every browser out.
 */
export const loadSessionSecret = async (dataDir: string): Promise<Uint8Array> => {
  const file = join(dataDir, SESSION_SECRET_FILE)
  const { content } = await readOrCreateSecretFile(file, () =>
    randomBytes(32).toString("base64url"),
  )
  const secret = Buffer.from(content.trim(), "base64url")
  if (secret.length < 32) {
    throw new SecretFileError(
      `${file} holds fewer than 32 bytes of key; delete it to have a new one generated`,
    )
  }
  return secret
}
