import { Effect, Layer, ManagedRuntime } from "effect"
import { describe, expect, it } from "vitest"
import { API_ROUTES } from "../../../../packages/protocol/scripts/api-routes.js"
import { buildApp } from "../../src/app.js"
import { listAuthRoutes } from "../../src/auth/plugin.js"
import type { ApiContext } from "../../src/routes/context.js"
import { testAuth } from "../helpers/auth.js"

/**
 * docs/API.md lists the routes from a hand-kept table (packages/protocol/scripts/api-routes.ts).
 * The app's own route auth table is the truth: a route added, removed or given another role
 * must be written there too (then `pnpm docs:api`).
 */
describe("the route table of docs/API.md", () => {
  it("equals the app's routes: method, path, role and WebSocket", async () => {
    // Routes only hold the runtime; with no request made, nothing runs in it (no tmux).
    const runtime = ManagedRuntime.make(Layer.empty)
    const app = await buildApp({
      tmuxVersion: "3.3a",
      auth: testAuth,
      api: {
        runtime: runtime as unknown as ApiContext["runtime"],
        providers: { list: Effect.succeed([]) },
        tmuxSocket: undefined,
      },
    })
    try {
      await app.ready()
      const actual = listAuthRoutes(app)
        .map((r) => `${r.method} ${r.url} ${r.auth}${r.websocket ? " websocket" : ""}`)
        .sort()
      const documented = API_ROUTES.flatMap((r) => {
        const ws = r.websocket === true ? " websocket" : ""
        const line = `${r.method} ${r.path} ${r.auth}${ws}`
        // Fastify answers HEAD for every GET route, with the same config.
        return r.method === "GET" ? [line, `HEAD ${r.path} ${r.auth}${ws}`] : [line]
      }).sort()
      expect(documented, "packages/protocol/scripts/api-routes.ts is out of date").toEqual(actual)
    } finally {
      await app.close()
      await runtime.dispose()
    }
  })
})
