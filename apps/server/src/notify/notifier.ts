import { createHash } from "node:crypto"
import type { Agent } from "node:https"
import type { NotifyEvent, QuickAnswer, Role, RunnerSummary } from "@geppetto/protocol"
import { AiRunnerPort } from "@geppetto/runner"
import { Effect, Either, Option, Queue } from "effect"
import { roleAtLeast } from "../auth/users.js"
import type { NotificationsConfig, WebhookConfig } from "./config.js"
import { DeliveryQueue, type DeliveryQueueOptions } from "./delivery-queue.js"
import { notificationPayload } from "./payload.js"
import { type PushOptions, sendPush } from "./push-sender.js"
import type { PushSubscriptions, StoredSubscription } from "./subscriptions.js"
import type { Transition, TransitionTracker } from "./transitions.js"
import type { VapidKeys } from "./vapid.js"
import { sendWebhook, webhookHost, webhookRequest } from "./webhooks.js"

/** Changes taken off the feed at once. */
const BATCH = 512
/** A prompt's push is worth little after an hour; an end's, after a day. */
const TTL_SECONDS: Readonly<Record<NotifyEvent, number>> = {
  waiting: 60 * 60,
  completed: 24 * 60 * 60,
  failed: 24 * 60 * 60,
}

export interface NotifierLog {
  readonly warn: (fields: Record<string, unknown>, message: string) => void
  readonly info: (fields: Record<string, unknown>, message: string) => void
}

export interface NotifierDeps {
  readonly config: NotificationsConfig
  readonly vapid: VapidKeys
  readonly subscriptions: PushSubscriptions
  readonly tracker: TransitionTracker
  /** A user's role now; `undefined` once they are removed (their subscriptions go then). */
  readonly roleOf: (user: string) => Role | undefined
  readonly log: NotifierLog
  readonly pushAgent?: Agent | undefined
  readonly delivery?: Partial<Omit<DeliveryQueueOptions, "log">> | undefined
  readonly now?: () => number
}

/** `Topic` (RFC 8030 §5.4): at most 32 base64url characters, one per runner. */
const topicOf = (runnerId: string): string =>
  createHash("sha256").update(runnerId).digest("base64url").slice(0, 32)

/**
 * Tells people away from the tab: follows the runner change feed, picks the transitions to
 * announce (`TransitionTracker`: once each) and hands a push per subscription and a POST per
 * webhook to the `DeliveryQueue`, which retries and never blocks the feed.
 */
export class Notifier {
  readonly queue: DeliveryQueue
  private readonly subject: string

  constructor(private readonly deps: NotifierDeps) {
    this.queue = new DeliveryQueue({
      concurrency: 4,
      maxPending: 1000,
      maxAttempts: 5,
      baseDelayMs: 1000,
      maxDelayMs: 60_000,
      timeoutMs: 10_000,
      ...deps.delivery,
      log: deps.log,
    })
    const publicUrl = deps.config.publicUrl
    this.subject =
      deps.config.vapidSubject ??
      (publicUrl?.startsWith("https://") === true ? publicUrl : "mailto:geppetto@localhost")
  }

  /** Follows the feed until interrupted; does nothing where there is no runner domain. */
  readonly watch = Effect.gen(this, function* () {
    const port = yield* Effect.serviceOption(AiRunnerPort)
    if (Option.isNone(port)) return
    const registry = port.value
    const { runners, seq, queue } = yield* registry.subscribe
    const announce = (transition: Transition) =>
      Effect.gen(this, function* () {
        const answers =
          transition.event === "waiting" && transition.runner.attentionReason !== "budget"
            ? yield* registry.getRunner(transition.runner.id).pipe(
                Effect.map((d) => d.answers),
                Effect.either,
                Effect.map((e) => (Either.isRight(e) ? e.right : undefined)),
              )
            : undefined
        this.deliver(transition.event, transition.runner, answers)
      })
    for (const t of this.deps.tracker.baseline(runners)) yield* announce(t)
    let last = seq
    for (;;) {
      const batch = yield* Queue.takeBetween(queue, 1, BATCH)
      for (const event of batch) {
        const gap = event.seq > last + 1
        last = event.seq
        if (gap) {
          // The feed slid past changes: the list now says where every runner is.
          for (const t of this.deps.tracker.baseline(yield* registry.listRunners))
            yield* announce(t)
          continue
        }
        if (event.type === "runner") {
          const t = this.deps.tracker.update(event.runner)
          if (t !== undefined) yield* announce(t)
        } else if (event.type === "removed") {
          this.deps.tracker.removed(event.runnerId)
        }
      }
    }
  }).pipe(Effect.scoped)

  /** Queues one transition's pushes and webhook calls. */
  deliver(
    event: NotifyEvent,
    runner: RunnerSummary,
    answers: ReadonlyArray<QuickAnswer> | undefined,
  ): void {
    const at = (this.deps.now ?? Date.now)()
    const full = notificationPayload(event, runner, { answers, at })
    const viewerPayload = notificationPayload(event, runner, { at })
    this.deps.log.info(
      { runnerId: runner.id, event, attentionId: runner.attentionId },
      "announcing a runner's transition",
    )
    for (const subscription of this.deps.subscriptions.forEvent(event)) {
      const role = this.deps.roleOf(subscription.user)
      if (role === undefined) {
        void this.deps.subscriptions.dropUser(subscription.user)
        continue
      }
      // Answers only to those who may answer; a viewer's push says what happened.
      const payload = roleAtLeast(role, "operator") ? full : viewerPayload
      this.push(subscription, JSON.stringify(payload), {
        vapid: this.deps.vapid,
        subject: this.subject,
        ttlSeconds: TTL_SECONDS[event],
        urgency: event === "waiting" ? "high" : "normal",
        topic: topicOf(runner.id),
        agent: this.deps.pushAgent,
      })
    }
    for (const hook of this.deps.config.webhooks) {
      if (hook.events.includes(event))
        this.webhook(hook, webhookRequest(hook, full, this.deps.config.publicUrl))
    }
  }

  private push(subscription: StoredSubscription, payload: string, options: PushOptions): void {
    const host = new URL(subscription.endpoint).host
    this.queue.enqueue({
      label: `push ${host} (${subscription.user})`,
      attempt: async (signal) => {
        const outcome = await sendPush(subscription, payload, options, signal)
        if (outcome.kind !== "gone") return outcome
        await this.deps.subscriptions.drop(subscription)
        this.deps.log.info(
          { target: host, user: subscription.user },
          "push subscription expired or withdrawn (404/410); dropped",
        )
        return { kind: "done" }
      },
    })
  }

  private webhook(hook: WebhookConfig, request: ReturnType<typeof webhookRequest>): void {
    // The host only: a webhook's path, query and headers are its secret.
    this.queue.enqueue({
      label: `webhook ${webhookHost(hook)} (${hook.format})`,
      attempt: (signal) => sendWebhook(hook, request, signal),
    })
  }

  /** A reply answered `attentionId`: the runner's next prompt is news (see `TransitionTracker`). */
  answered(runnerId: string, attentionId: string): void {
    this.deps.tracker.answered(runnerId, attentionId)
  }

  /**
   * A removed user's push subscriptions go with them, at once: a new user of the same name
   * must not get what was meant for the old one (they were only dropped at the next push).
   */
  forgetUser(user: string): Promise<void> {
    return this.deps.subscriptions.dropUser(user)
  }

  close(): void {
    this.queue.close()
  }
}
