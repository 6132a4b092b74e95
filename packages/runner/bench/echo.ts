import { Chunk, Effect, Option, Stream } from "effect"
import { type LogChunk, type LogStoreError, ProcessId } from "../src/index.js"
import { BenchError, benchRunner, tmuxAsync } from "./env.js"
import { type LatencySummary, summarize } from "./stats.js"

export const ECHO_KEYS = 300
const WARMUP_KEYS = 20
/** Pause between keystrokes: one key at a time, the system quiet in between like real typing. */
const KEY_GAP_MS = 5
const KEY_TIMEOUT = "5 seconds"
/** The pane prints this once it is ready (after `stty`), so no key races the set-up. */
const READY = "R"

/**
 * Which program echoes.
 * - `tty`: plain `cat` in the pty's default cooked mode. The kernel's line discipline echoes
 *   a printable key the moment tmux writes it to the pty (cat itself only sees whole lines),
 *   so no application wake-up is in the path: this is the pure keystroke→echo path —
 *   control client → tmux → pty → tmux reads the echo → pipe-pane → split → segment file →
 *   inotify → tail. It is the primary figure.
 * - `app`: `stty raw -echo; cat`, where cat reads each byte and writes it back, as a raw-mode
 *   TUI (an agent) would: the same path plus one process wake-up. Reported for reference.
 */
const PROGRAMS = {
  tty: `printf ${READY}; exec cat`,
  app: `stty raw -echo; printf ${READY}; exec cat`,
} as const

type Sender = "control-client" | "one-off"

export interface EchoVariant {
  readonly name: string
  readonly sender: Sender
  readonly echo: keyof typeof PROGRAMS
  readonly command: string
  readonly latencyMs: LatencySummary
}

export interface EchoReport {
  readonly keys: number
  readonly warmupKeys: number
  readonly keyGapMs: number
  readonly variants: ReadonlyArray<EchoVariant>
  /** one-off p50 / control-client p50 (tty echo): how much the persistent client saves. */
  readonly oneOffSlowdownP50: number
  readonly reference: { readonly p50: number; readonly p99: number }
}

/** A pull-driven reader of `handle.output(0)` that can be asked to read up to an offset. */
const makeTail = (stream: Stream.Stream<LogChunk, LogStoreError>) =>
  Effect.gen(function* () {
    const pull = yield* Stream.toPull(stream)
    let position = 0
    const readUntil = (target: number) =>
      Effect.gen(function* () {
        const parts: Uint8Array[] = []
        while (position < target) {
          const chunks = yield* pull.pipe(
            Effect.mapError((e) =>
              Option.match(e, {
                onNone: () => new BenchError({ message: "the output tail ended" }),
                onSome: (err) => new BenchError({ message: `tail: ${err.message}` }),
              }),
            ),
          )
          for (const chunk of Chunk.toReadonlyArray(chunks)) {
            parts.push(chunk.bytes)
            position = chunk.offset + chunk.bytes.length
          }
        }
        return Buffer.concat(parts)
      })
    return { readUntil, position: () => position }
  })

const keyByte = (i: number) => 0x61 + (i % 26) // a..z

const runVariant = (
  env: Effect.Effect.Success<ReturnType<typeof benchRunner>>,
  name: string,
  sender: Sender,
  echo: keyof typeof PROGRAMS,
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const command = PROGRAMS[echo]
      const handle = yield* env.monitor.spawn("sh", ["-c", command], {
        processId: ProcessId(`echo-${echo}-${sender}`),
        cols: 120,
        rows: 32,
      })
      const paneId = handle.sessionInfo?.paneId
      if (paneId === undefined) return yield* new BenchError({ message: "spawn gave no pane id" })
      const tail = yield* makeTail(handle.output(0))
      const ready = yield* tail.readUntil(READY.length)
      if (ready.toString() !== READY) {
        return yield* new BenchError({
          message: `${name}: unexpected start ${JSON.stringify(ready.toString())}`,
        })
      }
      const send = (byte: number): Effect.Effect<void, BenchError> =>
        sender === "control-client"
          ? handle
              .write(Uint8Array.of(byte))
              .pipe(Effect.mapError((e) => new BenchError({ message: e.message })))
          : Effect.asVoid(
              tmuxAsync(env.socket, ["send-keys", "-H", "-t", paneId, byte.toString(16)]),
            )

      const latencies: number[] = []
      for (let i = 0; i < WARMUP_KEYS + ECHO_KEYS; i++) {
        const byte = keyByte(i)
        const target = tail.position() + 1
        let seenAt = 0
        const t0 = performance.now()
        const [, echoed] = yield* Effect.all(
          [
            send(byte),
            tail.readUntil(target).pipe(
              Effect.tap(() => {
                seenAt = performance.now()
              }),
            ),
          ],
          { concurrency: "unbounded" },
        ).pipe(
          Effect.timeoutFail({
            duration: KEY_TIMEOUT,
            onTimeout: () => new BenchError({ message: `${name}: key ${i} never echoed` }),
          }),
        )
        if (echoed.length !== 1 || echoed[0] !== byte) {
          return yield* new BenchError({
            message: `${name}: key ${i} sent 0x${byte.toString(16)}, echo was ${JSON.stringify(echoed.toString())}`,
          })
        }
        if (i >= WARMUP_KEYS) latencies.push(seenAt - t0)
        yield* Effect.sleep(`${KEY_GAP_MS} millis`)
      }
      yield* handle.terminate
      return {
        name,
        sender,
        echo,
        command: `sh -c '${command}'`,
        latencyMs: summarize(latencies),
      } satisfies EchoVariant
    }),
  )

export const echoScenario = (log: (line: string) => void) =>
  Effect.scoped(
    Effect.gen(function* () {
      const env = yield* benchRunner("echo", { terminateGraceMs: 500 })
      const variants: EchoVariant[] = []
      const plan: ReadonlyArray<readonly [string, Sender, keyof typeof PROGRAMS]> = [
        ["control client, tty echo", "control-client", "tty"],
        ["one-off tmux per key, tty echo", "one-off", "tty"],
        ["control client, app echo (raw cat)", "control-client", "app"],
      ]
      for (const [name, sender, echo] of plan) {
        const v = yield* runVariant(env, name, sender, echo)
        variants.push(v)
        log(`  echo ${name}: p50 ${v.latencyMs.p50} ms, p99 ${v.latencyMs.p99} ms`)
      }
      const p50 = (sender: Sender) =>
        variants.find((v) => v.sender === sender && v.echo === "tty")?.latencyMs.p50 ?? Number.NaN
      return {
        keys: ECHO_KEYS,
        warmupKeys: WARMUP_KEYS,
        keyGapMs: KEY_GAP_MS,
        variants,
        oneOffSlowdownP50: Math.round((p50("one-off") / p50("control-client")) * 100) / 100,
        reference: { p50: 0.9, p99: 5.5 },
      } satisfies EchoReport
    }),
  )
