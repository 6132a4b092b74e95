import { error, redirect } from "@sveltejs/kit"
import { messageOf } from "$lib/api"
import { live } from "$lib/live.svelte"
import { session } from "$lib/session.svelte"
import type { LayoutLoad } from "./$types"

// Static SPA: the Fastify server serves build/ and falls back to index.html.
export const prerender = false
export const ssr = false

/** Every page but the login page needs a session; the first load asks the server for it. */
export const load: LayoutLoad = async ({ fetch, url }) => {
  if (url.pathname === "/login") return {}
  if (session.role !== undefined) return {}
  const { role, expired } = await session.check(fetch).catch((e: unknown) => {
    error(503, `Could not reach the Geppetto server: ${messageOf(e)}`)
  })
  if (role === undefined) {
    const next = url.pathname + url.search
    const query = new URLSearchParams({ ...(expired ? { reason: "expired" } : {}), next })
    redirect(307, `/login?${query}`)
  }
  // The event stream opens now, not once the page has rendered (the layout starts it there
  // too): on a cold load the board's list is then on its way while the page's code runs.
  live.start()
  return {}
}
