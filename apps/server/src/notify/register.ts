import type { Agent } from "node:https"
import { Cause, Effect, Fiber } from "effect"
import type { FastifyInstance } from "fastify"
import type { ApiContext } from "../routes/context.js"
import { registerPushRoutes } from "../routes/push.js"
import { defaultNotificationsConfig, type NotificationsConfig } from "./config.js"
import type { DeliveryQueueOptions } from "./delivery-queue.js"
import { Notifier } from "./notifier.js"
import { PushSubscriptions } from "./subscriptions.js"
import { TransitionTracker } from "./transitions.js"
import { loadVapidKeys } from "./vapid.js"

/** How the app tells people away from the tab (`AppOptions.notify`). */
export interface NotifyOptions {
  /** `notifications` of `config.json` (`loadNotificationsConfig`); defaults when omitted. */
  readonly config?: NotificationsConfig
  /** Where `vapid.json`, `push-subscriptions.json` and `notify-state.json` live; memory without. */
  readonly dataDir?: string | undefined
  /** The TLS agent pushes go through (tests trust their push service's certificate with it). */
  readonly pushAgent?: Agent
  /** Retry timing and bounds (tests shorten the backoff). */
  readonly delivery?: Partial<Omit<DeliveryQueueOptions, "log">>
}

declare module "fastify" {
  interface FastifyInstance {
    /** Web Push and webhooks (`registerNotifications`). */
    notifier: Notifier
  }
}

/**
 * Web Push and webhooks: loads (or makes) the VAPID keys, the subscriptions and what was
 * already announced, registers `/api/push/*`, and follows the runner feed until the app closes.
 */
export const registerNotifications = async (
  app: FastifyInstance,
  ctx: ApiContext,
  options: NotifyOptions,
): Promise<void> => {
  const config = options.config ?? defaultNotificationsConfig
  const log = app.log.child({ component: "notify" })
  const onSaveError = (error: unknown) =>
    log.error({ err: error }, "could not save the notification state")
  const vapid = await loadVapidKeys(options.dataDir)
  const subscriptions = await PushSubscriptions.open({ dataDir: options.dataDir, onSaveError })
  const tracker = await TransitionTracker.open({
    dataDir: options.dataDir,
    debounceMs: config.debounceMs,
    onSaveError,
  })
  const notifier = new Notifier({
    config,
    vapid,
    subscriptions,
    tracker,
    roleOf: (user) => app.users.roleOf(user),
    log: {
      warn: (fields, message) => log.warn(fields, message),
      info: (fields, message) => log.info(fields, message),
    },
    pushAgent: options.pushAgent,
    delivery: options.delivery,
  })
  app.decorate("notifier", notifier)
  registerPushRoutes(app, { vapid, subscriptions })
  const fiber = ctx.runtime.runFork(
    notifier.watch.pipe(
      Effect.catchAllCause((cause) =>
        Effect.sync(() =>
          log.error({ cause: Cause.pretty(cause) }, "notifications stopped following runners"),
        ),
      ),
    ),
  )
  app.addHook("onClose", async () => {
    // Interrupting needs no service: run outside the domain runtime, which may be disposed first.
    await Effect.runPromise(Fiber.interrupt(fiber))
    notifier.close()
    await Promise.all([subscriptions.flush(), tracker.flush()])
  })
}
