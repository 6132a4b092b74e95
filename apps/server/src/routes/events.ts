import { EventsQuery, type EventsServerMessage } from "@geppetto/protocol"
import { AiRunnerRegistry, type RegistryEvent } from "@geppetto/runner"
import { Effect, Fiber, Queue } from "effect"
import type { FastifyInstance } from "fastify"
import type { WebSocket } from "ws"
import { parseWith } from "../http/run-effect.js"
import type { ApiContext } from "./context.js"

/** Bytes queued on one watcher's socket before it is considered behind. */
const WATCHER_BOUND = 1024 * 1024

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
 * One watcher: the whole list, then every change. Each watcher reads its own queue; one
 * that cannot keep up (its socket buffer past the bound, or queue overflow seen as a `seq`
 * gap) skips what it missed and gets the whole list again once it drains.
 */
export const watchEvents = (socket: WebSocket) =>
  Effect.gen(function* () {
    const registry = yield* AiRunnerRegistry
    const { runners, seq, queue } = yield* registry.subscribe
    const send = (message: EventsServerMessage) =>
      Effect.sync(() => {
        if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message))
      })
    yield* send({ type: "runners", runners: [...runners] })
    let last = seq
    let behind = false
    for (;;) {
      const event = yield* Queue.take(queue)
      const gap = event.seq > last + 1
      last = event.seq
      if (socket.bufferedAmount > WATCHER_BOUND) {
        behind = true
        continue
      }
      if (behind || gap) {
        behind = false
        yield* send({ type: "runners", runners: [...(yield* registry.listRunners)] })
        continue
      }
      const message = toMessage(event)
      if (message !== undefined) yield* send(message)
    }
  }).pipe(Effect.scoped)

export const registerEventsRoute = (app: FastifyInstance, ctx: ApiContext) => {
  app.get(
    "/api/events",
    {
      websocket: true,
      config: { auth: "viewer" },
      preValidation: async (request) => {
        parseWith(EventsQuery, request.query, "query")
      },
    },
    (socket) => {
      const fiber = ctx.runtime.runFork(watchEvents(socket))
      socket.on("close", () => {
        ctx.runtime.runFork(Fiber.interrupt(fiber))
      })
      // Watchers only listen; anything they send is ignored.
    },
  )
}
