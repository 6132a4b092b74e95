import { readdirSync, readFileSync } from "node:fs"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import { evaluateScreen } from "../../src/attention/evaluate.js"
import { loadRuleSet } from "../../src/attention/load-rules.js"

/*
 * Screens of the real agent CLIs, each saved exactly as `tmux capture-pane -p` printed it,
 * with its pane title and what a person looking at it would say (screens/index.json). Some
 * were reached with a local fake model API, so that real permission dialogs could be drawn
 * offline; `command` says how. The CLIs need not be installed to run this.
 */

const ScreenEntry = Schema.Struct({
  file: Schema.String.pipe(Schema.pattern(/^[a-z0-9-]+\.txt$/)),
  provider: Schema.String,
  cliVersion: Schema.String,
  command: Schema.String,
  keys: Schema.optional(Schema.String),
  title: Schema.String,
  /** Set when the pane had died: `#{pane_dead_status}`. */
  exitStatus: Schema.optional(Schema.Number),
  expected: Schema.Literal("waiting", "busy", "ready", "unknown"),
  reason: Schema.optional(Schema.String),
  /** What a permission dialog asks for, as its rule must extract it; absent: no detail. */
  detail: Schema.optional(Schema.String),
  note: Schema.optional(Schema.String),
})

const dir = new URL("./screens/", import.meta.url)
const index = Schema.decodeUnknownSync(Schema.Array(ScreenEntry))(
  JSON.parse(readFileSync(new URL("index.json", dir), "utf8")),
)

describe("real CLI screens", () => {
  it("index.json lists every screen file once", () => {
    const files = readdirSync(dir).filter((f) => f.endsWith(".txt"))
    expect(index.map((e) => e.file).sort()).toEqual(files.sort())
  })

  for (const entry of index) {
    const want = entry.reason === undefined ? entry.expected : `${entry.expected}/${entry.reason}`
    it.effect(`${entry.file} → ${want}`, () =>
      Effect.gen(function* () {
        const lines = readFileSync(new URL(entry.file, dir), "utf8").split("\n")
        const rules = yield* loadRuleSet(entry.provider, undefined)
        const verdict = evaluateScreen({ lines, title: entry.title }, rules)
        expect(verdict.kind, `rule ${verdict.ruleId ?? "(none)"}`).toBe(entry.expected)
        if (entry.reason !== undefined) expect(verdict.reason).toBe(entry.reason)
        expect(verdict.detail).toBe(entry.detail)
      }),
    )
  }
})
