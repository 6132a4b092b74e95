import { Effect } from "effect"
import type { ScreenAnswer } from "../attention/rules.js"
import { PromptChangedError, ValidationError } from "../domain/errors.js"
import type { Control } from "./control.js"
import { promptOnScreen } from "./prompt-on-screen.js"
import { offeredAnswers, type RegistryContext } from "./registry-context.js"
import { readState } from "./runner-entry.js"
import { toSummary } from "./runner-state.js"

/**
 * `AiRunner.reply`: a person's quick answer (the board, a push notification, `geppetto reply`).
 * It checks, in order, that the runner waits on the very prompt the answer was offered for,
 * that the prompt offers that answer, and, for a prompt a screen rule found, that a fresh
 * capture still shows it: the state lags the screen by the detector's debounce, and the keys
 * of an old "Yes" must never land on whatever dialog came next. Then it types the answer's
 * keys as `write` does. What is left is the few milliseconds between that capture and tmux
 * typing the keys, as for auto-approve.
 */
export const makeReply =
  (ctx: RegistryContext, control: Control) => (id: string, attentionId: string, label: string) =>
    Effect.gen(function* () {
      const entry = yield* ctx.entryOf(id)
      const changed = (why: string) =>
        new PromptChangedError({
          runnerId: id,
          attentionId,
          message: `runner ${id} ${why}; nothing was typed`,
        })
      const state = yield* readState(entry)
      // The summary's id: a budget notice's own, over whatever prompt waits behind it.
      const runner = toSummary(state)
      if (!runner.waitingForInput) return yield* changed(`no longer waits on prompt ${attentionId}`)
      if (runner.attentionId !== attentionId)
        return yield* changed(`now waits on another prompt than ${attentionId}`)
      const offered = offeredAnswers(state) ?? []
      const answer: ScreenAnswer | undefined = offered.find((a) => a.label === label)
      if (answer === undefined) {
        return yield* new ValidationError({
          field: "body.label",
          message: `body.label: prompt ${attentionId} of runner ${id} offers no answer ${JSON.stringify(label)}${
            offered.length === 0
              ? " (it offers none)"
              : ` (it offers ${offered.map((a) => JSON.stringify(a.label)).join(", ")})`
          }`,
        })
      }
      // A prompt found by a screen rule is checked on the screen once more; one a hook or a
      // bell announced has no picture to compare, and only its id is checked.
      if (state.attentionRuleId !== undefined) {
        const handle = entry.handle
        const rules = entry.screenRules
        const shown =
          handle !== undefined &&
          rules !== undefined &&
          (yield* promptOnScreen(handle, rules, state))
        if (!shown) return yield* changed(`no longer shows prompt ${attentionId} on its screen`)
        // The detector may have moved on while the screen was captured.
        const now = yield* readState(entry)
        if (!now.waitingForInput || now.attentionId !== state.attentionId)
          return yield* changed(`moved on from prompt ${attentionId} while it was checked`)
      }
      yield* control.write(id, new TextEncoder().encode(answer.keys))
      return answer
    })
