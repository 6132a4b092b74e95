import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join, relative } from "node:path"
import { Effect, Layer } from "effect"
import { defaultRunnerConfig, RunnerConfig } from "../../src/config.js"
import {
  type GitCommandRunner,
  GitCommandRunnerPort,
  makeGitCommandRunner,
} from "../../src/workspaces/git-command.js"
import { Workspaces } from "../../src/workspaces/workspaces.js"

/** git for the test's own setup and checks, never through the code under test. */
export const git = (cwd: string, ...args: ReadonlyArray<string>): string =>
  execFileSync("git", ["-C", cwd, ...args], {
    encoding: "utf8",
    env: { ...process.env, GIT_OPTIONAL_LOCKS: "0", LC_ALL: "C" },
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  }).trim()

export const write = (path: string, content: string | Buffer) => {
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, content)
}

/** A repository on `main` with one commit of `README.md`, its own identity set. */
export const makeRepo = (
  path: string,
  files: Readonly<Record<string, string>> = { "README.md": "hello\n" },
) => {
  mkdirSync(path, { recursive: true })
  git(path, "init", "--quiet", "-b", "main")
  git(path, "config", "user.name", "Test")
  git(path, "config", "user.email", "test@example.com")
  for (const [name, content] of Object.entries(files)) write(join(path, name), content)
  git(path, "add", "-A")
  git(path, "commit", "--quiet", "-m", "initial")
  return path
}

/** Every git call made through the port, for tests that prove nothing was run. */
export interface CallLog {
  readonly calls: Array<ReadonlyArray<string>>
}

/**
 * A temp folder with a repository `repo/` and a data dir `data/`, deleted when the scope
 * closes, and a `Workspaces` over the real git (calls recorded in `log`).
 */
export const world = Effect.gen(function* () {
  const root = mkdtempSync(join(tmpdir(), "geppetto-ws-"))
  yield* Effect.addFinalizer(() =>
    Effect.sync(() => rmSync(root, { recursive: true, force: true })),
  )
  const dataDir = join(root, "data")
  const repo = makeRepo(join(root, "repo"))
  const log: CallLog = { calls: [] }
  const real = makeGitCommandRunner()
  const recording: GitCommandRunner = makeGitCommandRunner((cwd, args, options) => {
    log.calls.push(args)
    return real.exec(cwd, args, options)
  })
  const layer = Workspaces.DefaultWithoutDependencies.pipe(
    Layer.provide(Layer.succeed(GitCommandRunnerPort, recording)),
    Layer.provide(Layer.succeed(RunnerConfig, defaultRunnerConfig(dataDir))),
  )
  const ws = yield* Effect.provide(Workspaces, layer)
  return { root, dataDir, repo, ws, log }
})

const sha = (data: string | Buffer) => createHash("sha256").update(data).digest("hex")

/** A hash of every file (path, mode, bytes) and symlink in a work tree, `.git` left out. */
export const hashTree = (top: string): string => {
  const hash = createHash("sha256")
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) =>
      a.name.localeCompare(b.name),
    )) {
      const path = join(dir, entry.name)
      if (entry.name === ".git") continue
      const rel = relative(top, path)
      if (entry.isDirectory()) {
        hash.update(`d ${rel}\0`)
        walk(path)
      } else {
        hash.update(`f ${rel} ${statSync(path).mode}\0`)
        hash.update(readFileSync(path))
      }
    }
  }
  walk(top)
  return hash.digest("hex")
}

/**
 * Everything a refused merge must leave as it was: every ref, and for each work tree its HEAD,
 * the bytes of its index, the files of its work tree and any merge state.
 */
export const snapshot = (repo: string) => {
  const worktrees = git(repo, "worktree", "list", "--porcelain")
    .split("\n")
    .filter((l) => l.startsWith("worktree "))
    .map((l) => l.slice("worktree ".length))
  return {
    refs: git(repo, "for-each-ref", "--format=%(refname) %(objectname)"),
    worktrees: worktrees.map((path) => {
      const gitPath = (p: string) =>
        git(path, "rev-parse", "--path-format=absolute", "--git-path", p)
      return {
        path,
        head: readFileSync(gitPath("HEAD"), "utf8"),
        headCommit: git(path, "rev-parse", "HEAD"),
        index: sha(readFileSync(gitPath("index"))),
        tree: hashTree(path),
        mergeState: ["MERGE_HEAD", "MERGE_MSG", "AUTO_MERGE", "ORIG_HEAD"].map((f) => {
          try {
            return readFileSync(gitPath(f), "utf8")
          } catch {
            return undefined
          }
        }),
      }
    }),
  }
}
