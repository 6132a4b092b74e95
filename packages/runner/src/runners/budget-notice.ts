// A runner's budget notice: raised once per budget and period, shown over an agent merely back
// at its prompt, dismissed when someone types into the runner or it ends.
import type { RunnerState } from "./runner-state.js"

/** An open budget notice: its id (the summary's `attentionId`) and what was crossed. */
export interface BudgetNotice {
  readonly id: string
  readonly detail: string
  readonly at: number
}

/** Crossings a runner remembers at most (one per budget and period). */
const MAX_CROSSINGS = 64

/**
 * The budget notice, when the summary shows it: it yields to any other prompt the detector sees
 * (a permission, a question, a bell: one may need an answer before the agent goes on), never to
 * an agent merely back at its prompt (`ready`), so the notice is not lost when the turn that
 * crossed the budget ends.
 */
export const budgetShown = (s: RunnerState): BudgetNotice | undefined =>
  s.live &&
  !s.paused &&
  s.budgetNotice !== undefined &&
  (!s.waitingForInput || s.attentionReason === "ready")
    ? s.budgetNotice
    : undefined

/**
 * Raises a notice for crossings `keys` (a budget and its period each) unless this runner raised
 * them all already; a crossing is remembered even when its notice is later dismissed.
 */
export const raiseBudgetNotice = (
  s: RunnerState,
  keys: ReadonlyArray<string>,
  detail: string,
  at: number,
): RunnerState => {
  const crossings = s.budgetCrossings ?? []
  const fresh = keys.filter((k) => !crossings.includes(k))
  if (!s.live || fresh.length === 0) return s
  const next = [...crossings, ...fresh].slice(-MAX_CROSSINGS)
  return {
    ...s,
    budgetCrossings: next,
    budgetNotice: { id: `budget-${at.toString(36)}`, detail, at },
  }
}

/** A person typed into the runner (or it ended): the notice has done its work. */
export const dismissBudgetNotice = (s: RunnerState): RunnerState => {
  if (s.budgetNotice === undefined) return s
  const { budgetNotice: _n, ...rest } = s
  return rest
}
