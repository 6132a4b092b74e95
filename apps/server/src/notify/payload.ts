import type {
  NotificationPayload,
  NotifyEvent,
  QuickAnswer,
  RunnerSummary,
} from "@geppetto/protocol"

/** Quick answers a notification offers at most (browsers show two actions, some more). */
export const MAX_ACTIONS = 2

const REASON_TITLE: Readonly<Record<string, string>> = {
  permission: "asks for permission",
  question: "has a question",
  ready: "is ready for its next prompt",
  bell: "rang the bell",
  budget: "went over a budget",
}

/** Failure reasons are short; a long one (a monitor's error) is cut to keep the push small. */
const MAX_REASON = 200
const clip = (text: string): string =>
  text.length <= MAX_REASON ? text : `${text.slice(0, MAX_REASON - 1)}…`

const duration = (ms: number): string => {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min ${s % 60} s`
  return `${Math.floor(m / 60)} h ${m % 60} min`
}

/**
 * What a push carries and a `json` webhook posts for one transition. Nothing from the terminal
 * but the attention reason, the failure reason and the quick answers' labels: no prompt, no
 * output, no `attentionDetail` (the command a permission prompt names may hold a secret) but a
 * budget notice's, which is the budget's own text.
 * `answers` only where the recipient may answer (an operator or admin).
 */
export const notificationPayload = (
  event: NotifyEvent,
  runner: RunnerSummary,
  options: { readonly answers?: ReadonlyArray<QuickAnswer> | undefined; readonly at: number },
): NotificationPayload => {
  const base = {
    runnerId: runner.id,
    name: runner.name,
    event,
    status: runner.status,
    url: `/runners/${encodeURIComponent(runner.id)}`,
    at: options.at,
  }
  if (event === "waiting" && runner.attentionReason === "budget") {
    // The notice's text is the budget's, from config.json: nothing from the terminal.
    return {
      ...base,
      reason: "budget",
      ...(runner.attentionId !== undefined ? { attentionId: runner.attentionId } : {}),
      title: `${runner.name} ${REASON_TITLE.budget}`,
      body: `${clip(runner.attentionDetail ?? "A budget is spent")}. It keeps running.`,
    }
  }
  if (event === "waiting") {
    const reason = runner.attentionReason
    const answers = (options.answers ?? []).slice(0, MAX_ACTIONS).map((a) => ({ label: a.label }))
    return {
      ...base,
      ...(reason !== undefined ? { reason } : {}),
      ...(runner.attentionId !== undefined ? { attentionId: runner.attentionId } : {}),
      title: `${runner.name} ${REASON_TITLE[reason ?? ""] ?? "waits for you"}`,
      body:
        answers.length > 0
          ? `Waiting (${reason ?? "input"}): answer ${answers.map((a) => a.label).join(" or ")}, or open it.`
          : `Waiting (${reason ?? "input"}) for you.`,
      ...(answers.length > 0 ? { answers } : {}),
    }
  }
  const took =
    runner.startedAt !== undefined && runner.endedAt !== undefined
      ? ` after ${duration(runner.endedAt - runner.startedAt)}`
      : ""
  if (event === "completed") {
    return { ...base, title: `${runner.name} completed`, body: `Exited 0${took}.` }
  }
  const reason = runner.failureReason === undefined ? undefined : clip(runner.failureReason)
  return {
    ...base,
    ...(reason !== undefined ? { reason } : {}),
    title: `${runner.name} failed`,
    body: `${reason ?? "It ended badly"}${took}.`,
  }
}
