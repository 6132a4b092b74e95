import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, posix, relative, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { HealthResponse } from "@geppetto/protocol"
import { builtinRulesDir } from "@geppetto/runner"
import { afterEach, describe, expect, it } from "vitest"
import { parseServeArgs } from "../../src/config.js"
import { defaultDashboardDir } from "../../src/dashboard.js"
import {
  type CopySpec,
  execForm,
  type Instruction,
  makeIgnoreMatcher,
  parseCopy,
  parseDockerfile,
  parseEnv,
  shellWords,
  stagesOf,
} from "./dockerfile.js"
import { parseYamlSubset, type YamlValue } from "./yaml-subset.js"

/*
 * No Docker engine runs here, so this checks what can be checked without one: the Dockerfile
 * and compose file agree with the code (files copied exist, ports, paths, user), and the
 * image's start command works outside Docker, run as the image runs it.
 */

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url))
const DOCKER_DIR = join(ROOT, "docker")
const SERVER_DIR = join(ROOT, "apps", "server")
const read = (path: string) => readFileSync(join(ROOT, path), "utf8")

/** What `geppetto serve` uses when nothing is set: the contract's defaults, from the code. */
const DEFAULTS = parseServeArgs([], {})

const instructions = parseDockerfile(read("docker/Dockerfile"))
const stages = stagesOf(instructions)
const runtime = stages.at(-1)
if (runtime === undefined) throw new Error("docker/Dockerfile has no stage")

const all = (stage: { readonly instructions: ReadonlyArray<Instruction> }, keyword: string) =>
  stage.instructions.filter((i) => i.keyword === keyword)
const last = (stage: { readonly instructions: ReadonlyArray<Instruction> }, keyword: string) =>
  all(stage, keyword).at(-1)

/** The runtime stage's environment, every `ENV` merged in order. */
const imageEnv: Readonly<Record<string, string>> = Object.assign(
  {},
  ...all(runtime, "ENV").map((i) => parseEnv(i.args)),
)

const runtimeCopies: ReadonlyArray<CopySpec> = all(runtime, "COPY").map((i) => parseCopy(i.args))
const workdir = last(runtime, "WORKDIR")?.args ?? "/"
const cmd = execForm(last(runtime, "CMD")?.args ?? "[]")
/** The CMD's script as a path in the image, and relative to WORKDIR (= the repo root layout). */
const script = cmd[1] ?? ""
const scriptInImage = posix.resolve(workdir, script)

