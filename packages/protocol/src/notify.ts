import * as z from "zod/mini"
import { RunnerId } from "./ids.js"
import { RunnerStatus } from "./process-event.js"

/**
 * What a person can be told about, away from the tab: a runner started waiting for them, or it
 * ended (`completed`: exit 0; `failed`: anything else). Push subscriptions and webhooks each
 * choose theirs; `waiting` alone by default.
 */
export const NotifyEvent = z.enum(["waiting", "completed", "failed"])
export type NotifyEvent = z.infer<typeof NotifyEvent>

/** The events a subscription or a webhook wants: one to three, no repeats. */
export const NotifyEvents = z.array(NotifyEvent).check(
  z.minLength(1),
  z.maxLength(3),
  z.refine((events) => new Set(events).size === events.length, {
    message: "must not name an event twice",
  }),
)
export type NotifyEvents = z.infer<typeof NotifyEvents>

/** Base64url of exactly `bytes` bytes (padding optional), as `PushSubscription.toJSON()` gives keys. */
const base64url = (bytes: number) =>
  z.string().check(
    z.regex(/^[A-Za-z0-9_-]+={0,2}$/, "must be base64url"),
    z.refine((s) => s.replace(/=+$/, "").length === Math.ceil((bytes * 4) / 3), {
      message: `must encode ${bytes} bytes`,
    }),
  )

// The WHATWG URL of browsers and Node; this package is built with neither lib's types.
declare const URL: new (
  input: string,
) => { readonly protocol: string; readonly username: string; readonly password: string }

/**
 * A push service's endpoint: an `https:` URL (push services are HTTPS; anything else is
 * refused, so a subscription cannot make the server speak plain HTTP to a host of the
 * caller's choosing), at most 2 KiB, no credentials in it.
 */
export const PushEndpoint = z.string().check(
  z.maxLength(2048),
  z.refine(
    (value) => {
      try {
        const url = new URL(value)
        return url.protocol === "https:" && url.username === "" && url.password === ""
      } catch {
        return false
      }
    },
    { message: "must be an https: URL (a browser's push service)" },
  ),
)
export type PushEndpoint = z.infer<typeof PushEndpoint>

/**
 * `POST /api/push/subscriptions`: the browser's `PushSubscription.toJSON()` as it is
 * (`{ endpoint, expirationTime, keys: { p256dh, auth } }`), plus the `events` this browser
 * wants (default `["waiting"]`). Posting the same endpoint again replaces its events.
 */
export const PushSubscriptionRequest = z.strictObject({
  endpoint: PushEndpoint,
  /** As browsers send it (mostly `null`); kept for nothing but accepted. */
  expirationTime: z.optional(z.nullable(z.number())),
  keys: z.strictObject({
    /** The browser's P-256 public key, uncompressed (65 bytes), base64url. */
    p256dh: base64url(65),
    /** The 16-byte authentication secret, base64url. */
    auth: base64url(16),
  }),
  events: z.optional(NotifyEvents),
})
export type PushSubscriptionRequest = z.infer<typeof PushSubscriptionRequest>

/** `201` to `POST /api/push/subscriptions`: what the server will push to this endpoint. */
export const PushSubscriptionCreated = z.object({
  endpoint: z.string(),
  events: z.array(NotifyEvent),
})
export type PushSubscriptionCreated = z.infer<typeof PushSubscriptionCreated>

/** `DELETE /api/push/subscriptions`: which of the caller's subscriptions to drop. */
export const PushUnsubscribeRequest = z.strictObject({ endpoint: PushEndpoint })
export type PushUnsubscribeRequest = z.infer<typeof PushUnsubscribeRequest>

/** `GET /api/push/key`: the VAPID public key (`applicationServerKey` for `pushManager.subscribe`). */
export const PushKeyResponse = z.object({
  /** P-256 public key, uncompressed, base64url (65 bytes). */
  publicKey: z.string(),
})
export type PushKeyResponse = z.infer<typeof PushKeyResponse>

/**
 * What a Web Push carries (its decrypted plaintext, JSON) and a `json` webhook posts: who, what
 * happened, and for a prompt the labels of up to two quick answers. Never terminal content
 * beyond the reason and those labels.
 */
export const NotificationPayload = z.object({
  runnerId: RunnerId,
  /** The runner's name. */
  name: z.string(),
  /** Which transition this is. */
  event: NotifyEvent,
  /** The runner's status then (`running` or `idle` while waiting; `completed`, `failed`). */
  status: RunnerStatus,
  /** While waiting: why (`permission`, `question`, `ready`, …); once failed: the failure reason. */
  reason: z.optional(z.string()),
  /** While waiting: the prompt it waits on, for `POST /api/runners/:id/reply`. */
  attentionId: z.optional(z.string()),
  title: z.string(),
  body: z.string(),
  /** Up to two quick answers (labels only), for recipients who may answer (operators). */
  answers: z.optional(z.array(z.object({ label: z.string() })).check(z.maxLength(2))),
  /** The runner's page, relative to the dashboard (`/runners/ID`). */
  url: z.string(),
  /** When the transition happened (epoch ms). */
  at: z.int(),
})
export type NotificationPayload = z.infer<typeof NotificationPayload>
