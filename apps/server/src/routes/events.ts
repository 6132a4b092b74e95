import type { Socket } from "node:net"
import { EventsQuery, type EventsServerMessage } from "@geppetto/protocol"
import { AiRunnerPort, type RegistryEvent } from "@geppetto/runner"
import { Effect, Fiber, Queue } from "effect"
import type { FastifyInstance } from "fastify"
import type { WebSocket } from "ws"
import { parseWith } from "../http/run-effect.js"
import type { ServerMetrics } from "../observability/metrics.js"
import type { Presence } from "../team/presence.js"
import type { ApiContext } from "./context.js"

/** Bytes queued on one watcher's socket before it is considered behind. */
const WATCHER_BOUND = 1024 * 1024
/** Changes taken off the feed at once. */
const BATCH = 512

const toMessage = (event: RegistryEvent): EventsServerMessage | undefined => {
  switch (event.type) {
    case "runner":
      return { type: "runner", runner: event.runner }
    case "removed":
      return { type: "removed", runnerId: event.runnerId }
    case "event":
      return { type: "event", runnerId: event.runnerId, event: event.event }
    case "resize":
      return undefined // terminal sockets only
  }
}

/**
 * Every watcher takes the same feed item object (one PubSub): it is serialized and encoded to
 * UTF-8 once for all of them, not once per watcher (20 watchers of 100 busy runners repeated
 * it 20 times).
 */
const encodings = new WeakMap<object, Buffer>()
const encodedOnce = (event: object, message: EventsServerMessage): Buffer => {
  let data = encodings.get(event)
  if (data === undefined) {
    data = Buffer.from(JSON.stringify(message))
    encodings.set(event, data)
  }
  return data
}

/**
 * One watcher: the whole list and who watches what, then every change. Each watcher reads its own queue; one
 * that cannot keep up (its socket buffer past the bound, or queue overflow seen as a `seq`
 * gap) skips what it missed and gets the whole list again once its socket drains — woken by
 * the drain itself, not by the next change, which may never come.
 */
export const watchEvents = (
  socket: WebSocket,
  /** Seconds from a change taken off the feed to its message written to the socket. */
  onDelivered?: (type: EventsServerMessage["type"], seconds: number) => void,
  /** The connection under the socket: a burst of changes is written with one syscall. */
  connection?: Pick<Socket, "cork" | "uncork">,
  /** Who watches which runner: `presence` messages (none without it). */
  presence?: Pick<Presence, "snapshot" | "subscribe">,
) =>
  Effect.gen(function* () {
    const registry = yield* AiRunnerPort
    const { runners, seq, queue } = yield* registry.subscribe
    /** Bytes handed to the socket and not yet written to the kernel (from `send` callbacks). */
    let unflushed = 0
    const drained = yield* Queue.sliding<void>(1)
    const sendNow = (message: EventsServerMessage, takenAt?: number, encoded?: Buffer) => {
      if (socket.readyState !== socket.OPEN) return
      const data = encoded ?? Buffer.from(JSON.stringify(message))
      const size = data.length
      unflushed += size
      // A text frame, though the bytes are a Buffer: JSON, as the protocol says.
      socket.send(data, { binary: false }, () => {
        unflushed -= size
        if (unflushed <= WATCHER_BOUND) Queue.unsafeOffer(drained, undefined)
        if (takenAt !== undefined) onDelivered?.(message.type, (performance.now() - takenAt) / 1000)
      })
    }
    const send = (message: EventsServerMessage, takenAt?: number, encoded?: Buffer) =>
      Effect.sync(() => sendNow(message, takenAt, encoded))
    /** Every runner's viewers, after the list (a runner nobody watches has no message). */
    const sendPresence = Effect.sync(() => {
      for (const message of presence?.snapshot() ?? []) sendNow(message)
    })
    const resync = Effect.flatMap(registry.listRunners, (list) =>
      Effect.zipRight(send({ type: "runners", runners: [...list] }), sendPresence),
    )
    yield* send({ type: "runners", runners: [...runners] })
    yield* sendPresence
    let last = seq
    let behind = false
    // Presence changes come from other sockets' callbacks, straight to this one; while behind
    // they are dropped like the feed's, and the resync sends every runner's viewers again.
    if (presence !== undefined) {
      yield* Effect.acquireRelease(
        Effect.sync(() =>
          presence.subscribe((message) => {
            if (!behind && unflushed <= WATCHER_BOUND) sendNow(message)
          }),
        ),
        (unsubscribe) => Effect.sync(unsubscribe),
      )
    }
    for (;;) {
      if (behind && unflushed <= WATCHER_BOUND) {
        behind = false
        yield* resync
        continue
      }
      // Behind, the next thing to wait for is the drain as much as the next change.
      const batch = behind
        ? yield* Effect.raceFirst(
            Queue.takeBetween(queue, 1, BATCH),
            Effect.as(Queue.take(drained), undefined),
          )
        : yield* Queue.takeBetween(queue, 1, BATCH)
      if (batch === undefined) continue
      // The feed carries no time of its own: delivery is measured from here.
      const takenAt = performance.now()
      // Every runner's byte counts come in one burst a second: written as one.
      connection?.cork()
      try {
        for (const event of batch) {
          const gap = event.seq > last + 1
          last = event.seq
          // Whatever happens while behind is in the list sent once it drains.
          if (behind) continue
          if (unflushed > WATCHER_BOUND) {
            behind = true
            continue
          }
          if (gap) {
            yield* resync
            continue
          }
          const message = toMessage(event)
          if (message !== undefined) yield* send(message, takenAt, encodedOnce(event, message))
        }
      } finally {
        connection?.uncork()
      }
    }
  }).pipe(Effect.scoped)

export const registerEventsRoute = (
  app: FastifyInstance,
  ctx: ApiContext,
  metrics?: ServerMetrics,
) => {
  app.get(
    "/api/events",
    {
      websocket: true,
      config: { auth: "viewer" },
      preValidation: async (request) => {
        parseWith(EventsQuery, request.query, "query")
      },
    },
    (socket, request) => {
      // Filed under its user by the auth plugin: removing the user closes it.
      const { role, user } = request.auth
      request.log.info({ user, role }, "events socket opened")
      metrics?.eventWatchers.inc()
      const fiber = ctx.runtime.runFork(
        watchEvents(
          socket,
          (type, seconds) => metrics?.eventDelivery.observe({ type }, seconds),
          request.raw.socket,
          app.presence,
        ),
      )
      socket.on("close", (code) => {
        metrics?.eventWatchers.dec()
        request.log.info({ user, role, code }, "events socket closed")
        ctx.runtime.runFork(Fiber.interrupt(fiber))
      })
      // Watchers only listen; anything they send is ignored.
    },
  )
}
