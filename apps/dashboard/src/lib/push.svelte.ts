import type { NotifyEvent } from "@geppetto/protocol"
import { api, messageOf } from "./api"

const EVENTS_KEY = "geppetto.push-events"
export const NOTIFY_EVENTS: ReadonlyArray<NotifyEvent> = ["waiting", "completed", "failed"]

const storedEvents = (): Array<NotifyEvent> => {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(EVENTS_KEY) ?? "null")
    if (Array.isArray(raw)) {
      const events = NOTIFY_EVENTS.filter((e) => raw.includes(e))
      if (events.length > 0) return events
    }
  } catch {
    // private mode, or nothing stored
  }
  return ["waiting"]
}

/** base64url → bytes, for `applicationServerKey`. */
const keyBytes = (base64url: string): Uint8Array<ArrayBuffer> => {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/")
  const binary = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4))
  const bytes = new Uint8Array(new ArrayBuffer(binary.length))
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/**
 * This browser's Web Push subscription for the logged-in user: subscribe (asking the browser's
 * permission first, so the prompt only ever follows a click), unsubscribe, and which events to
 * be told about (waiting by default). Push needs a secure context: HTTPS, or `localhost`.
 */
class PushState {
  /** HTTPS or localhost: without it browsers offer no push at all. */
  readonly secure = typeof window !== "undefined" && window.isSecureContext
  readonly supported =
    typeof window !== "undefined" &&
    "serviceWorker" in navigator &&
    "PushManager" in window &&
    "Notification" in window
  subscribed = $state(false)
  events = $state<Array<NotifyEvent>>(storedEvents())
  busy = $state(false)
  error = $state<string | undefined>(undefined)

  async #registration(): Promise<ServiceWorkerRegistration> {
    const found = await navigator.serviceWorker.getRegistration("/")
    return found ?? (await navigator.serviceWorker.register("/sw.js", { scope: "/" }))
  }

  /** Reads whether this browser is subscribed, and files it again (the server may have dropped it). */
  async refresh(): Promise<void> {
    if (!this.secure || !this.supported) return
    try {
      const subscription = await (await this.#registration()).pushManager.getSubscription()
      this.subscribed = subscription !== null
      if (subscription !== null) await api.pushSubscribe(subscription.toJSON(), this.events)
    } catch (e) {
      this.error = messageOf(e)
    }
  }

  async subscribe(): Promise<void> {
    await this.#run(async () => {
      const permission = await Notification.requestPermission()
      if (permission !== "granted") {
        throw new Error("Notifications are blocked for this site in the browser's settings.")
      }
      const { publicKey } = await api.pushKey()
      await this.#registration()
      const registration = await navigator.serviceWorker.ready
      const subscription =
        (await registration.pushManager.getSubscription()) ??
        (await registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: keyBytes(publicKey),
        }))
      await api.pushSubscribe(subscription.toJSON(), this.events)
      this.subscribed = true
    })
  }

  async unsubscribe(): Promise<void> {
    await this.#run(async () => {
      const subscription = await (await this.#registration()).pushManager.getSubscription()
      if (subscription !== null) {
        await api.pushUnsubscribe(subscription.endpoint)
        await subscription.unsubscribe()
      }
      this.subscribed = false
    })
  }

  /**
   * On log-out: this browser stops getting the user's pushes. The server forgets the
   * subscription and the browser drops it, so whoever logs in here next gets none of them
   * (prompts, with their answer buttons, kept coming under the one who left).
   */
  async forget(): Promise<void> {
    if (!this.secure || !this.supported) return
    try {
      const registration = await navigator.serviceWorker.getRegistration("/")
      const subscription = await registration?.pushManager.getSubscription()
      if (subscription != null) {
        await api.pushUnsubscribe(subscription.endpoint).catch(() => {})
        await subscription.unsubscribe()
      }
    } catch {
      // No worker or no subscription to drop: nothing was coming here.
    }
    this.subscribed = false
  }

  /** Turns one event on or off (at least one stays on); a subscribed browser is updated. */
  async setEvent(event: NotifyEvent, on: boolean): Promise<void> {
    const next = NOTIFY_EVENTS.filter((e) => (e === event ? on : this.events.includes(e)))
    if (next.length === 0) return
    this.events = next
    try {
      localStorage.setItem(EVENTS_KEY, JSON.stringify(next))
    } catch {
      // private mode: the choice lasts for this tab only
    }
    if (!this.subscribed) return
    await this.#run(async () => {
      const subscription = await (await this.#registration()).pushManager.getSubscription()
      if (subscription !== null) await api.pushSubscribe(subscription.toJSON(), next)
    })
  }

  async #run(action: () => Promise<void>): Promise<void> {
    this.busy = true
    this.error = undefined
    try {
      await action()
    } catch (e) {
      this.error = messageOf(e)
    } finally {
      this.busy = false
    }
  }
}

export const push = new PushState()

/** Registers `/sw.js` (the app shell cache, pushes, notification actions) once per page load. */
export const registerServiceWorker = (): void => {
  if (typeof navigator === "undefined" || !("serviceWorker" in navigator)) return
  if (!window.isSecureContext) return
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(() => {
    // No service worker (an old browser, a dev server): the dashboard works without one.
  })
}
