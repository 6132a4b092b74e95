import type { ScreenVerdict } from "./evaluate.js"
import type { ScreenAnswer } from "./rules.js"

/** Whether the pane wants a person, and why; published once per change. */
export interface AttentionState {
  readonly waitingForInput: boolean
  /** `permission`, `question`, `ready`, `bell`, … (from the rule, else the kind). */
  readonly reason?: string
  readonly ruleId?: string
  readonly answers?: ReadonlyArray<ScreenAnswer>
  /** What a permission dialog asks for (`ScreenVerdict.detail`). */
  readonly detail?: string
  /** The dialog's "yes" answer, when its rule declares one. */
  readonly yes?: ScreenAnswer
  /** Which dialog this is (`ScreenVerdict.fingerprint`): another one is another prompt. */
  readonly fingerprint?: string
}

export const NOT_WAITING: AttentionState = { waitingForInput: false }

export interface AttentionSettings {
  /** Silence needed before a screen is read for entering waiting. */
  readonly debounceMs: number
  /** Gap before the second, confirming capture. */
  readonly confirmMs: number
  /** Delay after output, while waiting, before checking the prompt is still up. */
  readonly recheckMs: number
}

export const defaultAttentionSettings: AttentionSettings = {
  debounceMs: 1_500,
  confirmMs: 250,
  recheckMs: 300,
}

/** The next capture the driver owes the model, and when. */
export type AttentionPending =
  | { readonly kind: "sample"; readonly at: number }
  | { readonly kind: "confirm"; readonly at: number; readonly candidate: AttentionState }
  | { readonly kind: "recheck"; readonly at: number }

export interface AttentionModel {
  readonly state: AttentionState
  readonly lastOutputAt: number | undefined
  /** A BEL arrived since the screen was last judged at a quiet point. */
  readonly bell: boolean
  /** No capture owed means no timer: a quiet, settled pane costs nothing. */
  readonly pending: AttentionPending | undefined
}

/** Starts with one look at the screen, so a pane already at a prompt is noticed. */
export const initialAttention = (
  now: number,
  s: AttentionSettings,
  state: AttentionState = NOT_WAITING,
): AttentionModel => ({
  state,
  lastOutputAt: undefined,
  bell: false,
  // A state carried over (a server restart) is re-checked soon: kept if the prompt is still
  // up, cleared once if not; never announced again.
  pending: state.waitingForInput
    ? { kind: "recheck", at: now + s.recheckMs }
    : { kind: "sample", at: now + s.debounceMs },
})

/**
 * Output at `at`. Not waiting: (re)start the debounce. Waiting: schedule one re-check
 * `recheckMs` after the first output since the last look, and do not push it back on
 * more output, or a continuous spinner after the prompt closed would keep it waiting.
 */
export const onAttentionOutput = (
  m: AttentionModel,
  at: number,
  bell: boolean,
  s: AttentionSettings,
): AttentionModel => {
  const base = { ...m, lastOutputAt: at, bell: m.bell || bell }
  if (!m.state.waitingForInput) {
    return { ...base, pending: { kind: "sample", at: at + s.debounceMs } }
  }
  return m.pending?.kind === "recheck"
    ? base
    : { ...base, pending: { kind: "recheck", at: at + s.recheckMs } }
}

/** What a verdict (plus a pending bell) would make the state, if it means "waiting". */
export const candidateOf = (v: ScreenVerdict, bell: boolean): AttentionState | undefined => {
  if (v.kind === "waiting" || v.kind === "ready") {
    return {
      waitingForInput: true,
      reason: v.reason ?? v.kind,
      ...(v.ruleId !== undefined ? { ruleId: v.ruleId } : {}),
      ...(v.answers !== undefined ? { answers: v.answers } : {}),
      ...(v.detail !== undefined ? { detail: v.detail } : {}),
      ...(v.yes !== undefined ? { yes: v.yes } : {}),
      ...(v.fingerprint !== undefined ? { fingerprint: v.fingerprint } : {}),
    }
  }
  return bell ? { waitingForInput: true, reason: "bell" } : undefined
}

/**
 * Whether two states show the same prompt: the same rule on the same dialog asking the same
 * thing. Two captures must agree on all of it before a prompt is published, and a re-check
 * that finds another dialog of the same rule publishes it as a new prompt.
 */
export const samePrompt = (a: AttentionState, b: AttentionState): boolean =>
  a.reason === b.reason &&
  a.ruleId === b.ruleId &&
  a.detail === b.detail &&
  a.fingerprint === b.fingerprint

const sameCandidate = samePrompt

export interface AttentionStep {
  readonly model: AttentionModel
  /** Set when the published state changes. */
  readonly changed: AttentionState | undefined
}

const settle = (m: AttentionModel): AttentionStep => ({
  model: { ...m, bell: false, pending: undefined },
  changed: undefined,
})

/**
 * The verdict of the capture owed by `m.pending`, taken at `now` with no output since it
 * was due. Entering waiting takes two agreeing captures `confirmMs` apart; while waiting,
 * a re-check keeps it as long as a waiting/ready rule still matches (a spinner may redraw
 * above a prompt that stays up) and clears it otherwise.
 */
