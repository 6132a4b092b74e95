import * as z from "zod/mini"
import { RunnerId } from "./ids.js"

export const SEARCH_MIN_QUERY = 2
export const SEARCH_MAX_QUERY = 200
export const SEARCH_DEFAULT_LIMIT = 100
export const SEARCH_MAX_LIMIT = 1000

/**
 * `GET /api/search?q=&runner=&limit=`. `q` is a literal (never a regular expression),
 * matched case-insensitively against the plain text of every kept log byte (terminal escape
 * sequences stripped); no control characters. `runner` searches one runner alone (its id).
 */
export const SearchQuery = z.strictObject({
  q: z.string().check(
    z.minLength(SEARCH_MIN_QUERY),
    z.maxLength(SEARCH_MAX_QUERY),
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the control characters refused
    z.refine((q) => !/[\x00-\x1f\x7f]/.test(q), { message: "must not hold control characters" }),
    z.refine((q) => q.trim().length >= SEARCH_MIN_QUERY, {
      message: `must hold at least ${SEARCH_MIN_QUERY} characters besides spaces`,
    }),
  ),
  runner: z.optional(RunnerId),
  limit: z.optional(
    z.pipe(
      z.pipe(
        z.string().check(z.regex(/^[0-9]{1,4}$/, "must be an integer from 1 to 1000")),
        z.transform(Number),
      ),
      z.int().check(z.minimum(1), z.maximum(SEARCH_MAX_LIMIT)),
    ),
  ),
})
export type SearchQuery = z.infer<typeof SearchQuery>

/** One match: the runner, the log offset of the match's first byte, and its line as plain text. */
export const SearchHit = z.object({
  runnerId: z.string(),
  name: z.string(),
  offset: z.number(),
  line: z.string(),
})
export type SearchHit = z.infer<typeof SearchHit>

/**
 * The body of `GET /api/search`: `hits` in order found (newest runner first, then by
 * offset); `truncated` when `limit` stopped it, `timedOut` when its time budget did (what was
 * found so far is given either way).
 */
export const SearchResponse = z.object({
  hits: z.array(SearchHit),
  truncated: z.boolean(),
  timedOut: z.boolean(),
})
export type SearchResponse = z.infer<typeof SearchResponse>

/**
 * One line of `GET /api/search` with `Accept: application/x-ndjson`: a `hit` per line as
 * found, then one `end`.
 */
export const SearchStreamLine = z.discriminatedUnion("type", [
  z.object({ type: z.literal("hit"), ...SearchHit.shape }),
  z.object({ type: z.literal("end"), truncated: z.boolean(), timedOut: z.boolean() }),
])
export type SearchStreamLine = z.infer<typeof SearchStreamLine>
