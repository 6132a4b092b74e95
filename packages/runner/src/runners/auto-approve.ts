import type { ScreenAnswer } from "../attention/rules.js"
import type { RunnerState } from "./runner-state.js"

/**
 * Whether to answer a runner's prompt for a person, and with what. The rule of the whole
 * feature is "never a wrong key": every condition below must hold, and anything else stays
 * waiting for a person. The caller still takes one more look at the screen before typing.
 */
export type ApproveDecision =
  | {
      readonly approve: true
      readonly attentionId: string
      readonly answer: ScreenAnswer
      readonly detail: string
      /** The `allow` pattern that matched. */
      readonly pattern: string
    }
  | { readonly approve: false; readonly why: string }

const no = (why: string): ApproveDecision => ({ approve: false, why })

/**
 * `pattern` matches all of `detail`: `^(?:pattern)$`, `u` flag, no `m` or `s`, so that a
 * detail of several rows (a command wrapped, or two commands) is matched as a whole or not at
 * all. A pattern that does not compile matches nothing.
 */
export const matchesWhole = (pattern: string, detail: string): boolean => {
  let re: RegExp
  try {
    re = new RegExp(`^(?:${pattern})$`, "u")
  } catch {
    return false
  }
  return re.test(detail)
}

/**
 * Answer only when: auto-approve is on; the runner is live, not paused, and waits on a
 * `permission` prompt it has not answered yet (by `attentionId`); the rule that matched
 * declares its yes answer; the prompt's detail was extracted; and one `allow` pattern matches
 * that detail as a whole.
 */
export const decideAutoApprove = (s: RunnerState): ApproveDecision => {
  const allow = s.autoApprove?.allow
  if (allow === undefined || allow.length === 0) return no("auto-approve is off")
  if (!s.live || s.paused) return no("the runner is not running")
  if (!s.waitingForInput || s.attentionId === undefined) return no("nothing waits")
  if (s.attentionReason !== "permission") return no(`the prompt is a ${s.attentionReason}`)
  if (s.autoAnsweredId === s.attentionId) return no("this prompt was answered already")
  if (s.attentionYes === undefined) return no("its rule declares no yes answer")
  if (s.attentionDetail === undefined) return no("what it asks for could not be read")
  const detail = s.attentionDetail
  const pattern = allow.find((p) => matchesWhole(p, detail))
  if (pattern === undefined) return no("no allow pattern matches what it asks for")
  return { approve: true, attentionId: s.attentionId, answer: s.attentionYes, detail, pattern }
}
