import type { PageLoad } from "./$types"

/**
 * The terminal's code (xterm.js) is most of this page: its download starts with the page's
 * other code, in parallel with the session check, instead of once the page has rendered.
 */
export const load: PageLoad = () => {
  // A failure here is the terminal view's to report, when its own import of it fails too.
  import("$lib/terminal/xterm").catch(() => undefined)
  return {}
}
