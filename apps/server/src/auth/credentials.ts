import { createHash, createHmac, timingSafeEqual } from "node:crypto"
import type { Role } from "@geppetto/protocol"
import { z } from "zod"
import type { Tokens } from "./tokens.js"

export const SESSION_COOKIE = "geppetto_session"
export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000

const sha256 = (text: string): Buffer => createHash("sha256").update(text, "utf8").digest()

/**
 * Which role a presented token grants, compared in constant time: both sides are hashed
 * to fixed-length digests first, so neither the length nor the first differing byte of a
 * wrong guess changes the time taken, and both roles are always checked.
 */
export const tokenMatcher = (tokens: Tokens) => {
  const operator = sha256(tokens.operator)
  const viewer = sha256(tokens.viewer)
  return (candidate: string): Role | undefined => {
    const digest = sha256(candidate)
    const isOperator = timingSafeEqual(digest, operator)
    const isViewer = timingSafeEqual(digest, viewer)
    return isOperator ? "operator" : isViewer ? "viewer" : undefined
  }
}

/** What a session cookie says, before signing. */
export interface SessionClaims {
  readonly role: Role
  /** Epoch milliseconds after which the cookie is refused. */
  readonly expiresAt: number
  /** Which token the session was made from: `tokenFingerprint` of the role's token then. */
  readonly fingerprint: string
}

const ClaimsJson = z.object({
  r: z.enum(["viewer", "operator"]),
  e: z.number().int().positive(),
  f: z.string().max(64),
})

const mac = (secret: Uint8Array, text: string): Buffer =>
  createHmac("sha256", secret).update(text, "utf8").digest()

/**
 * A keyed digest of a role's token, carried inside the signed cookie: rotating the token
 * changes it, so cookies made with the old token stop working. Keyed with the secret so
 * the cookie reveals nothing about the token itself.
 */
export const tokenFingerprint = (secret: Uint8Array, role: Role, token: string): string =>
  mac(secret, `geppetto-token-fingerprint\u0000${role}\u0000${token}`)
    .subarray(0, 16)
    .toString("base64url")

const VERSION = "v1"

/** `v1.PAYLOAD.SIGNATURE`, PAYLOAD the base64url claims, SIGNATURE HMAC-SHA256 over `v1.PAYLOAD`. */
export const signSession = (secret: Uint8Array, claims: SessionClaims): string => {
  const payload = Buffer.from(
    JSON.stringify({ r: claims.role, e: claims.expiresAt, f: claims.fingerprint }),
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
  return { role: claims.data.r, expiresAt: claims.data.e, fingerprint: claims.data.f }
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
