import { Clock, Duration, Effect, Queue } from "effect"
import type { ActivityState } from "../domain/events.js"

export interface ActivitySettings {
  /** Silence after which an active process becomes idle. */
  readonly idleMs: number
  /** Output must keep coming for this long before an idle process becomes active. */
  readonly confirmMs: number
}

export interface ActivityModel {
  readonly state: ActivityState
  readonly lastOutputAt: number
  /** When the current run of output started while idle (hysteresis), if one is under way. */
  readonly burstStartedAt: number | undefined
}

export const initialActivity = (now: number): ActivityModel => ({
  state: "active",
  lastOutputAt: now,
  burstStartedAt: undefined,
})

/**
 * Output seen at `now`. An idle process turns active only when output keeps coming for
 * `confirmMs` with no gap longer than `idleMs`: one echoed keystroke or a clock ticking
 * once does not flip the state, a build printing does.
 */
export const onOutput = (model: ActivityModel, now: number, s: ActivitySettings): ActivityModel => {
  if (model.state === "active") return { ...model, lastOutputAt: now }
  const continuing = model.burstStartedAt !== undefined && now - model.lastOutputAt <= s.idleMs
  const burstStartedAt = continuing ? (model.burstStartedAt ?? now) : now
  if (continuing && now - burstStartedAt >= s.confirmMs) {
    return { state: "active", lastOutputAt: now, burstStartedAt: undefined }
  }
  return { state: "idle", lastOutputAt: now, burstStartedAt }
}

/** Time passed with no output: active turns idle once `idleMs` of silence is reached. */
export const onSilence = (model: ActivityModel, now: number, s: ActivitySettings): ActivityModel =>
  model.state === "active" && now - model.lastOutputAt >= s.idleMs
    ? {
        state: "idle",
        lastOutputAt: model.lastOutputAt,
        burstStartedAt: undefined,
      }
    : model

/**
 * Drives the model from output signals (each carrying the time output was seen) and the
 * clock, calling `onChange` on each transition. While active it wakes once per idle
 * threshold, not per signal: during a flood the signals only overwrite the newest time in
 * a one-slot queue (measured: a timer per signal cost more CPU than tmux itself). An idle
 * runner waits on its queue and costs nothing.
 */
export const runActivityTracker = (
  signals: Queue.Dequeue<number>,
  settings: ActivitySettings,
  onChange: (state: ActivityState) => Effect.Effect<void>,
  current: { model: ActivityModel },
) =>
  Effect.gen(function* () {
    for (;;) {
      const model = current.model
      if (model.state === "active") {
        const now = yield* Clock.currentTimeMillis
        yield* Effect.sleep(
          Duration.millis(Math.max(0, model.lastOutputAt + settings.idleMs - now)),
        )
        const seen = yield* Queue.takeAll(signals)
        const at = yield* Clock.currentTimeMillis
        let latest = model.lastOutputAt
        for (const t of seen) latest = Math.max(latest, t)
        current.model =
          latest > model.lastOutputAt
            ? onOutput(model, latest, settings)
            : onSilence(model, at, settings)
      } else {
        const at = yield* Queue.take(signals)
        current.model = onOutput(model, at, settings)
      }
      if (current.model.state !== model.state) yield* onChange(current.model.state)
    }
  })
