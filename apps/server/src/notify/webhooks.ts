import type { NotificationPayload } from "@geppetto/protocol"
import type { WebhookConfig } from "./config.js"
import type { AttemptOutcome } from "./delivery-queue.js"
import { retryAfterMs } from "./push-sender.js"

/** A request as a webhook's format builds it. */
export interface WebhookRequest {
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

const NTFY = {
  waiting: { priority: "high", tags: "bell" },
  completed: { priority: "default", tags: "white_check_mark" },
  failed: { priority: "high", tags: "x" },
} as const

/** HTTP header values are Latin-1; anything else becomes `?` (runner names are ASCII anyway). */
const headerSafe = (text: string): string => text.replace(/[^\x20-\x7e]/g, "?").slice(0, 250)

/**
 * The body and headers of one webhook call:
 * - `json`: the push payload itself (`NotificationPayload`), `application/json`;
 * - `ntfy`: ntfy's publish-by-headers: the body as the message, `Title`, `Priority`
 *   (`high` for waiting and failed), `Tags` (an emoji name), and `Click` = the runner's page
 *   when `notifications.publicUrl` is set;
 * - `slack`: `{ text }`, which Slack, Mattermost and Discord's `/slack` endpoints all take.
 * The hook's own `headers` (a token, say) are added last.
 */
export const webhookRequest = (
  hook: WebhookConfig,
  payload: NotificationPayload,
  publicUrl: string | undefined,
): WebhookRequest => {
  const link = publicUrl === undefined ? undefined : `${publicUrl}${payload.url}`
  switch (hook.format) {
    case "json":
      return {
        headers: { "content-type": "application/json", ...hook.headers },
        body: JSON.stringify(payload),
      }
    case "ntfy": {
      const answers =
        payload.answers === undefined
          ? ""
          : ` Answers: ${payload.answers.map((a) => a.label).join(", ")}.`
      return {
        headers: {
          "content-type": "text/plain; charset=utf-8",
          title: headerSafe(payload.title),
          priority: NTFY[payload.event].priority,
          tags: NTFY[payload.event].tags,
          ...(link !== undefined ? { click: link } : {}),
          ...hook.headers,
        },
        body: `${payload.body}${answers}`,
      }
    }
    case "slack":
      return {
        headers: { "content-type": "application/json", ...hook.headers },
        body: JSON.stringify({
          text: `*${payload.title}*\n${payload.body}${link === undefined ? "" : `\n${link}`}`,
        }),
      }
  }
}

/** The host a webhook goes to: what logs name (a URL's path or query may be its secret). */
export const webhookHost = (hook: WebhookConfig): string => new URL(hook.url).host

/**
 * One webhook POST with a deadline and no redirects: `2xx` done; `429`, `5xx` or no answer
 * retried; any other status given up. Only the status is read from the answer.
 */
export const sendWebhook = async (
  hook: WebhookConfig,
  request: WebhookRequest,
  signal: AbortSignal,
): Promise<AttemptOutcome> => {
  const response = await fetch(hook.url, {
    method: "POST",
    headers: request.headers,
    body: request.body,
    redirect: "manual",
    signal,
  })
  await response.body?.cancel().catch(() => undefined)
  const status = response.status
  if (status >= 200 && status < 300) return { kind: "done" }
  if (status === 429 || status >= 500) {
    return {
      kind: "retry",
      reason: `webhook answered ${status}`,
      afterMs: retryAfterMs(response.headers.get("retry-after") ?? undefined),
    }
  }
  return { kind: "give-up", reason: `webhook answered ${status}` }
}
