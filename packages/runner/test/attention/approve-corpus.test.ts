import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import { answers, makeCorpus, rulesByProvider } from "./approve-corpus.js"

describe("auto-approve over a generated corpus", () => {
  it.effect("answers none of 1,000 screens it must not, and every allowed dialog", () =>
    Effect.gen(function* () {
      const corpus = makeCorpus(1000)
      const rules = yield* rulesByProvider([...new Set(corpus.map((c) => c.provider))])
      const wrong: Array<string> = []
      const kinds = new Map<string, number>()
      for (const c of corpus) {
        kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1)
        const answered = answers(c, rules.get(c.provider) ?? [])
        if (answered !== c.shouldAnswer) {
          wrong.push(
            `${c.kind} (${c.provider}): ${answered ? "answered" : "not answered"}\n${c.screen.slice(-14).join("\n")}`,
          )
        }
      }
      expect(corpus.filter((c) => !c.shouldAnswer).length).toBeGreaterThanOrEqual(1000)
      // Every kind is in the corpus, so none of the checks above is vacuous.
      expect([...kinds.keys()].sort()).toEqual([
        "[y/N] question",
        "allowed (control)",
        "changed before typing",
        "half off screen",
        "not allowed",
        "numbered list",
        "real screen",
        "two rows",
      ])
      expect(wrong.slice(0, 5)).toEqual([])
    }),
  )
})
