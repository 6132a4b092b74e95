// Loaded only by the runner page, through `import()`: xterm.js and its addons are the bulk
// of the dashboard's code and no other page needs them.
import "@xterm/xterm/css/xterm.css"
import type { SearchAddon } from "@xterm/addon-search"
import { WebLinksAddon } from "@xterm/addon-web-links"
import { type ITheme, Terminal } from "@xterm/xterm"

export type { SearchAddon } from "@xterm/addon-search"
export type { Terminal } from "@xterm/xterm"

const dark: ITheme = {
  background: "#0f1115",
  foreground: "#e6e6e6",
  cursor: "#e6e6e6",
  cursorAccent: "#0f1115",
  selectionBackground: "#3a5a8c99",
}

const light: ITheme = {
  background: "#fbfbfc",
  foreground: "#1d1f24",
  cursor: "#1d1f24",
  cursorAccent: "#fbfbfc",
  selectionBackground: "#9bbcf299",
  // The default palette is drawn for dark backgrounds: darken the pale ones.
  black: "#1d1f24",
  red: "#b42318",
  green: "#1a7f37",
  yellow: "#8a6100",
  blue: "#1f5fbf",
  magenta: "#8b3fae",
  cyan: "#0e7490",
  white: "#6b7280",
  brightBlack: "#4b5563",
  brightRed: "#d1242f",
  brightGreen: "#2da44e",
  brightYellow: "#9a6700",
  brightBlue: "#2f6fdb",
  brightMagenta: "#a24bd0",
  brightCyan: "#0891b2",
  brightWhite: "#374151",
}

const prefersDark = () => window.matchMedia("(prefers-color-scheme: dark)").matches

/** Whether a WebGL2 context can be had: asked of a throwaway canvas, whose context is let go. */
const webgl2Available = () => {
  try {
    const gl = document.createElement("canvas").getContext("webgl2")
    gl?.getExtension("WEBGL_lose_context")?.loseContext()
    return gl !== null
  } catch {
    return false
  }
}

export interface TerminalHandle {
  readonly term: Terminal
  /**
   * The search addon, loaded the first time it is asked for: most visits never search, and it
   * is 13 KB (gzip) of the runner page's code.
   */
  readonly search: () => Promise<SearchAddon>
  /** Which renderer draws: WebGL when the browser gives us a context, the DOM otherwise. */
  readonly renderer: () => "webgl" | "dom"
  /**
   * Moves drawing to WebGL (when the browser gives a context). Called once the first screen
   * is on: starting WebGL (shaders, the glyph atlas) took 130 ms before anything showed, and
   * the DOM renderer draws that first screen as well. The addon (36 KB gzipped, the runner
   * page's largest piece after xterm.js) is fetched here, so not before that first screen,
   * and not at all where WebGL2 is missing. Resolves once the renderer is settled.
   */
  readonly useWebgl: () => Promise<void>
  dispose(): void
}

/**
 * A terminal fixed at `cols` × `rows` (never fitted: the pane's size is tmux's), with search,
 * clickable links, and WebGL when available (see `useWebgl`). Follows the system's light/dark
 * setting.
 */
