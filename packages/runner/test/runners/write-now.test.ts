import { describe, expect, it } from "@effect/vitest"
import { Effect, Stream } from "effect"
import type { ProcessMonitorError } from "../../src/domain/errors.js"
import { PaneId } from "../../src/domain/ids.js"
import type { AiRunner } from "../../src/ports.js"
import { fixture } from "../harness.js"
import { eventually, registryWorld } from "./harness.js"

/** Everything the runner printed so far, kept up to date from its log. */
const printed = (registry: AiRunner, id: string) =>
  Effect.gen(function* () {
    let text = ""
    yield* registry.output(id, 0).pipe(
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          text += Buffer.from(chunk.bytes).toString("latin1")
        }),
      ),
      Effect.forkScoped,
    )
    return () => text
  })

/** The hex the fixture prints for `bytes`, as one string of two-digit codes. */
const hexOf = (bytes: Uint8Array) => [...bytes].map((b) => b.toString(16).padStart(2, "0"))
/** The codes the fixture printed after "ready" (each read's codes, space-separated). */
const codesIn = (text: string) =>
  (text.split("ready")[1] ?? "").split(/\s+/).filter((c) => /^[0-9a-f]{2}$/.test(c))

/** A registry with one runner of the hex-echo fixture, ready for keys; and what it printed. */
const hexEchoRunner = Effect.gen(function* () {
  const world = yield* registryWorld()
  const { registry } = yield* world.open()
  const { runner } = yield* registry.startRunner({
    provider: "shell",
    command: [process.execPath, fixture("hex-echo.cjs")],
  })
  const text = yield* printed(registry, runner.id)
  yield* eventually(() => (text().includes("ready") ? true : undefined), "the fixture's ready")
  return { world, registry, runner, text }
})

describe("writeNow: keystrokes from plain code", () => {
  it.scopedLive("types exact bytes at once, in order with write, and says when tmux answered", () =>
    Effect.gen(function* () {
      const { registry, runner, text } = yield* hexEchoRunner

      // Every byte value, and more than one send-keys command's worth (256 keys each).
      const all = Uint8Array.from({ length: 600 }, (_, i) => i % 256)
      const answers: Array<ProcessMonitorError | undefined> = []
      const written = registry.writeNow(runner.id, all, undefined, (e) => answers.push(e))
      expect(written).toBe(true)
      yield* eventually(() => (answers.length === 1 ? true : undefined), "tmux's answer")
      expect(answers).toEqual([undefined])
      yield* eventually(
        () => (codesIn(text()).length >= all.length ? true : undefined),
        () => `600 bytes typed, saw ${codesIn(text()).length}`,
      )
      expect(codesIn(text())).toEqual(hexOf(all))

      // Key by key, as a socket types them: in the order of the calls, with the Effect way
      // (once its write is answered; the terminal session holds fast keys until then) too.
      const keys = "abcdefghijklmnopqrst"
      for (const key of keys.slice(0, 10))
        expect(registry.writeNow(runner.id, Buffer.from(key), undefined, () => {})).toBe(true)
      yield* registry.write(runner.id, Buffer.from("-"))
      for (const key of keys.slice(10))
        expect(registry.writeNow(runner.id, Buffer.from(key), undefined, () => {})).toBe(true)
      const expected = [
        ...hexOf(all),
        ...hexOf(Buffer.from(keys.slice(0, 10))),
        "2d",
        ...hexOf(Buffer.from(keys.slice(10))),
      ]
      yield* eventually(
        () => (codesIn(text()).length >= expected.length ? true : undefined),
        "the keys",
      )
      expect(codesIn(text())).toEqual(expected)

      // A callback that throws is the caller's own failure: replies after it still match, so
      // a later command is answered (it would time out if the reply parser had stopped).
      const thrower = () => {
        throw new Error("the caller's callback failed")
      }
      expect(registry.writeNow(runner.id, Buffer.from("!"), undefined, thrower)).toBe(true)
      yield* registry.write(runner.id, Buffer.from("?"))
      yield* eventually(
        () => (codesIn(text()).length >= expected.length + 2 ? true : undefined),
        "the keys after a throwing callback",
      )
      expect(codesIn(text()).slice(expected.length)).toEqual(["21", "3f"])
    }),
  )

  it.scopedLive("returns false and types nothing where only write can say why", () =>
    Effect.gen(function* () {
      const { registry, runner, text } = yield* hexEchoRunner
      const never = () => {
        throw new Error("done must not be called when nothing was written")
      }
      expect(registry.writeNow("run-nosuchrunner", Buffer.from("x"), undefined, never)).toBe(false)
      expect(registry.writeNow(runner.id, Buffer.from("x"), PaneId("%999"), never)).toBe(false)
      // The Effect way gives the typed errors for both.
      const unknown = yield* Effect.flip(registry.write("run-nosuchrunner", Buffer.from("x")))
      expect(unknown._tag).toBe("NotFoundError")
      const noPane = yield* Effect.flip(registry.write(runner.id, Buffer.from("x"), PaneId("%999")))
      expect(noPane._tag).toBe("NotFoundError")

      // A finished runner: nothing is typed into whatever tmux has there now.
      yield* registry.terminateRunner(runner.id)
      expect(registry.writeNow(runner.id, Buffer.from("x"), undefined, never)).toBe(false)
      // (Its terminal got the stop's C-c, 03; never an "x", 78.)
      expect(codesIn(text())).not.toContain("78")
    }),
  )

  it.scopedLive("a refusal by tmux reaches done as the runner's typed error", () =>
    Effect.gen(function* () {
      const { world, registry, runner } = yield* hexEchoRunner
      // The session goes behind the registry's back: until it notices, the fast way still
      // writes, and tmux's "can't find pane" must come back as an error, never as success.
      world.tmux(["kill-server"])
      const answers: Array<ProcessMonitorError | undefined> = []
      const written = registry.writeNow(runner.id, Buffer.from("x"), undefined, (e) =>
        answers.push(e),
      )
      if (written) {
        yield* eventually(() => (answers.length === 1 ? true : undefined), "the refusal")
        expect(answers[0]?._tag).toBe("ProcessMonitorError")
      }
    }),
  )
})
