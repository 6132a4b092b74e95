import type { AppOptions } from "../../src/app.js"

/**
 * Fixed credentials for tests that build the app: known tokens and a 32-byte cookie key.
 * `operator` is the server's own token, so it is the built-in user `owner`, an admin (an admin
 * passes every operator route); a plain operator is a named user a test adds.
 */
export const testTokens = {
  operator: "operator-token-for-tests-0123456789",
  viewer: "viewer-token-for-tests-0123456789",
} as const

export const testSecret: Uint8Array = new Uint8Array(32).fill(7)

export const testAuth: AppOptions["auth"] = { tokens: testTokens, secret: testSecret }

/** Request headers that authenticate as `role`. */
export const bearer = (role: keyof typeof testTokens): { authorization: string } => ({
  authorization: `Bearer ${testTokens[role]}`,
})
