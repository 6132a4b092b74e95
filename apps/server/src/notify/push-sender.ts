import { type Agent, request } from "node:https"
import webpush from "web-push"
import type { AttemptOutcome } from "./delivery-queue.js"
import type { StoredSubscription } from "./subscriptions.js"
import type { VapidKeys } from "./vapid.js"

/** Bytes of a push service's answer read at most (the rest is discarded). */
const MAX_RESPONSE_BYTES = 16 * 1024

export interface PushOptions {
  readonly vapid: VapidKeys
  /** The JWT's `sub`: `mailto:` or `https:`. */
  readonly subject: string
  /** Seconds the push service keeps an undelivered message. */
  readonly ttlSeconds: number
  readonly urgency: "very-low" | "low" | "normal" | "high"
  /** `Topic`: a newer message with the same topic replaces an undelivered older one. */
  readonly topic?: string | undefined
  /** The TLS agent (tests trust their own push service's certificate with it). */
  readonly agent?: Agent | undefined
}

/** The delay a `Retry-After` header asks for, in ms (seconds or an HTTP date). */
export const retryAfterMs = (
  header: string | string[] | undefined,
  now = Date.now(),
): number | undefined => {
  const value = Array.isArray(header) ? header[0] : header
  if (value === undefined || value === "") return undefined
  if (/^\d+$/.test(value)) return Number(value) * 1000
  const at = Date.parse(value)
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined
}

/** What a push service's status means for this delivery (RFC 8030 §5, RFC 8292). */
export const pushOutcome = (
  status: number,
  retryAfter: number | undefined,
): AttemptOutcome | { readonly kind: "gone" } => {
  if (status >= 200 && status < 300) return { kind: "done" }
  // The subscription expired or was withdrawn: drop it.
  if (status === 404 || status === 410) return { kind: "gone" }
  if (status === 429 || status >= 500) {
    return { kind: "retry", reason: `push service answered ${status}`, afterMs: retryAfter }
  }
  return { kind: "give-up", reason: `push service answered ${status}` }
}

/**
 * One Web Push: the payload encrypted for the subscription (RFC 8291, `aes128gcm`) and signed
 * for the push service (VAPID, RFC 8292: a JWT with `aud` = the endpoint's origin, `exp` 12 h
 * ahead, `sub`) by `web-push`; sent here with a deadline (`signal`), no redirects, and at most
 * 16 KiB of the answer read.
 */
export const sendPush = (
  subscription: StoredSubscription,
  payload: string,
  options: PushOptions,
  signal: AbortSignal,
): Promise<AttemptOutcome | { readonly kind: "gone" }> => {
  const details = webpush.generateRequestDetails(
    { endpoint: subscription.endpoint, keys: { ...subscription.keys } },
    payload,
    {
      vapidDetails: {
        subject: options.subject,
        publicKey: options.vapid.publicKey,
        privateKey: options.vapid.privateKey,
      },
      TTL: options.ttlSeconds,
      urgency: options.urgency,
      contentEncoding: "aes128gcm",
      ...(options.topic !== undefined ? { topic: options.topic } : {}),
    },
  )
  const url = new URL(details.endpoint)
  return new Promise((resolve, reject) => {
    const req = request(
      {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: `${url.pathname}${url.search}`,
        method: "POST",
        headers: { ...details.headers },
        ...(options.agent !== undefined ? { agent: options.agent } : {}),
        signal,
      },
      (response) => {
        let read = 0
        response.on("data", (chunk: Buffer) => {
          read += chunk.length
          if (read > MAX_RESPONSE_BYTES) response.destroy()
        })
        const done = () =>
          resolve(
            pushOutcome(response.statusCode ?? 0, retryAfterMs(response.headers["retry-after"])),
          )
        response.on("end", done)
        response.on("close", done)
        response.on("error", done)
      },
    )
    req.on("error", reject)
    req.end(details.body)
  })
}
