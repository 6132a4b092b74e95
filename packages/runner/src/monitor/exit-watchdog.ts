import { Duration, Effect, Queue } from "effect"
import { processState } from "./process-tree.js"

/** A pane whose exit we still wait for. */
export interface WatchedPane {
  readonly pid: number
  readonly exited: Effect.Effect<boolean>
  /**
   * Called for a pane whose process is gone with no exit seen: if tmux shows the pane dead,
   * it records the exit with tmux's status (the hook could not write it), or without one.
   */
  readonly statusLost: Effect.Effect<void>
}

/**
 * Works around a tmux 3.3a race (reproduced here with plain tmux: ~1 in 3 `cat` panes
 * ended by C-d): tmux sometimes misses the SIGCHLD of a pane's process, leaving it a
 * zombie with `pane_dead_status` empty and the `pane-died` hook never run. Any later
 * SIGCHLD makes tmux reap it, so when a watched pane's process is a zombie we make tmux
 * run a no-op job (`run-shell -b true`), after which the hook fires as usual.
 *
 * Checks run shortly after input is sent or a pane turns idle (when exits happen), plus a
 * sweep every 5 s while any pane is watched; each reads one /proc file per watched pane
 * and forks nothing unless a zombie is found.
 */
/** How long after a keystroke `pokeNow` wakes the watchdog (it then waits its 200 ms). */
const POKE_DELAY_MS = 5

export const makeExitWatchdog = (kick: Effect.Effect<void>) =>
  Effect.gen(function* () {
    const watched = new Set<WatchedPane>()
    const suspect = yield* Queue.sliding<void>(1)
    let pokeTimer: ReturnType<typeof setTimeout> | undefined
    yield* Effect.addFinalizer(() => Effect.sync(() => clearTimeout(pokeTimer)))

    const sweep = Effect.gen(function* () {
      const zombies: WatchedPane[] = []
      for (const pane of watched) {
        if (yield* pane.exited) {
          watched.delete(pane)
          continue
        }
        const state = processState(pane.pid)
        if (state === undefined || state === "Z") zombies.push(pane)
      }
      if (zombies.length === 0) return
      yield* kick
      yield* Effect.sleep("1 second")
      for (const pane of zombies) {
        if (!(yield* pane.exited) && processState(pane.pid) === undefined) {
          yield* pane.statusLost
        }
      }
    })

    yield* Effect.forkScoped(
      Effect.forever(
        Effect.gen(function* () {
          yield* Queue.take(suspect).pipe(
            Effect.timeoutTo({
              duration: Duration.seconds(5),
              onSuccess: () => undefined,
              onTimeout: () => undefined,
            }),
          )
          if (watched.size === 0) return
          // Give tmux its normal chance first: most exits are reaped within milliseconds.
          yield* Effect.sleep("200 millis")
          yield* sweep
        }),
      ),
    )

    return {
      watch: (pane: WatchedPane) => Effect.sync(() => watched.add(pane)),
      unwatch: (pane: WatchedPane) => Effect.sync(() => watched.delete(pane)),
      poke: Effect.sync(() => Queue.unsafeOffer(suspect, undefined)),
      /**
       * `poke` from plain code (the keystroke path), on a timer of its own: waking the fiber
       * at once ran its Effect code on the event loop just as the key's echo came to be read.
       * One timer however fast the keys come.
       */
      pokeNow: () => {
        pokeTimer ??= setTimeout(() => {
          pokeTimer = undefined
          Queue.unsafeOffer(suspect, undefined)
        }, POKE_DELAY_MS)
        pokeTimer.unref()
      },
    }
  })