export const onAttentionSample = (
  m: AttentionModel,
  now: number,
  verdict: ScreenVerdict,
  s: AttentionSettings,
): AttentionStep => {
  const pending = m.pending
  if (pending === undefined) return { model: m, changed: undefined }
  const candidate = candidateOf(verdict, m.bell)
  switch (pending.kind) {
    case "sample":
      return candidate === undefined
        ? settle(m)
        : {
            model: { ...m, pending: { kind: "confirm", at: now + s.confirmMs, candidate } },
            changed: undefined,
          }
    case "confirm":
      if (candidate === undefined) return settle(m)
      if (!sameCandidate(candidate, pending.candidate)) {
        // The screen changed under us without output we saw yet: start the pair again.
        return {
          model: { ...m, pending: { kind: "confirm", at: now + s.confirmMs, candidate } },
          changed: undefined,
        }
      }
      return {
        model: { ...m, state: candidate, bell: false, pending: undefined },
        changed: candidate,
      }
    case "recheck": {
      const still = candidateOf(verdict, false)
      if (still !== undefined) {
        return sameCandidate(still, m.state)
          ? settle(m)
          : { model: { ...m, state: still, bell: false, pending: undefined }, changed: still }
      }
      // Cleared; the output that cleared it then goes through the usual debounce.
      const from = m.lastOutputAt ?? now
      return {
        model: {
          ...m,
          state: NOT_WAITING,
          bell: false,
          pending: { kind: "sample", at: Math.max(now, from + s.debounceMs) },
        },
        changed: NOT_WAITING,
      }
    }
  }
}

/**
 * What an agent's own hook said (Claude Code hooks, Codex `notify`): it now waits for a person
 * (with why: `permission`, `question`, `ready`) or it went back to work.
 */
export type AttentionHint =
  | { readonly kind: "waiting"; readonly reason: string }
  | { readonly kind: "working" }

/**
 * A hook event at `at`. The agent told us, so no debounce: `waiting` is published at once
 * (output afterwards schedules the usual re-check, which clears it if no waiting or ready rule
 * holds); `working` clears waiting at once and restarts the debounce, since whatever the
 * screen showed before is stale. A waiting hint with the reason already published changes
 * nothing, so a screen rule's id and answers are kept.
 */
export const onAttentionHint = (
  m: AttentionModel,
  at: number,
  hint: AttentionHint,
  s: AttentionSettings,
): AttentionStep => {
  if (hint.kind === "working") {
    return {
      model: {
        ...m,
        state: NOT_WAITING,
        bell: false,
        pending: { kind: "sample", at: at + s.debounceMs },
      },
      changed: m.state.waitingForInput ? NOT_WAITING : undefined,
    }
  }
  const settled = { ...m, bell: false, pending: undefined }
  if (m.state.waitingForInput && m.state.reason === hint.reason) {
    return { model: settled, changed: undefined }
  }
  const state: AttentionState = { waitingForInput: true, reason: hint.reason }
  return { model: { ...settled, state }, changed: state }
}

const ESC = 0x1b
const BEL = 0x07
// ESC ] (OSC), P (DCS), X (SOS), ^ (PM), _ (APC): strings a BEL may end but never ring in.
const STRING_INTRODUCERS = new Set([0x5d, 0x50, 0x58, 0x5e, 0x5f])
const CAN = 0x18
const SUB = 0x1a
const BACKSLASH = 0x5c
// An unterminated string must not swallow every later bell.
const MAX_STRING_BYTES = 4096

type ScanState = "ground" | "esc" | "string" | "stringEsc"

/** Finds BELs that ring (not OSC terminators), keeping escape state across chunks. */
export const makeBellScanner = () => {
  let state: ScanState = "ground"
  let stringBytes = 0
  const step = (byte: number): boolean => {
    switch (state) {
      case "ground":
        if (byte === ESC) state = "esc"
        return byte === BEL
      case "esc":
        if (STRING_INTRODUCERS.has(byte)) {
          state = "string"
          stringBytes = 0
          return false
        }
        if (byte === ESC) return false
        state = "ground"
        return byte === BEL
      case "string":
        if (byte === BEL || byte === CAN || byte === SUB) state = "ground"
        else if (byte === ESC) state = "stringEsc"
        else if (++stringBytes > MAX_STRING_BYTES) state = "ground"
        return false
      case "stringEsc":
        if (byte === BACKSLASH) {
          state = "ground"
          return false
        }
        // ESC not followed by `\` aborts the string and starts a new sequence.
        state = "esc"
        return step(byte)
    }
  }
  return {
    /**
     * Whether `bytes` holds a ringing BEL. Plain text is skipped with `indexOf` (memchr), not
     * stepped byte by byte: this runs on every byte a runner prints, and the byte loop cost a
     * quarter of the server's CPU during a 100 MB flood.
     */
    push: (chunk: Uint8Array): boolean => {
      const bytes = Buffer.isBuffer(chunk)
        ? chunk
        : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      let rang = false
      // Where the next BEL is (-1: none left), looked up again once passed.
      let bel = -2
      let i = 0
      while (i < bytes.length) {
        if (state !== "ground") {
          if (step(bytes[i] ?? 0)) rang = true
          i++
          continue
        }
        const esc = bytes.indexOf(ESC, i)
        const stop = esc === -1 ? bytes.length : esc
        if (!rang && bel !== -1 && bel < i) bel = bytes.indexOf(BEL, i)
        // A BEL in plain text, before the next escape, rings.
        if (!rang && bel !== -1 && bel < stop) rang = true
        if (esc === -1) break
        state = "esc"
        i = esc + 1
      }
      return rang
    },
  }
}
