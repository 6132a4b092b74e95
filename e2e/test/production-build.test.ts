import { existsSync, readdirSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { repoRoot, testDashboardDir } from "./helpers/server.js"

/** The `window.__geppetto*` test hooks, however a build spells them. */
const HOOK = /__geppetto/i

/** Every JavaScript file of a dashboard build, by its path under the build folder. */
const scripts = (dir: string): ReadonlyArray<{ readonly path: string; readonly text: string }> => {
  if (!existsSync(join(dir, "index.html"))) {
    throw new Error(`no dashboard build in ${dir}: run \`pnpm build\` (and \`build:test\`) first`)
  }
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && /\.(js|mjs|html)$/.test(entry.name))
    .map((entry) => {
      const file = join(entry.parentPath, entry.name)
      return { path: file.slice(dir.length + 1), text: readFileSync(file, "utf8") }
    })
}

describe("dashboard builds", () => {
  it("the production build carries no test hooks", () => {
    const files = scripts(join(repoRoot, "apps/dashboard/build"))
    expect(files.filter((f) => f.path.endsWith(".js")).length).toBeGreaterThan(0)
    expect(files.filter((f) => HOOK.test(f.text)).map((f) => f.path)).toEqual([])
  })

  it("the test build the e2e suite serves has them (so the check above can fail)", () => {
    const text = scripts(testDashboardDir)
      .map((f) => f.text)
      .join("\n")
    for (const hook of ["__geppettoTerm", "__geppettoStream", "__geppetto:"]) {
      expect(text).toContain(hook)
    }
  })
})
