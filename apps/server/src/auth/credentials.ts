import { createHmac, timingSafeEqual } from "node:crypto"
import { z } from "zod"

export const SESSION_COOKIE = "geppetto_session"
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000

/** What a session cookie says, before signing. */
export interface SessionClaims {
  /** The user the session belongs to; their role is read from the user store on each request. */
  readonly user: string
  /** Epoch milliseconds after which the cookie is refused. */
  readonly expiresAt: number
  /** Which token the session was made from: `tokenFingerprint` of the user's token hash then. */
  readonly fingerprint: string
}

const ClaimsJson = z.object({
  u: z.string().max(64),
  e: z.number().int().positive(),
  f: z.string().max(64),
})

const mac = (secret: Uint8Array, text: string): Buffer =>
  createHmac("sha256", secret).update(text, "utf8").digest()

/**
 * A keyed digest of a user's current token hash, carried inside the signed cookie: removing
 * the user or giving them a new token changes (or drops) it, so cookies made before stop
 * working at once. Keyed with the secret so the cookie reveals nothing about the token.
 */
export const tokenFingerprint = (secret: Uint8Array, user: string, tokenHash: string): string =>
  mac(secret, `geppetto-user-fingerprint\u0000${user}\u0000${tokenHash}`)
    .subarray(0, 16)
    .toString("base64url")

// v2: the cookie names a user (v1 carried a role); a v1 cookie no longer verifies.
const VERSION = "v2"

/** `v2.PAYLOAD.SIGNATURE`, PAYLOAD the base64url claims, SIGNATURE HMAC-SHA256 over `v2.PAYLOAD`. */
export const signSession = (secret: Uint8Array, claims: SessionClaims): string => {
  const payload = Buffer.from(
    JSON.stringify({ u: claims.user, e: claims.expiresAt, f: claims.fingerprint }),
    "utf8",
  ).toString("base64url")
  const signed = `${VERSION}.${payload}`
  return `${signed}.${mac(secret, signed).toString("base64url")}`
}

/** The claims of a cookie value whose signature checks out; undefined for anything else. */
export const verifySession = (secret: Uint8Array, value: string): SessionClaims | undefined => {
  const parts = value.split(".")
  if (parts.length !== 3 || parts[0] !== VERSION) return undefined
  const [, payload = "", signature = ""] = parts
  const expected = mac(secret, `${VERSION}.${payload}`)
  const given = Buffer.from(signature, "base64url")
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"))
  } catch {
    return undefined
  }
  const claims = ClaimsJson.safeParse(json)
  if (!claims.success) return undefined
  return { user: claims.data.u, expiresAt: claims.data.e, fingerprint: claims.data.f }
}

/** Every value of cookie `name` in a `Cookie` header (a browser may send duplicates). */
export const cookieValues = (header: string | undefined, name: string): ReadonlyArray<string> => {
  if (header === undefined) return []
  const values: Array<string> = []
  for (const part of header.split(";")) {
    const eq = part.indexOf("=")
    if (eq === -1 || part.slice(0, eq).trim() !== name) continue
    const raw = part.slice(eq + 1).trim()
    values.push(raw.startsWith('"') && raw.endsWith('"') ? raw.slice(1, -1) : raw)
  }
  return values
}

/** A `Set-Cookie` value for the session: never readable by scripts, never sent cross-site. */
export const sessionCookie = (
  value: string,
  options: { readonly secure: boolean; readonly maxAgeSeconds: number },
): string =>
  [
    `${SESSION_COOKIE}=${value}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    `Max-Age=${options.maxAgeSeconds}`,
    ...(options.secure ? ["Secure"] : []),
  ].join("; ")