const healthcheck = last(runtime, "HEALTHCHECK")?.args ?? ""
/** The shell-form command of `HEALTHCHECK [OPTIONS] CMD command`. */
const healthCommand = /(?:^|\s)CMD\s+(.*)$/s.exec(healthcheck)?.[1] ?? ""
const healthUrl = new URL(/https?:\/\/[^'"\s)]+/.exec(healthCommand)?.[0] ?? "http://invalid")

describe("docker/Dockerfile", () => {
  it("builds on node:20-bookworm-slim in a build and a runtime stage", () => {
    expect(stages.map((s) => [s.image, s.name])).toEqual([
      ["node:20-bookworm-slim", "build"],
      ["node:20-bookworm-slim", "runtime"],
    ])
  })

  it("copies only files that exist in the repository and that the ignore file lets through", () => {
    const ignored = makeIgnoreMatcher(read("docker/Dockerfile.dockerignore"))
    const sources = stages.flatMap((s) =>
      all(s, "COPY")
        .map((i) => parseCopy(i.args))
        .filter((c) => c.flags.from === undefined)
        .flatMap((c) => c.sources),
    )
    expect(sources.length).toBeGreaterThan(5)
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), `COPY ${source}: missing`).toBe(true)
      expect(ignored(source), `COPY ${source}: excluded by Dockerfile.dockerignore`).toBe(false)
    }
    // What the host built or installed stays out of the image, and so do the tokens.
    for (const path of ["node_modules", "apps/server/dist", "apps/dashboard/build", "docker/.env"])
      expect(ignored(path), path).toBe(true)
  })

  it("copies every workspace manifest before a frozen install, then builds and deploys", () => {
    const build = stages[0]
    if (build === undefined) throw new Error("no build stage")
    const runs = build.instructions.filter((i) => i.keyword === "RUN")
    const step = (re: RegExp) => runs.find((i) => re.test(i.args))?.line ?? -1
    const { packageManager } = JSON.parse(read("package.json")) as { packageManager: string }
    expect(packageManager).toMatch(/^pnpm@\d/)
    const installPnpm = step(
      new RegExp(`npm install --global ${packageManager.replaceAll(".", "\\.")}(\\s|$)`),
    )
    const install = step(/pnpm install --frozen-lockfile/)
    const buildAll = step(/pnpm build(\s|$)/)
    const deploy = step(/pnpm --filter @geppetto\/server deploy --prod /)
    expect(installPnpm).toBeGreaterThan(0)
    expect(install).toBeGreaterThan(installPnpm)
    expect(buildAll).toBeGreaterThan(install)
    expect(deploy).toBeGreaterThan(buildAll)

    // Each workspace package's manifest is in the context before the install runs.
    const copiedFirst = new Set(
      build.instructions
        .filter((i) => i.keyword === "COPY" && i.line < install)
        .flatMap((i) => {
          const c = parseCopy(i.args)
          return c.sources.map((s) => (c.destination.endsWith("/") ? s : c.destination))
        }),
    )
    // Only the `packages:` block: the rest of pnpm-workspace.yaml is not this test's business.
    const block = /^packages:\n(?:[ \t]+.*\n)*/m.exec(read("pnpm-workspace.yaml"))?.[0] ?? ""
    const globs = strings(field(parseYamlSubset(block), "packages"))
    const packages = globs.flatMap((glob) =>
      glob.endsWith("/*")
        ? readdirSync(join(ROOT, glob.slice(0, -2))).map((name) => `${glob.slice(0, -2)}/${name}`)
        : [glob],
    )
    const manifests = packages
      .map((dir) => `${dir}/package.json`)
      .filter((path) => existsSync(join(ROOT, path)))
    expect(manifests).toContain("e2e/package.json")
    for (const manifest of ["package.json", "pnpm-workspace.yaml", "pnpm-lock.yaml", ...manifests])
      expect(copiedFirst.has(manifest), `${manifest} is not copied before the install`).toBe(true)
  })

  it("listens on every interface of the container, on the server's default port", () => {
    expect(DEFAULTS.port).toBe(7420)
    expect(imageEnv.GEPPETTO_HOST).toBe("0.0.0.0")
    expect(Number(imageEnv.GEPPETTO_PORT)).toBe(DEFAULTS.port)
    const exposed = all(runtime, "EXPOSE").flatMap((i) => shellWords(i.args))
    expect(exposed).toContain(String(DEFAULTS.port))
  })

  it("checks its health on /api/health at the default port, with node (no curl in the image)", () => {
    expect(healthCommand).toMatch(/^node -e /)
    expect(healthUrl.hostname).toBe("127.0.0.1")
    expect(Number(healthUrl.port)).toBe(DEFAULTS.port)
    expect(healthUrl.pathname).toBe("/api/health")
  })

  it("runs as a non-root user, with the data dir as a volume", () => {
    const user = last(runtime, "USER")?.args ?? "root"
    expect(["root", "0"]).not.toContain(user.split(":")[0])
    const creates = all(runtime, "RUN").find((i) => /useradd\b/.test(i.args))?.args ?? ""
    expect(creates).toMatch(new RegExp(`--uid 10001\\b.*\\b${user}\\b`, "s"))
    expect(imageEnv.GEPPETTO_DATA_DIR).toBe("/data")
    const volumes = all(runtime, "VOLUME").flatMap((i) =>
      i.args.startsWith("[") ? execForm(i.args) : shellWords(i.args),
    )
    expect(volumes).toContain(imageEnv.GEPPETTO_DATA_DIR)
    // The volume's mount point exists, owned by the user and private (what serve expects).
    expect(creates).toMatch(new RegExp(`chown ${user}:${user} /data\\b`))
    expect(creates).toMatch(/chmod 700 \/data\b/)
  })

  it("starts `serve` from the server's built entry point, where the deploy puts it", () => {
    expect(cmd).toEqual(["node", "apps/server/dist/main.js", "serve"])
    const pkg = JSON.parse(read("apps/server/package.json")) as { bin: Record<string, string> }
    const binary = posix.normalize(pkg.bin.geppetto ?? "")
    expect(binary).toBe("dist/main.js")
    // The build bundles src/main.ts into dist/main.js (by its own name), its chunks beside it.
    const build = (JSON.parse(read("apps/server/package.json")) as { scripts: { build: string } })
      .scripts.build
    expect(build).toBe("node scripts/bundle.mjs")
    const bundler = read("apps/server/scripts/bundle.mjs")
    expect(bundler).toContain('join(serverDir, "src", "main.ts")')
    expect(bundler).toContain('const outdir = join(serverDir, "dist")')
    expect(bundler).toContain('entryNames: "[name]"')
    expect(existsSync(join(SERVER_DIR, "src", "main.ts"))).toBe(true)

    // The deploy target, copied into the image, holds the script at the CMD's path.
    const deploy = stages[0]?.instructions.find((i) => /\bdeploy --prod\b/.test(i.args))
    const target = /\bdeploy --prod (\S+)/.exec(deploy?.args ?? "")?.[1] ?? ""
    const server = runtimeCopies.find((c) => c.flags.from === "build" && c.sources.includes(target))
    expect(server, `no COPY --from=build ${target}`).toBeDefined()
    expect(scriptInImage).toBe(posix.join(server?.destination ?? "", binary))
    // The image mirrors the repository layout, so the same command runs in a checkout.
    expect(posix.relative(workdir, server?.destination ?? "")).toBe("apps/server")
  })

  it("puts the dashboard build where the server looks for it", () => {
    const fromServerPackage = relative(SERVER_DIR, defaultDashboardDir).replace(/\/$/, "")
    expect(fromServerPackage).toBe(join("..", "dashboard", "build"))
    const server = runtimeCopies.find((c) => c.destination === posix.join(workdir, "apps/server"))
    const dashboard = runtimeCopies.find(
      (c) => c.flags.from === "build" && c.sources.some((s) => s.endsWith("/apps/dashboard/build")),
    )
    expect(dashboard?.destination).toBe(
      posix.join(server?.destination ?? "", fromServerPackage.split("\\").join("/")),
    )
  })

  it("ships the runner's screen rules beside its dist (the deploy copies the whole package)", () => {
    const runnerDir = join(ROOT, "packages", "runner")
    expect(relative(runnerDir, builtinRulesDir).replace(/\/$/, "")).toBe("rules")
    expect(existsSync(join(builtinRulesDir, "generic.json"))).toBe(true)
    // A `files` list would make the deploy copy only what it names.
    const pkg = JSON.parse(read("packages/runner/package.json")) as { files?: string[] }
    if (pkg.files !== undefined)
      expect(pkg.files).toEqual(expect.arrayContaining(["dist", "rules"]))
  })
})

