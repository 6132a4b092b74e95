// Builds the `geppetto` command line into dist/: main.js (what `pnpm geppetto`, the systemd
// unit and the Docker image run) and the chunks it imports, beside it. Bundled instead of
// ~1,200 modules: Effect's module graph alone took 250 ms to load, and a restart with 100 live
// runners is timed from process start (measured: spawn -> listening 635 ms unbundled, 331 ms
// bundled). Split by command: one 6 MB file cost every command 0.2 s of compiling JavaScript
// it never ran (`geppetto ls` 0.43-0.54 s one file, 0.25-0.26 s split; `node -e 0` 0.17 s).
// The workspace packages are bundled from their TypeScript sources; pino-pretty (loaded only
// on a terminal) and ws's optional native helpers stay outside.
import { readFile, rm } from "node:fs/promises"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "esbuild"

const serverDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const runnerDir = join(serverDir, "..", "..", "packages", "runner")
const outdir = join(serverDir, "dist")

/**
 * The runner finds its `rules/` folder from its own module URL. In the bundle that URL would
 * be the bundle's, so in the runner's sources `import.meta.url` becomes the URL the module has
 * where the runner package is installed now (a checkout's packages/runner, or the copy that
 * `pnpm deploy` puts in node_modules): found by module resolution when the bundle runs.
 */
const runnerModuleUrls = {
  name: "runner-module-urls",
  setup(pluginBuild) {
    pluginBuild.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(`${runnerDir}/`)) return undefined
      const text = await readFile(args.path, "utf8")
      if (!text.includes("import.meta.url")) return undefined
      const file = JSON.stringify(relative(runnerDir, args.path))
      return {
        contents: text.replaceAll("import.meta.url", `__geppettoRunnerUrl(${file})`),
        loader: "ts",
      }
    })
  },
}

const banner = [
  'import { createRequire as __geppettoCreateRequire } from "node:module";',
  'import { pathToFileURL as __geppettoPathToFileURL } from "node:url";',
  // Bundled CommonJS dependencies call require() for Node's own modules.
  "const require = __geppettoCreateRequire(import.meta.url);",
  'const __geppettoRunnerUrl = (file) => new URL(file, __geppettoPathToFileURL(require.resolve("@geppetto/runner/package.json"))).href;',
].join("\n")

await rm(join(serverDir, "dist"), { recursive: true, force: true })
await build({
  entryPoints: [join(serverDir, "src", "main.ts")],
  outdir,
  entryNames: "[name]",
  // Beside main.js, not in a subfolder: modules find ../package.json and the dashboard from it.
  chunkNames: "[name]-[hash]",
  // Each command's module is its own chunk (the CLI imports it when it runs): `geppetto ls`
  // compiles 0.8 MB of JavaScript, not the server's 6 MB.
  splitting: true,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20.19",
  conditions: ["geppetto-source"],
  external: ["pino-pretty", "bufferutil", "utf-8-validate"],
  plugins: [runnerModuleUrls],
  banner: { js: banner },
  sourcemap: "linked",
  legalComments: "linked",
  logLevel: "warning",
})
