/// <reference types="@sveltejs/kit" />
/// <reference no-default-lib="true"/>
/// <reference lib="esnext" />
/// <reference lib="webworker" />
/**
 * The service worker (served as `/sw.js`). It caches the app shell only — the build's files and
 * the static ones, per build — never `/api` answers or terminal bytes; a page the server cannot
 * serve shows `offline.html`. It shows Web Pushes as notifications, and a notification's
 * quick-answer action posts `POST /api/runners/:id/reply`, which types nothing unless the
 * runner still waits on that very prompt.
 */
import { build, files, version } from "$service-worker"

const sw = self as unknown as ServiceWorkerGlobalScope
const CACHE = `geppetto-shell-${version}`
const OFFLINE = "/offline.html"
// The .br and .gz twins are the server's business (it picks one per request).
const SHELL = new Set([...build, ...files.filter((f) => !/\.(br|gz)$/.test(f))])

sw.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll([...SHELL])))
})

sw.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => sw.clients.claim()),
  )
})

sw.addEventListener("fetch", (event) => {
  const request = event.request
  const url = new URL(request.url)
  if (request.method !== "GET" || url.origin !== sw.location.origin) return
  if (request.mode === "navigate") {
    // Pages: always the server's; its answer is never cached. Unreachable: the offline page.
    event.respondWith(
      fetch(request).catch(async () => (await caches.match(OFFLINE)) ?? Response.error()),
    )
    return
  }
  if (SHELL.has(url.pathname)) {
    event.respondWith(caches.match(url.pathname).then((hit) => hit ?? fetch(request)))
  }
  // Anything else (the API above all) goes to the network untouched.
})

interface Payload {
  readonly runnerId: string
  readonly name: string
  readonly event: string
  readonly attentionId?: string
  readonly title: string
  readonly body: string
  readonly answers?: ReadonlyArray<{ readonly label: string }>
  readonly url: string
}

const isPayload = (v: unknown): v is Payload => {
  const p = v as Partial<Payload> | null
  return (
    typeof p === "object" &&
    p !== null &&
    typeof p.runnerId === "string" &&
    typeof p.title === "string" &&
    typeof p.body === "string" &&
    typeof p.url === "string"
  )
}

const show = (payload: Payload, override: { title?: string; body?: string } = {}) =>
  sw.registration.showNotification(override.title ?? payload.title, {
    body: override.body ?? payload.body,
    tag: `geppetto-${payload.runnerId}`,
    icon: "/icons/icon-192.png",
    data: payload,
    requireInteraction: payload.event === "waiting" && override.title === undefined,
    // `actions` is not in TypeScript's DOM types yet; Chromium and Firefox show them.
    ...({
      actions:
        override.title === undefined && payload.attentionId !== undefined
          ? (payload.answers ?? [])
              .slice(0, 2)
              .map((a, i) => ({ action: `answer:${i}`, title: a.label }))
          : [],
    } as NotificationOptions),
  })

sw.addEventListener("push", (event) => {
  let payload: unknown
  try {
    payload = event.data?.json()
  } catch {
    payload = undefined
  }
  if (!isPayload(payload)) return
  event.waitUntil(show(payload))
})

/** An action answers the prompt; a click opens (or focuses) the runner's page. */
const onClick = async (notification: Notification, action: string): Promise<void> => {
  notification.close()
  const payload: unknown = notification.data
  if (!isPayload(payload)) return
  const answer = action.startsWith("answer:")
    ? payload.answers?.[Number(action.slice(7))]
    : undefined
  if (answer !== undefined && payload.attentionId !== undefined) {
    // Same origin, with the session cookie; the server's Origin check sees this origin.
    const status = await fetch(`/api/runners/${encodeURIComponent(payload.runnerId)}/reply`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ attentionId: payload.attentionId, label: answer.label }),
      credentials: "same-origin",
    }).then(
      (r) => r.status,
      () => 0,
    )
    if (status >= 200 && status < 300) return
    const why =
      status === 409
        ? "That prompt is no longer the one waiting: nothing was typed."
        : status === 401 || status === 403
          ? "Log in (as an operator) to answer from here."
          : status === 0
            ? "The server cannot be reached."
            : `The server answered ${status}.`
    await show(payload, { title: `${payload.name}: not answered`, body: why })
    return
  }
  const url = new URL(payload.url, sw.location.origin).href
  const windows = await sw.clients.matchAll({ type: "window", includeUncontrolled: true })
  const open = windows.find((w) => new URL(w.url).origin === sw.location.origin)
  if (open === undefined) {
    await sw.clients.openWindow(url)
    return
  }
  await open.focus()
  await open.navigate(url)
}

sw.addEventListener("notificationclick", (event) => {
  const done = onClick(event.notification, event.action)
  try {
    event.waitUntil(done)
  } catch {
    // A dispatched (untrusted) event cannot extend its lifetime; the reply still goes out.
  }
})
