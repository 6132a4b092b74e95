import { createHash } from "node:crypto"
import { readdir, readFile } from "node:fs/promises"
import { join } from "node:path"
import type { FastifyInstance } from "fastify"

const INLINE_SCRIPT = /<script\b([^>]*)>([\s\S]*?)<\/script\s*>/gi
/** HTML files scanned at most: the dashboard has a handful; a runaway folder must not stall start. */
const MAX_HTML_FILES = 500

/**
 * CSP source expressions (`'sha256-…'`) for every inline `<script>` in `html`. The hash is
 * over the exact text between the tags, as browsers compute it. Scripts with `src` are
 * covered by `'self'` and skipped.
 */
export const inlineScriptHashes = (html: string): ReadonlyArray<string> => {
  const hashes: Array<string> = []
  for (const match of html.matchAll(INLINE_SCRIPT)) {
    const attributes = match[1] ?? ""
    if (/\bsrc\s*=/i.test(attributes)) continue
    const body = match[2] ?? ""
    hashes.push(`'sha256-${createHash("sha256").update(body, "utf8").digest("base64")}'`)
  }
  return hashes
}

/**
 * The inline-script hashes of every `.html` file under the built dashboard: SvelteKit's
 * adapter-static puts a bootstrap `<script>` in each page, which `script-src 'self'` would
 * block. Computed at start, so a rebuilt dashboard needs a restart (as its files do anyway).
 */
export const dashboardScriptHashes = async (root: string): Promise<ReadonlyArray<string>> => {
  const hashes = new Set<string>()
  const files: Array<string> = []
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const entry of entries) {
      if (files.length >= MAX_HTML_FILES) return
      const path = join(dir, entry.name)
      if (entry.isDirectory()) await walk(path)
      else if (entry.isFile() && entry.name.endsWith(".html")) files.push(path)
    }
  }
  await walk(root)
  for (const file of files) {
    for (const hash of inlineScriptHashes(await readFile(file, "utf8"))) hashes.add(hash)
  }
  return [...hashes].sort()
}

/** The dashboard's policy: its own origin only, plus the hashed inline bootstrap scripts. */
export const contentSecurityPolicy = (scriptHashes: ReadonlyArray<string>): string =>
  [
    "default-src 'self'",
    ["script-src 'self'", ...scriptHashes].join(" "),
    // xterm.js and Svelte transitions set inline styles.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    // CSP 3: 'self' also matches ws: and wss: on the same host and port.
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join("; ")

/** Sets the security headers on every response, errors and static files included. */
export const registerSecurityHeaders = (
  app: FastifyInstance,
  options: { readonly scriptHashes: ReadonlyArray<string> },
): void => {
  const headers: Record<string, string> = {
    "content-security-policy": contentSecurityPolicy(options.scriptHashes),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
  }
  app.addHook("onSend", async (request, reply, payload) => {
    void reply.headers(headers)
    // API answers carry runner output and tokens' effects: never let a cache keep them.
    if (request.url.startsWith("/api/") && !reply.hasHeader("cache-control")) {
      void reply.header("cache-control", "no-store")
    }
    return payload
  })
}