export const createTerminal = (
  host: HTMLElement,
  options: { readonly cols: number; readonly rows: number; readonly scrollback?: number },
): TerminalHandle => {
  const term = new Terminal({
    cols: options.cols,
    rows: options.rows,
    scrollback: options.scrollback ?? 5000,
    fontFamily:
      '"DejaVu Sans Mono", "SFMono-Regular", Menlo, Consolas, "Liberation Mono", monospace',
    fontSize: 14,
    lineHeight: 1,
    cursorBlink: false,
    disableStdin: true,
    allowProposedApi: true, // search decorations
    convertEol: false,
    theme: prefersDark() ? dark : light,
  })
  let search: Promise<SearchAddon> | undefined
  const loadSearch = () => {
    search ??= import("@xterm/addon-search").then(({ SearchAddon }) => {
      const addon = new SearchAddon({ highlightLimit: 500 })
      term.loadAddon(addon)
      return addon
    })
    return search
  }
  term.loadAddon(
    new WebLinksAddon((event, uri) => {
      event.preventDefault()
      window.open(uri, "_blank", "noopener,noreferrer")
    }),
  )
  term.open(host)

  let renderer: "webgl" | "dom" = "dom"
  let upgraded = false
  let disposed = false
  const useWebgl = async () => {
    if (upgraded) return
    upgraded = true
    if (!webgl2Available()) return // headless, a blocklisted GPU: the DOM renderer stays
    const loaded = await import("@xterm/addon-webgl").catch(() => undefined)
    if (loaded === undefined || disposed) return
    try {
      const webgl = new loaded.WebglAddon()
      webgl.onContextLoss(() => {
        webgl.dispose()
        renderer = "dom"
      })
      term.loadAddon(webgl)
      renderer = "webgl"
    } catch {
      renderer = "dom" // no WebGL2 (headless, blocklisted GPU): the DOM renderer is the default
    }
  }

  const scheme = window.matchMedia("(prefers-color-scheme: dark)")
  const onScheme = () => {
    term.options.theme = scheme.matches ? dark : light
  }
  scheme.addEventListener("change", onScheme)

  return {
    term,
    search: loadSearch,
    renderer: () => renderer,
    useWebgl,
    dispose: () => {
      disposed = true
      scheme.removeEventListener("change", onScheme)
      term.dispose()
    },
  }
}

const MOUSE_EVENTS = [
  "mousedown",
  "mousemove",
  "mouseup",
  "click",
  "dblclick",
  "auxclick",
  "contextmenu",
  "wheel",
] as const

/**
 * xterm.js maps a pointer to a cell as `(clientX - rect.left) / cellWidth`, where the rect is
 * measured after CSS transforms but the cell width is not (xterm 6.0). Under our
 * `transform: scale(s)` that lands s× off. This re-dispatches pointer events aimed at a
 * terminal inside an element with `data-term-scale` (and the drag that started there) with
 * coordinates mapped back to the unscaled box, so selection, links and mouse reporting hit
 * the right cell. Returns the uninstaller.
 */
export const correctScaledPointer = (): (() => void) => {
  const ours = new WeakSet<Event>()
  let drag: { screen: HTMLElement; stage: HTMLElement } | undefined
  const locate = (target: EventTarget | null) => {
    if (!(target instanceof Element)) return undefined
    const stage = target.closest<HTMLElement>("[data-term-scale]")
    const screen = stage?.querySelector<HTMLElement>(".xterm-screen")
    return stage && screen ? { stage, screen } : undefined
  }
  const listener = (event: Event) => {
    if (ours.has(event) || !(event instanceof MouseEvent)) return
    const hit = locate(event.target) ?? drag
    if (hit === undefined) return
    const s = Number(hit.stage.dataset.termScale)
    if (!Number.isFinite(s) || s <= 0 || Math.abs(s - 1) < 0.001) return
    if (event.type === "mousedown") drag = hit
    if (event.type === "mouseup") drag = undefined
    const rect = hit.screen.getBoundingClientRect()
    const init: MouseEventInit = {
      bubbles: event.bubbles,
      cancelable: event.cancelable,
      composed: event.composed,
      view: event.view,
      detail: event.detail,
      screenX: event.screenX,
      screenY: event.screenY,
      clientX: rect.left + (event.clientX - rect.left) / s,
      clientY: rect.top + (event.clientY - rect.top) / s,
      ctrlKey: event.ctrlKey,
      shiftKey: event.shiftKey,
      altKey: event.altKey,
      metaKey: event.metaKey,
      button: event.button,
      buttons: event.buttons,
      relatedTarget: event.relatedTarget,
    }
    const copy =
      event instanceof WheelEvent
        ? new WheelEvent(event.type, {
            ...init,
            deltaX: event.deltaX,
            deltaY: event.deltaY,
            deltaZ: event.deltaZ,
            deltaMode: event.deltaMode,
          })
        : new MouseEvent(event.type, init)
    ours.add(copy)
    event.stopImmediatePropagation()
    const allowed = (event.target ?? hit.screen).dispatchEvent(copy)
    if (!allowed) event.preventDefault()
  }
  for (const type of MOUSE_EVENTS) {
    window.addEventListener(type, listener, { capture: true, passive: false })
  }
  return () => {
    for (const type of MOUSE_EVENTS) window.removeEventListener(type, listener, { capture: true })
  }
}
