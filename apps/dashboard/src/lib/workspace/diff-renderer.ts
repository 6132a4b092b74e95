// Loaded with a dynamic import() when a runner's Changes view opens, never with the board:
// diff2html, its slim highlight.js build (the common languages) and its stylesheet.
import "diff2html/bundles/css/diff2html.min.css"
import { parse } from "diff2html/lib-esm/diff2html.js"
import { ColorSchemeType, type DiffFile } from "diff2html/lib-esm/types.js"
import { Diff2HtmlUI } from "diff2html/lib-esm/ui/js/diff2html-ui-slim.js"

export type DiffLayout = "side-by-side" | "line-by-line"

/** One rendered file: the names git gave it and its block in the rendered diff. */
export interface RenderedFile {
  readonly oldName: string
  readonly newName: string
  readonly element: HTMLElement
}

/**
 * Draws a unified git diff into `target` with diff2html (which escapes every line of it; the
 * highlighter then works on the escaped text), syntax coloured by file extension. Answers the
 * drawn files in patch order, so the caller's file list can jump to each.
 */
export const renderDiff = (
  target: HTMLElement,
  patch: string,
  layout: DiffLayout,
): ReadonlyArray<RenderedFile> => {
  const files: DiffFile[] = parse(patch)
  const ui = new Diff2HtmlUI(target, files, {
    outputFormat: layout,
    drawFileList: false,
    colorScheme: ColorSchemeType.AUTO,
    highlight: true,
    synchronisedScroll: true,
    fileListToggle: false,
    fileContentToggle: true,
    stickyFileHeaders: false,
    matching: "lines",
  })
  ui.draw()
  const blocks = [...target.querySelectorAll<HTMLElement>(".d2h-file-wrapper")]
  return files.flatMap((file, i) => {
    const element = blocks[i]
    return element === undefined ? [] : [{ oldName: file.oldName, newName: file.newName, element }]
  })
}
