import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import fastifyStatic from "@fastify/static"
import type { FastifyInstance } from "fastify"

/** Where `pnpm build` puts the dashboard, seen from apps/server/src or apps/server/dist. */
export const defaultDashboardDir = fileURLToPath(new URL("../../dashboard/build/", import.meta.url))

/**
 * Serves the built dashboard (a static SPA) on the server's own port, brotli or gzip when the
 * browser takes it (the build compresses every file once). Hashed assets under
 * `_app/immutable/` are cached for a year; everything else revalidates. Unknown non-API
 * GETs get `index.html` so client-side routes survive a reload. `/sw.js` is the built service
 * worker (`service-worker.js`); `/manifest.webmanifest`, `/offline.html` and `/icons/*` are
 * static files of the build. Returns false when there
 * is no build to serve (tests, or a checkout that was not built).
 */
export const serveDashboard = async (app: FastifyInstance, root: string): Promise<boolean> => {
  if (!existsSync(`${root}/index.html`)) return false
  await app.register(fastifyStatic, {
    root,
    // One catch-all route of ours (below) instead of a GET and a HEAD route per file of the
    // build (measured, spawn -> listening: ~880 ms with those, ~810 with this, 780 with no
    // dashboard at all).
    serve: false,
    cacheControl: false,
    index: ["index.html"],
    // The per-file routes never served dotfiles (the build has none); neither does this.
    dotfiles: "ignore",
    // The build's .br/.gz copies (adapter-static `precompress`): no compression per request.
    preCompressed: true,
    setHeaders: (res, path) => {
      res.setHeader(
        "cache-control",
        path.includes("/_app/immutable/") ? "public, max-age=31536000, immutable" : "no-cache",
      )
    },
  })
  // A file of the build, or (not found) the not-found handler: index.html for a client-side
  // route, a 404 for `/api/...`, which never reaches the files. A path that climbs (`..`,
  // however encoded) is not looked up at all, as when each file had a route of its own.
  app.route({
    method: ["GET", "HEAD"],
    url: "/*",
    config: { auth: "public" },
    // Sends and returns nothing: a returned reply is awaited by Fastify (`Reply.then`), one
    // more "close" listener on the response beside the file stream's, which took a streamed
    // file past Node's 10 and printed a MaxListenersExceededWarning in the server log.
    handler: (request, reply) => {
      const path = (request.params as { readonly "*": string })["*"]
      const climbs = path.split(/[/\\]/).includes("..")
      if (climbs || path === "api" || path.startsWith("api/")) reply.callNotFound()
      else void reply.sendFile(`/${path}`)
    },
  })
  // The PWA's service worker, built by SvelteKit as service-worker.js, at the short path the
  // layout registers. Public like every static file, revalidated on each load (no-cache), so a
  // new build's worker is picked up at once.
  if (existsSync(`${root}/service-worker.js`)) {
    app.get("/sw.js", (_request, reply) => {
      void reply.header("service-worker-allowed", "/").sendFile("service-worker.js")
    })
  }
  return true
}
