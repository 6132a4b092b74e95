// Static SPA: the Fastify server serves build/ and falls back to index.html.
export const prerender = false
export const ssr = false
