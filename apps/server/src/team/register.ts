import { type AuditLog, inputBurst } from "@geppetto/runner"
import type { ManagedRuntime } from "effect"
import type { FastifyInstance, FastifyRequest } from "fastify"
import { type AuditTrail, auditTrailOf, noAuditTrail } from "./audit-trail.js"
import { Presence } from "./presence.js"

declare module "fastify" {
  interface FastifyInstance {
    /** The audit trail (`decorateAudit`): what routes record who did what in. */
    audit: AuditTrail
    /** Who has which runner's terminal open, and who is typing (`decoratePresence`). */
    presence: Presence
  }
}

/**
 * `app.audit`: the trail of the runner domain's runtime, or one that records nowhere for an
 * app without it. Before `registerAuth`, whose login routes record.
 */
export const decorateAudit = (
  app: FastifyInstance,
  runtime: ManagedRuntime.ManagedRuntime<AuditLog, unknown> | undefined,
): void => {
  app.decorate("audit", runtime === undefined ? noAuditTrail : auditTrailOf(runtime))
}

/** `app.presence`, after `registerAuth` (it reads roles from `app.users`). */
export const decoratePresence = (app: FastifyInstance): void => {
  const presence = new Presence({
    roleOf: (user) => app.users.roleOf(user),
    // Ended bursts of typing go to the trail as byte counts, never as what was typed.
    onBurst: (burst) => void app.audit.record(inputBurst(burst)),
  })
  app.decorate("presence", presence)
}

/** Who a request acts as, for the trail (routes that record are never public). */
export const actor = (request: FastifyRequest): string => request.auth.user ?? "anonymous"