const compose = parseYamlSubset(read("docker/compose.yaml"))

const field = (value: YamlValue | undefined, key: string): YamlValue | undefined =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as { readonly [k: string]: YamlValue })[key]
    : undefined
const strings = (value: YamlValue | undefined): ReadonlyArray<string> =>
  Array.isArray(value)
    ? value.map(String)
    : value === undefined || value === null
      ? []
      : [String(value)]

describe("docker/compose.yaml", () => {
  const services = field(compose, "services")
  const service = field(services, "geppetto")

  it("builds the image from the repository root with docker/Dockerfile", () => {
    const build = field(service, "build")
    const context = resolve(DOCKER_DIR, String(field(build, "context")))
    expect(`${context}/`).toBe(ROOT)
    expect(resolve(context, String(field(build, "dockerfile")))).toBe(
      join(DOCKER_DIR, "Dockerfile"),
    )
  })

  it("publishes the server's port and keeps /data on a named volume", () => {
    const containerPorts = strings(field(service, "ports")).map((p) =>
      Number(p.split("/")[0]?.split(":").at(-1)),
    )
    expect(containerPorts).toContain(DEFAULTS.port)
    const mounts = strings(field(service, "volumes")).map((v) => v.split(":"))
    const data = mounts.find(([, target]) => target === imageEnv.GEPPETTO_DATA_DIR)
    expect(data, "a volume on /data").toBeDefined()
    expect(Object.keys(field(compose, "volumes") ?? {})).toContain(data?.[0])
  })

  it("reads the tokens from docker/.env, runs an init and restarts unless stopped", () => {
    expect(strings(field(service, "env_file"))).toEqual([".env"])
    const example = read("docker/env.example")
    expect(example).toMatch(/^GEPPETTO_TOKEN=/m)
    expect(example).toMatch(/^GEPPETTO_VIEWER_TOKEN=/m)
    expect(read("docker/.gitignore")).toMatch(/^\.env$/m)
    expect(field(service, "init")).toBe(true)
    expect(field(service, "restart")).toBe("unless-stopped")
  })
})

describe("the parsers this test relies on", () => {
  it("reads continuations, comments, exec form and ENV pairs", () => {
    const parsed = parseDockerfile(
      'FROM a AS b\n# c\nRUN x \\\n  # dropped\n  && y\nENV A=1 B="two words"\nCMD ["n", "s"]\n',
    )
    expect(parsed.map((i) => [i.keyword, i.args, i.line])).toEqual([
      ["FROM", "a AS b", 1],
      ["RUN", "x && y", 3],
      ["ENV", 'A=1 B="two words"', 6],
      ["CMD", '["n", "s"]', 7],
    ])
    expect(parseEnv('A=1 B="two words"')).toEqual({ A: "1", B: "two words" })
    expect(() => parseEnv("A 1")).toThrow()
    expect(parseCopy("--from=build /out /app")).toEqual({
      flags: { from: "build" },
      sources: ["/out"],
      destination: "/app",
    })
    const ignored = makeIgnoreMatcher("**/dist\n.git\n")
    expect([
      ignored("apps/server/dist"),
      ignored("dist/x"),
      ignored(".git"),
      ignored("apps"),
    ]).toEqual([true, true, true, false])
  })

  it("reads the YAML subset and refuses the rest", () => {
    expect(
      parseYamlSubset('a:\n  b: "x # y" # z\n  c:\n    - "1:2"\n    - d\n  e: true\nf:\n'),
    ).toEqual({ a: { b: "x # y", c: ["1:2", "d"], e: true }, f: null })
    expect(() => parseYamlSubset("a: [1, 2]\n")).toThrow(/unsupported/)
    expect(() => parseYamlSubset("a:\n  - b: 1\n")).toThrow(/mappings in sequences/)
    expect(() => parseYamlSubset("a: 1\na: 2\n")).toThrow(/duplicate/)
  })
})

