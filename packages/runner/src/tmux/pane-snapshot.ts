import { Effect } from "effect"
import type { PaneId } from "../domain/ids.js"

/** What a late viewer needs to draw a pane as it is: terminal sequences that redraw it. */
export interface PaneSnapshot {
  readonly cols: number
  readonly rows: number
  readonly data: string
}

/**
 * A snapshot with the log offset it is true at: a viewer draws it, then the output from
 * `offset`. `exact` is false when the pane never went quiet while it was taken, so a few
 * bytes around `offset` may be drawn twice or not at all.
 */
export interface RunnerSnapshot extends PaneSnapshot {
  readonly offset: number
  readonly exact: boolean
}

/** Pane modes tmux reports, as `display-message` format values. */
const STATE_FORMATS = [
  "pane_width",
  "pane_height",
  "cursor_x",
  "cursor_y",
  "cursor_flag",
  "alternate_on",
  "keypad_cursor_flag",
  "keypad_flag",
  "insert_flag",
  "wrap_flag",
  "origin_flag",
  "mouse_standard_flag",
  "mouse_button_flag",
  "mouse_any_flag",
  "mouse_sgr_flag",
  "scroll_region_upper",
  "scroll_region_lower",
  "history_size",
  "alternate_saved_x",
  "alternate_saved_y",
] as const
type PaneModes = Record<(typeof STATE_FORMATS)[number], number>

const SEP = "\x1f"
/** Scrollback lines included so a new viewer can scroll up a little; older output is in the log. */
export const SNAPSHOT_HISTORY_LINES = 500

const ESC = "\x1b"
const CSI = `${ESC}[`

/** Rows of a capture drawn one under the other from the current cursor (each from a clean pen). */
const drawRows = (rows: ReadonlyArray<string>): string =>
  rows.map((row) => `${CSI}0m${row}`).join("\r\n")

/**
 * The sequences that redraw a pane: scrollback and normal screen, then the alternate screen
 * when one is up, then scroll region, modes and cursor. Pure, so it is tested on its own.
 */
export const renderSnapshot = (input: {
  readonly modes: PaneModes
  /** History then screen rows of the normal screen (`capture-pane -p -e -S -N`, or `-a`). */
  readonly normal: ReadonlyArray<string>
  /** The alternate screen's rows, when it is up. */
  readonly alternate: ReadonlyArray<string> | undefined
}): string => {
  const m = input.modes
  const parts: string[] = [
    // Reset to a known state: normal screen, default modes, clear screen and scrollback.
    `${CSI}?1049l${CSI}!p${CSI}0m${CSI}H${CSI}2J${CSI}3J`,
    drawRows(input.normal),
  ]
  if (input.alternate !== undefined) {
    // Leaving the alternate screen restores the cursor saved on entering it: put it there first.
    parts.push(`${CSI}${m.alternate_saved_y + 1};${m.alternate_saved_x + 1}H`)
    parts.push(`${CSI}?1049h${CSI}H${CSI}2J`, drawRows(input.alternate))
  }
  parts.push(`${CSI}0m`)
  if (m.scroll_region_upper !== 0 || m.scroll_region_lower !== m.pane_height - 1) {
    parts.push(`${CSI}${m.scroll_region_upper + 1};${m.scroll_region_lower + 1}r`)
  }
  if (m.origin_flag === 1) parts.push(`${CSI}?6h`)
  if (m.keypad_cursor_flag === 1) parts.push(`${CSI}?1h`)
  if (m.keypad_flag === 1) parts.push(`${ESC}=`)
  if (m.insert_flag === 1) parts.push(`${CSI}4h`)
  if (m.wrap_flag === 0) parts.push(`${CSI}?7l`)
  if (m.mouse_standard_flag === 1) parts.push(`${CSI}?1000h`)
  if (m.mouse_button_flag === 1) parts.push(`${CSI}?1002h`)
  if (m.mouse_any_flag === 1) parts.push(`${CSI}?1003h`)
  if (m.mouse_sgr_flag === 1) parts.push(`${CSI}?1006h`)
  // Absolute cursor position; under origin mode rows count from the scroll region's top.
  const row = m.origin_flag === 1 ? m.cursor_y - m.scroll_region_upper : m.cursor_y
  parts.push(`${CSI}${row + 1};${m.cursor_x + 1}H`)
  parts.push(m.cursor_flag === 1 ? `${CSI}?25h` : `${CSI}?25l`)
  return parts.join("")
}

/** The part of the control client a snapshot needs. */
export interface SnapshotTmux<E> {
  readonly exec: (
    commands: ReadonlyArray<ReadonlyArray<string>>,
  ) => Effect.Effect<ReadonlyArray<ReadonlyArray<string>>, E>
}

const parseModes = (line: string | undefined): PaneModes => {
  const values = (line ?? "").split(SEP)
  const modes = {} as PaneModes
  STATE_FORMATS.forEach((name, i) => {
    const n = Number(values[i] ?? "0")
    modes[name] = Number.isFinite(n) ? n : 0
  })
  return modes
}

/**
 * A pane's snapshot from tmux in one control-mode round trip (tmux runs the commands of one
 * line back to back, so modes and rows belong to the same moment).
 */
export const capturePaneSnapshot = <E>(
  tmux: SnapshotTmux<E>,
  paneId: PaneId,
): Effect.Effect<PaneSnapshot, E> =>
  Effect.gen(function* () {
    const format = STATE_FORMATS.map((f) => `#{${f}}`).join(SEP)
    const [modesReply, screenReply, savedReply] = yield* tmux.exec([
      ["display-message", "-p", "-t", paneId, format],
      ["capture-pane", "-p", "-e", "-S", `-${SNAPSHOT_HISTORY_LINES}`, "-t", paneId],
      // The saved normal screen while the alternate one is up; an error reply otherwise.
      ["capture-pane", "-p", "-e", "-a", "-q", "-t", paneId],
    ])
    const modes = parseModes(modesReply?.[0])
    const current = screenReply ?? []
    const alternateOn = modes.alternate_on === 1
    const data = renderSnapshot({
      modes,
      normal: alternateOn ? (savedReply ?? []) : current,
      alternate: alternateOn ? current.slice(-modes.pane_height) : undefined,
    })
    return { cols: modes.pane_width, rows: modes.pane_height, data }
  })
