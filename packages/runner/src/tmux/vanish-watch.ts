import { Duration, Effect, Stream } from "effect"
import type { PaneId } from "../domain/ids.js"
import { isTmuxServerDown, TmuxControlClient } from "./control-client.js"
import { TmuxSessionManager } from "./session-manager.js"

const VANISH_HINTS = ["%sessions-changed", "%window-close", "%unlinked-window-close", "%exit"]

/**
 * One watcher for every monitored pane: when tmux says sessions or windows changed (or the
 * control client lost its server), a single `list-panes -a` tells which of our panes are
 * gone. One tmux command per burst of changes, however many runners there are.
 */
export const makeVanishWatch = Effect.gen(function* () {
  const client = yield* TmuxControlClient
  const sessions = yield* TmuxSessionManager
  /** Each pane's reaction to being gone; given why when the whole tmux server went. */
  const watched = new Map<PaneId, (serverGone: string | undefined) => Effect.Effect<void>>()
  const notifications = yield* client.subscribe
  yield* Effect.forkScoped(
    Stream.fromQueue(notifications).pipe(
      Stream.filter(
        (n) => n._tag === "disconnected" || VANISH_HINTS.some((h) => n.line.startsWith(h)),
      ),
      Stream.debounce(Duration.millis(50)),
      Stream.runForEach(() =>
        Effect.gen(function* () {
          if (watched.size === 0) return
          // Never starts a tmux server: after a loss the client only reconnects to one that runs.
          const panes = yield* sessions.allPanes.pipe(Effect.either)
          if (panes._tag === "Left") {
            if (!isTmuxServerDown(panes.left)) return
            const why = panes.left.message
            yield* Effect.forEach([...watched.values()], (onGone) => onGone(why), {
              concurrency: "unbounded",
            })
            return
          }
          const alive = new Set(panes.right.map((p) => p.paneId))
          const gone = [...watched].filter(([id]) => !alive.has(id))
          yield* Effect.forEach(gone, ([, onGone]) => onGone(undefined), {
            concurrency: "unbounded",
          })
        }),
      ),
    ),
  )
  return {
    register: (paneId: PaneId, onGone: (serverGone: string | undefined) => Effect.Effect<void>) =>
      Effect.acquireRelease(
        Effect.sync(() => watched.set(paneId, onGone)),
        () => Effect.sync(() => watched.delete(paneId)),
      ),
  }
})
