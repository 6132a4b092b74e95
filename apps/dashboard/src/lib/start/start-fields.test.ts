import { type ProviderInfo, StartRunnerRequest } from "@geppetto/protocol"
import { describe, expect, it } from "vitest"
import { modeFor, startFields } from "./start-fields"

const typed = {
  provider: "claude",
  mode: "interactive" as const,
  prompt: "",
  command: "",
  cwd: "",
  name: "",
}

describe("startFields", () => {
  it("leaves every empty field to the server's defaults", () => {
    expect(startFields(typed)).toEqual({ provider: "claude", mode: "interactive" })
    expect(startFields({ ...typed, prompt: "  \n", cwd: " ", name: "\t" })).toEqual({
      provider: "claude",
      mode: "interactive",
    })
  })

  it("gives an agent its prompt as typed and drops a command line", () => {
    const start = startFields({ ...typed, prompt: "  fix the tests\n", command: "make" })
    expect(start).toEqual({ provider: "claude", mode: "interactive", prompt: "  fix the tests\n" })
  })

  it("runs the shell's command line with sh -c and drops a prompt", () => {
    const start = startFields({
      ...typed,
      provider: "shell",
      mode: "oneshot",
      prompt: "ignored",
      command: "make test && echo 'done; really'",
    })
    expect(start).toEqual({
      provider: "shell",
      mode: "oneshot",
      command: ["sh", "-c", "make test && echo 'done; really'"],
    })
  })

  it("trims the folder and the name, and its answer passes the protocol's schema", () => {
    const start = startFields({ ...typed, cwd: " /srv/app ", name: " nightly " })
    expect(start).toMatchObject({ cwd: "/srv/app", name: "nightly" })
    expect(StartRunnerRequest.safeParse(start).success).toBe(true)
  })
})

describe("modeFor", () => {
  const provider = (modes: ProviderInfo["modes"]): ProviderInfo => ({
    id: "codex",
    name: "Codex CLI",
    installed: true,
    modes,
  })

  it("keeps the chosen mode when the provider offers it", () => {
    expect(modeFor(provider(["interactive", "oneshot"]), "oneshot")).toBe("oneshot")
  })

  it("falls back to the provider's first mode when it does not", () => {
    expect(modeFor(provider(["oneshot"]), "interactive")).toBe("oneshot")
  })

  it("keeps the mode while the providers are not known yet", () => {
    expect(modeFor(undefined, "oneshot")).toBe("oneshot")
  })
})
