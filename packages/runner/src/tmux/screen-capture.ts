import { Effect } from "effect"
import type { Screen } from "../attention/evaluate.js"
import type { PaneId } from "../domain/ids.js"

/** The part of `TmuxControlClient` a capture needs: several commands, one reply per command. */
export interface TmuxCommandRunner<E> {
  readonly exec: (
    commands: ReadonlyArray<ReadonlyArray<string>>,
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, E>
}

/**
 * A pane's screen and title in one control-mode round trip: both commands go on one line,
 * which tmux runs back to back before it reads more pane output, so the title and the rows
 * belong to the same moment. tmux 3.3a (checked) prints the title's UTF-8 as is and drops
 * control characters from an OSC title, so the title is always one line.
 */
export const captureScreen = <E>(
  client: TmuxCommandRunner<E>,
  paneId: PaneId,
): Effect.Effect<Screen, E> =>
  Effect.map(
    client.exec([
      ["display-message", "-p", "-t", paneId, "#{pane_title}"],
      ["capture-pane", "-p", "-t", paneId],
    ]),
    ([title, lines]) => ({ title: title?.[0] ?? "", lines: lines ?? [] }),
  )
