import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { z } from "zod"
import { ConfigError } from "../config.js"

/** The top-level keys of `config.json` the server reads itself (the runner domain skips them). */
export const SERVER_CONFIG_KEYS: ReadonlyArray<string> = ["notifications"]

const Event = z.enum(["waiting", "completed", "failed"])

const httpUrl = (what: string) =>
  z
    .string()
    .max(2048)
    .refine(
      (value) => {
        try {
          const url = new URL(value)
          return url.protocol === "https:" || url.protocol === "http:"
        } catch {
          return false
        }
      },
      { message: `${what} must be an http: or https: URL` },
    )

/** An HTTP header name (RFC 9110 token) and a value with no line breaks. */
const HeaderName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$/, "not a header name")
const HeaderValue = z
  .string()
  .max(8192)
  .regex(/^[\t\x20-\x7e\x80-\xff]*$/, "header values must be one line of Latin-1 text")

/** One webhook: where to POST, in which shape, for which transitions, with which headers. */
export const WebhookConfig = z.strictObject({
  url: httpUrl("url"),
  format: z.enum(["json", "ntfy", "slack"]),
  events: z
    .array(Event)
    .min(1)
    .max(3)
    .refine((e) => new Set(e).size === e.length, "must not name an event twice")
    .default(["waiting"]),
  headers: z
    .record(HeaderName, HeaderValue)
    .refine((h) => Object.keys(h).length <= 20, "at most 20 headers")
    .default({}),
})
export type WebhookConfig = z.infer<typeof WebhookConfig>

/** `notifications` in `DATA_DIR/config.json`. Every key is optional. */
export const NotificationsConfig = z.strictObject({
  /**
   * The dashboard's address as people reach it (`https://geppetto.example.lan:7420`): the
   * click URL of ntfy and the link of slack messages. Without it they carry no link.
   */
  publicUrl: httpUrl("publicUrl")
    .transform((u) => u.replace(/\/+$/, ""))
    .optional(),
  /** The VAPID `sub` claim: a `mailto:` or `https:` URL push services may contact. */
  vapidSubject: z
    .string()
    .max(512)
    .regex(/^(mailto:|https:\/\/)\S+$/, "must be a mailto: or https: URL")
    .optional(),
  /**
   * A runner back to waiting this soon after it stopped waiting, on a prompt that looks the same
   * (same reason, detail and last line of output), is not announced again: a prompt that
   * flickers is one prompt. One answered through a reply is over: the next one is news.
   */
  debounceMs: z.number().int().min(0).max(600_000).default(10_000),
  webhooks: z.array(WebhookConfig).max(20).default([]),
})
export type NotificationsConfig = z.infer<typeof NotificationsConfig>

export const defaultNotificationsConfig: NotificationsConfig = NotificationsConfig.parse({})

/** `config.json`'s `notifications` key is malformed; the message names the file and the key. */
export class NotifyConfigError extends ConfigError {
  override readonly name = "NotifyConfigError"
}

/** Checks a parsed `notifications` value; the error names the first few bad keys. */
export const parseNotificationsConfig = (path: string, value: unknown): NotificationsConfig => {
  const result = NotificationsConfig.safeParse(value)
  if (result.success) return result.data
  const issues = result.error.issues
    .slice(0, 5)
    .map(
      (i) =>
        `notifications${i.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("")}: ${i.message}`,
    )
    .join("; ")
  throw new NotifyConfigError(`${path}: ${issues}`)
}

/**
 * Reads `notifications` from `DATA_DIR/config.json` (no file, or no key: the defaults). Only the
 * host's owner writes that file: webhooks are never set through the API.
 */
export const loadNotificationsConfig = async (dataDir: string): Promise<NotificationsConfig> => {
  const path = join(dataDir, "config.json")
  let text: string
  try {
    text = await readFile(path, "utf8")
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return defaultNotificationsConfig
    throw new NotifyConfigError(`cannot read ${path}: ${(error as Error).message}`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new NotifyConfigError(`${path} is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new NotifyConfigError(`${path} must hold a JSON object`)
  }
  const value = (parsed as Record<string, unknown>).notifications
  return parseNotificationsConfig(path, value ?? {})
}
