import type { RunnerDetail } from "@geppetto/protocol"
import { api } from "$lib/api"
import { live } from "$lib/live.svelte"
import { createTerminal } from "$lib/terminal/xterm"
import type { PageLoad } from "./$types"

/** The page's first ask for a runner's detail, begun by the load (see below). */
export interface FirstDetail {
  readonly id: string
  readonly detail: Promise<RunnerDetail>
}

/**
 * Two things the terminal waits for start here rather than once the page has rendered, each a
 * round trip sooner on a cold load:
 * - its code (xterm.js, most of this page): a static import makes its chunk one of the page's
 *   own, fetched with the rest in one round trip;
 * - the runner's detail (which pane to show): asked for now, beside the layout's session check,
 *   on a cold start.
 */
export const load: PageLoad = ({ params }) => {
  void createTerminal
  // Only while the app starts (the event stream not up yet). A move within the app, or a
  // preload on hovering a link, leaves the detail to the page, so it is never a stale one.
  if (live.loaded) return {}
  const detail = api.runner(params.id)
  detail.catch(() => {}) // the page reads the outcome (a 404 is shown there)
  const first: FirstDetail = { id: params.id, detail }
  return { first }
}
