import { ErrorResponse, type SearchHit, SearchStreamLine } from "@geppetto/protocol"

/** How a search ended: the server's `end` line (or a failure, with its message). */
export interface SearchEnd {
  readonly truncated: boolean
  readonly timedOut: boolean
  readonly error?: string
}

/**
 * `GET /api/search` as NDJSON: `onHit` hears each hit as the server finds it. Aborting
 * `signal` (a new query, leaving the page) stops the request, and the server's search with it.
 */
export const streamSearch = async (
  query: { readonly q: string; readonly runner?: string; readonly limit?: number },
  onHit: (hit: SearchHit) => void,
  signal: AbortSignal,
): Promise<SearchEnd> => {
  const params = new URLSearchParams({ q: query.q })
  if (query.runner !== undefined) params.set("runner", query.runner)
  if (query.limit !== undefined) params.set("limit", String(query.limit))
  const response = await fetch(`/api/search?${params}`, {
    headers: { accept: "application/x-ndjson" },
    credentials: "same-origin",
    signal,
  })
  if (!response.ok) {
    const body = ErrorResponse.safeParse(await response.json().catch(() => undefined))
    return {
      truncated: false,
      timedOut: false,
      error: body.success ? body.data.error.message : `the server answered ${response.status}`,
    }
  }
  const reader = response.body?.getReader()
  if (reader === undefined) return { truncated: false, timedOut: false, error: "no answer" }
  const decoder = new TextDecoder()
  let pending = ""
  let end: SearchEnd | undefined
  const take = (text: string) => {
    if (text === "") return
    const line = SearchStreamLine.safeParse(JSON.parse(text))
    if (!line.success) return
    if (line.data.type === "hit") {
      const { type: _, ...hit } = line.data
      onHit(hit)
    } else end = { truncated: line.data.truncated, timedOut: line.data.timedOut }
  }
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    pending += decoder.decode(value, { stream: true })
    let newline = pending.indexOf("\n")
    while (newline >= 0) {
      take(pending.slice(0, newline))
      pending = pending.slice(newline + 1)
      newline = pending.indexOf("\n")
    }
  }
  take(pending + decoder.decode())
  return end ?? { truncated: false, timedOut: false, error: "the search was cut short" }
}

// The server's own pattern (runner-state.ts `ESCAPES`), for showing a log window as text.
const ESCAPES =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are control characters
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b[\]PX^_][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]|\x1b[ -/][0-~]/g
// biome-ignore lint/suspicious/noControlCharactersInRegex: controls but tab, LF and CR
const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g

/** Log bytes as plain lines: escapes dropped, a CR keeps what follows it (a redrawn line). */
export const plainLines = (text: string): string[] =>
  text
    .replace(ESCAPES, "")
    .replace(CONTROLS, "")
    .split("\n")
    .map((line) => {
      const parts = line.split("\r").filter((p) => p !== "")
      return parts[parts.length - 1] ?? ""
    })
