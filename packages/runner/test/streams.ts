import { Effect, Queue, Stream } from "effect"
import type { LogChunk } from "../src/logs/log-cursor.js"
import type { LogSubscription } from "../src/logs/log-feed.js"
import type { ProcessMonitorHandle } from "../src/ports.js"

/** A handle's raw output from `from` until `length` bytes have arrived. */
export const readOutput = (handle: ProcessMonitorHandle, from: number, length: number) =>
  Stream.runFoldWhile(
    handle.output(from),
    [] as Buffer[],
    (acc) => acc.reduce((n, b) => n + b.length, 0) < length,
    (acc, chunk) => {
      acc.push(Buffer.from(chunk.bytes))
      return acc
    },
  ).pipe(
    Effect.map((parts) => Buffer.concat(parts)),
    Effect.timeoutFail({
      duration: "30 seconds",
      onTimeout: () => new Error("log read timed out"),
    }),
  )

/** Output text of `stream` from its start until `done(text)` holds; fails after 10 s. */
export const waitUntil = (
  stream: Stream.Stream<{ readonly bytes: Uint8Array }, unknown>,
  done: (text: string) => boolean,
  what: string,
) =>
  Stream.runFoldWhile(
    stream,
    "",
    (text) => !done(text),
    (text, chunk) => text + Buffer.from(chunk.bytes).toString("utf8"),
  ).pipe(
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`never saw ${what}`) }),
  )

/** Output text of `stream` up to and including the first `needle`; fails after 10 s. */
export const waitForText = (
  stream: Stream.Stream<{ readonly bytes: Uint8Array }, unknown>,
  needle: string,
) => waitUntil(stream, (text) => text.includes(needle), needle)

/** A subscription that reports nothing: for fakes whose output is driven by the test. */
const fakeSubscription: LogSubscription = {
  position: () => 0,
  end: () => 0,
  pause: () => {},
  resume: () => {},
  paused: () => false,
  catchUp: () => {},
}

/** A `followOutput` that hands every chunk offered to `chunks` to the follower. */
export const followQueue =
  (chunks: Queue.Dequeue<LogChunk>): ProcessMonitorHandle["followOutput"] =>
  (_offset, follower) =>
    Effect.as(
      Effect.forkScoped(Effect.forever(Effect.map(Queue.take(chunks), follower.onChunk))),
      fakeSubscription,
    )

/** A `followOutput` of a pane that never prints. */
export const followNothing: ProcessMonitorHandle["followOutput"] = () =>
  Effect.succeed(fakeSubscription)
