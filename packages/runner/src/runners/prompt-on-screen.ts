import { Effect } from "effect"
import { evaluateScreen } from "../attention/evaluate.js"
import type { CompiledScreenRule } from "../attention/rules.js"
import { candidateOf, samePrompt } from "../attention/signals.js"
import type { ProcessMonitorHandle } from "../ports.js"
import { attentionOf, type RunnerState } from "./runner-state.js"

/**
 * Whether one more capture of the screen still shows the prompt `state` waits on: the same
 * rule, question and dialog (`samePrompt`). The state lags the screen by the detector's
 * debounce, so whatever types an answer (auto-approve, a person's quick reply) looks once more
 * right before it does. A capture that fails counts as not shown: nothing is typed blind.
 */
export const promptOnScreen = (
  handle: ProcessMonitorHandle,
  rules: ReadonlyArray<CompiledScreenRule>,
  state: RunnerState,
): Effect.Effect<boolean> =>
  handle.captureScreen.pipe(
    Effect.map((screen) => {
      const seen = candidateOf(evaluateScreen(screen, rules), false)
      return seen !== undefined && samePrompt(seen, attentionOf(state))
    }),
    Effect.orElseSucceed(() => false),
  )
