import {
  type PushKeyResponse,
  type PushSubscriptionCreated,
  PushSubscriptionRequest,
  PushUnsubscribeRequest,
} from "@geppetto/protocol"
import type { FastifyInstance } from "fastify"
import { parseWith } from "../http/run-effect.js"
import type { PushSubscriptions } from "../notify/subscriptions.js"
import type { VapidKeys } from "../notify/vapid.js"
import { actor } from "../team/register.js"

/**
 * `/api/push`: the VAPID public key, and each user's browsers subscribing and unsubscribing.
 * Any signed-in user may be told (a viewer's pushes carry no answers); the endpoint must be
 * `https:`. Subscriptions are the user's own: one cannot remove another's.
 */
export const registerPushRoutes = (
  app: FastifyInstance,
  deps: { readonly vapid: VapidKeys; readonly subscriptions: PushSubscriptions },
) => {
  app.get(
    "/api/push/key",
    { config: { auth: "viewer" } },
    async (): Promise<PushKeyResponse> => ({ publicKey: deps.vapid.publicKey }),
  )

  app.post(
    "/api/push/subscriptions",
    { config: { auth: "viewer" }, bodyLimit: 8 * 1024 },
    async (request, reply): Promise<PushSubscriptionCreated> => {
      const body = parseWith(PushSubscriptionRequest, request.body, "body")
      const user = actor(request)
      const stored = await deps.subscriptions.upsert(user, body)
      // The push service's host only: the endpoint's path identifies the browser.
      request.log.info(
        { user, pushService: new URL(stored.endpoint).host, events: stored.events },
        "push subscription saved",
      )
      void reply.code(201)
      return { endpoint: stored.endpoint, events: [...stored.events] }
    },
  )

  app.delete(
    "/api/push/subscriptions",
    { config: { auth: "viewer" }, bodyLimit: 8 * 1024 },
    async (request, reply) => {
      const { endpoint } = parseWith(PushUnsubscribeRequest, request.body, "body")
      const user = actor(request)
      if (await deps.subscriptions.remove(user, endpoint)) {
        request.log.info({ user, pushService: new URL(endpoint).host }, "push subscription removed")
      }
      // Gone either way: unsubscribing twice, or after the push service dropped it, is fine.
      return reply.code(204).send()
    },
  )
}