describe("the image's start command, outside Docker", () => {
  const tmuxEnv = { PATH: process.env.PATH ?? "/usr/bin:/bin" }
  let child: ChildProcess | undefined
  let dataDir: string | undefined
  let socket: string | undefined

  afterEach(() => {
    if (child !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGKILL")
    }
    child = undefined
    if (socket !== undefined) {
      // The server's tmux, as the child had it: no TMUX_TMPDIR, so under /tmp.
      spawnSync("tmux", ["-L", socket, "kill-server"], { stdio: "ignore", env: tmuxEnv })
      // tmux 3.3a leaves its socket file behind when it exits.
      rmSync(join("/tmp", `tmux-${process.getuid?.() ?? 0}`, socket), { force: true })
    }
    socket = undefined
    if (dataDir !== undefined) rmSync(dataDir, { recursive: true, force: true })
    dataDir = undefined
  })

  /** The HEALTHCHECK, run by a shell as Docker runs it, pointed at `port`. */
  const runHealthcheck = (port: number) =>
    spawnSync("/bin/sh", ["-c", healthCommand.replace(`:${DEFAULTS.port}/`, `:${port}/`)], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 15_000,
    }).status

  it("serves /api/health and the dashboard, passes the health check, and exits 0 on SIGTERM", async () => {
    expect(existsSync(join(ROOT, script)), `${script} is missing: run \`pnpm build\` first`).toBe(
      true,
    )
    dataDir = mkdtempSync(join(tmpdir(), "geppetto-docker-"))
    socket = `geppetto-docker-${process.pid}-${Date.now().toString(36)}`
    // The image's environment, kept on this machine: loopback, any free port, a temp data dir
    // and a private tmux server. Nothing else of the test's environment (no tokens, no $TMUX).
    const env = {
      ...tmuxEnv,
      HOME: dataDir,
      ...imageEnv,
      GEPPETTO_HOST: "127.0.0.1",
      GEPPETTO_PORT: "0",
      GEPPETTO_DATA_DIR: join(dataDir, "data"),
      GEPPETTO_TMUX_SOCKET: socket,
    }
    // The CMD as is, from WORKDIR (the repository root: the image mirrors its layout); only
    // `node` is this test's own node rather than the first on PATH.
    const [, ...args] = cmd
    const proc = spawn(process.execPath, args, {
      cwd: ROOT,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    })
    child = proc
    let stdout = ""
    let stderr = ""
    proc.stdout?.on("data", (b: Buffer) => {
      stdout += b.toString()
    })
    proc.stderr?.on("data", (b: Buffer) => {
      stderr += b.toString()
    })
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      proc.on("exit", (code, signal) => done({ code, signal })),
    )

    const url = await new Promise<string>((done, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`no start banner in 30 s:\n${stdout}${stderr}`)),
        30_000,
      )
      const look = () => {
        const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stdout)?.[1]
        if (found !== undefined) {
          clearTimeout(timer)
          done(found)
        }
      }
      proc.stdout?.on("data", look)
      void exited.then(({ code, signal }) => {
        clearTimeout(timer)
        fail(new Error(`serve exited early (${code ?? signal}):\n${stdout}${stderr}`))
      })
    })

    const health = await fetch(`${url}/api/health`)
    expect(health.status).toBe(200)
    const body = HealthResponse.parse(await health.json())
    expect(body.status).toBe("ok")
    expect(body.tmux.version).not.toBe("")

    // The dashboard is served from where the image puts it (the same relative place).
    const page = await fetch(`${url}/`)
    expect(page.status).toBe(200)
    expect(page.headers.get("content-type")).toMatch(/^text\/html/)

    expect(runHealthcheck(Number(new URL(url).port))).toBe(0)

    proc.kill("SIGTERM")
    const result = await Promise.race([
      exited,
      new Promise<never>((_, fail) =>
        setTimeout(() => fail(new Error(`no exit 15 s after SIGTERM:\n${stderr}`)), 15_000),
      ),
    ])
    expect(result, stderr).toEqual({ code: 0, signal: null })
    expect(runHealthcheck(Number(new URL(url).port))).toBe(1)
  })
})
