import { describe, expect, it } from "@effect/vitest"
import { runnerEnvironment } from "../src/domain/runner-environment.js"
import { namesToUnset, paneCommandArgs, SHELL_CARRIER } from "../src/tmux/pane-wrapper.js"

const USER_PATH = "/home/u/.local/share/pnpm:/home/u/bin:/usr/local/bin:/usr/bin:/bin"

/** What `pnpm geppetto` (pnpm 12) hands the server, as measured with `pnpm run` of `env`. */
const pnpmLaunch = {
  HOME: "/home/u",
  PNPM_HOME: "/home/u/.local/share/pnpm",
  PATH: `/src/geppetto/node_modules/.bin:/src/node_modules/.bin:/usr/lib/node_modules/pnpm/dist/node-gyp-bin:${USER_PATH}`,
  npm_package_json: "/src/geppetto/package.json",
  npm_config_user_agent: "pnpm/12.4.2 npm/? node/? linux x64",
  npm_config_registry: "https://registry.npmjs.org/",
  npm_lifecycle_event: "geppetto",
  npm_lifecycle_script: "node apps/server/dist/main.js",
  npm_execpath: "/usr/lib/node_modules/pnpm/pnpm",
  npm_node_execpath: "/usr/bin/node",
  NODE: "/usr/bin/node",
  pnpm_config_verify_deps_before_run: "false",
  PNPM_SCRIPT_SRC_DIR: "/src/geppetto",
  INIT_CWD: "/src/geppetto",
  ANTHROPIC_API_KEY: "sk-test",
  UNSET: undefined,
}

describe("runnerEnvironment", () => {
  it("drops what pnpm set for the script and keeps the user's own", () => {
    expect(runnerEnvironment(pnpmLaunch)).toEqual({
      HOME: "/home/u",
      PNPM_HOME: "/home/u/.local/share/pnpm",
      PATH: USER_PATH,
      ANTHROPIC_API_KEY: "sk-test",
    })
  })

  it("drops every PATH entry npm put in front (one node_modules/.bin per folder up the tree)", () => {
    const npm = {
      npm_lifecycle_event: "start",
      PATH: `/a/b/node_modules/.bin:/a/node_modules/.bin:/node_modules/.bin:/usr/lib/node_modules/npm/node_modules/@npmcli/run-script/lib/node-gyp-bin:${USER_PATH}`,
    }
    expect(runnerEnvironment(npm).PATH).toBe(USER_PATH)
  })

  it("keeps PATH whole when no package manager launched the server", () => {
    const path = `/home/u/project/node_modules/.bin:${USER_PATH}`
    expect(runnerEnvironment({ PATH: path, HOME: "/home/u", NODE: "/opt/node" })).toEqual({
      PATH: path,
      HOME: "/home/u",
      NODE: "/opt/node",
    })
  })

  it("keeps a node_modules/.bin the user put later on PATH", () => {
    const env = {
      PNPM_SCRIPT_SRC_DIR: "/x",
      PATH: `/x/node_modules/.bin:/usr/bin:/tools/node_modules/.bin`,
    }
    expect(runnerEnvironment(env).PATH).toBe("/usr/bin:/tools/node_modules/.bin")
  })

  it("drops a tmux client's TMUX and TMUX_PANE and our tokens", () => {
    expect(
      runnerEnvironment({
        TMUX: "/tmp/tmux-1000/default,1,0",
        TMUX_PANE: "%3",
        GEPPETTO_TOKEN: "secret",
        GEPPETTO_VIEWER_TOKEN: "secret too",
        TERM: "xterm-256color",
      }),
    ).toEqual({ TERM: "xterm-256color" })
  })
})

describe("the pane's env -u list", () => {
  it("removes each global name the spec lacks, SHELL and PATH when missing, never tmux's own", () => {
    const unset = namesToUnset({ PATH: "/bin", HOME: "/h" }, [
      "PATH",
      "HOME",
      "npm_config_stale",
      "TERM",
      "TMUX",
      "DISPLAY",
    ])
    expect([...unset].sort()).toEqual(["DISPLAY", "SHELL", "npm_config_stale"])
    expect(namesToUnset({ SHELL: "/bin/zsh" }, [])).toEqual(["PATH", SHELL_CARRIER])
  })

  it("runs argv itself when nothing is to be removed, else through env -u NAME ... --", () => {
    expect(paneCommandArgs(["claude", "-p", "hi"], [])).toEqual(["claude", "-p", "hi"])
    const args = paneCommandArgs(["claude", "-p", "A=B"], ["X", "-Y"])
    expect(args.slice(1)).toEqual(["-u", "X", "-u", "-Y", "--", "claude", "-p", "A=B"])
    expect(args[0]).toMatch(/^\/.*\/env$/)
    // env would take a first word holding `=` as an assignment.
    expect(paneCommandArgs(["./a=b"], ["X"]).slice(4)).toEqual([
      "/bin/sh",
      "-c",
      'exec "$@"',
      "sh",
      "./a=b",
    ])
  })
})
