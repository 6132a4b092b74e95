import {
  type CreatedUser,
  CreateUserRequest,
  UpdateUserRequest,
  type UserInfo,
  UserParams,
} from "@geppetto/protocol"
import type { FastifyInstance } from "fastify"
import { userInfo } from "../auth/users.js"
import { badRequest, HttpError } from "../http/domain-errors.js"
import { parseWith } from "../http/run-effect.js"
import { actor } from "../team/register.js"

const builtinRefused = (name: string, what: string) =>
  badRequest(
    `${name} is a built-in user: its token comes from ${name === "owner" ? "GEPPETTO_TOKEN" : "GEPPETTO_VIEWER_TOKEN"} or tokens.json, and it cannot be ${what}`,
  )

const noSuchUser = (name: string) =>
  new HttpError(404, "NotFoundError", `no user ${name} (see GET /api/users)`)

/**
 * `/api/users` (admins only): add a user (their token is in the answer, once), list, change a
 * role, remove. Removing closes each of the user's open sockets at once; a new role applies to
 * their next request and to their open terminals' next frame (read from the store per frame).
 */
export const registerUserRoutes = (app: FastifyInstance) => {
  const users = app.users

  app.post(
    "/api/users",
    { config: { auth: "admin" }, bodyLimit: 16 * 1024 },
    async (request, reply): Promise<CreatedUser> => {
      const body = parseWith(CreateUserRequest, request.body, "body")
      const added = await users.add(body.name, body.role)
      if (!added.ok) {
        if (added.reason === "reserved") throw builtinRefused(body.name, "added again")
        throw new HttpError(409, "ConflictError", `a user named ${body.name} exists`)
      }
      request.log.info({ user: body.name, role: body.role, by: request.auth.user }, "user added")
      await app.audit.record({
        user: actor(request),
        action: "user.add",
        detail: `${body.name} as ${body.role}`,
      })
      void reply.code(201)
      return { name: added.entry.name, role: added.entry.role, token: added.token }
    },
  )

  app.get(
    "/api/users",
    { config: { auth: "admin" } },
    async (): Promise<ReadonlyArray<UserInfo>> => users.list(),
  )

  app.patch(
    "/api/users/:name",
    { config: { auth: "admin" }, bodyLimit: 4096 },
    async (request): Promise<UserInfo> => {
      const { name } = parseWith(UserParams, request.params, "params")
      const { role } = parseWith(UpdateUserRequest, request.body, "body")
      if (users.get(name)?.builtin === true) throw builtinRefused(name, "given another role")
      const before = users.roleOf(name)
      const entry = await users.setRole(name, role)
      if (entry === undefined) throw noSuchUser(name)
      app.userSockets.changed(name)
      request.log.info({ user: name, role, by: request.auth.user }, "user role changed")
      if (before !== role) {
        await app.audit.record({
          user: actor(request),
          action: "user.role",
          detail: `${name}: ${before ?? "?"} → ${role}`,
        })
      }
      return userInfo(entry)
    },
  )

  app.delete("/api/users/:name", { config: { auth: "admin" } }, async (request, reply) => {
    const { name } = parseWith(UserParams, request.params, "params")
    if (users.get(name)?.builtin === true) throw builtinRefused(name, "removed")
    if (!(await users.remove(name))) throw noSuchUser(name)
    const closed = app.userSockets.revoke(name, `user ${name} was removed`)
    if (app.hasDecorator("notifier")) await app.notifier.forgetUser(name)
    request.log.info({ user: name, by: request.auth.user, sockets: closed }, "user removed")
    await app.audit.record({ user: actor(request), action: "user.remove", detail: name })
    return reply.code(204).send()
  })
}
