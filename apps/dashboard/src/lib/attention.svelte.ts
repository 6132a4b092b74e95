import type { RunnerSummary } from "@geppetto/protocol"
import { goto } from "$app/navigation"
import { announcement } from "./status"

const NOTIFY_KEY = "geppetto.notify"
const SOUND_KEY = "geppetto.sound"

const stored = (key: string): boolean => {
  try {
    return localStorage.getItem(key) === "on"
  } catch {
    return false
  }
}

const store = (key: string, on: boolean): void => {
  try {
    localStorage.setItem(key, on ? "on" : "off")
  } catch {
    // private mode: the choice lasts for this tab only
  }
}

const supported = (): boolean => typeof Notification !== "undefined"

/**
 * Telling people a runner waits for them: browser notifications (opt-in, so the permission
 * prompt only ever follows a click) and an optional short chime. The title and favicon
 * badge are the layout's, from `live.waiting`.
 */
class Attention {
  notify = $state(stored(NOTIFY_KEY))
  sound = $state(stored(SOUND_KEY))
  permission = $state<NotificationPermission | "unsupported">(
    supported() ? Notification.permission : "unsupported",
  )
  /** What was announced, newest last (the e2e tests read it). */
  readonly announced: Array<{ runnerId: string; title: string; body: string }> = []
  #audio: AudioContext | undefined

  /** Turns notifications on (asking the browser's permission first) or off. */
  async toggleNotify(): Promise<void> {
    if (this.notify) {
      this.notify = false
      store(NOTIFY_KEY, false)
      return
    }
    if (!supported()) return
    if (Notification.permission === "default") {
      this.permission = await Notification.requestPermission()
    } else {
      this.permission = Notification.permission
    }
    this.notify = this.permission === "granted"
    store(NOTIFY_KEY, this.notify)
  }

  toggleSound(): void {
    this.sound = !this.sound
    store(SOUND_KEY, this.sound)
    // Created inside the click, so the browser lets it play later.
    if (this.sound) this.#chime()
  }

  /** One runner just started waiting (or went over a budget). */
  announce(runner: RunnerSummary): void {
    const { title, body } = announcement(runner)
    this.announced.push({ runnerId: runner.id, title, body })
    if (this.announced.length > 50) this.announced.shift()
    if (this.sound) this.#chime()
    if (!this.notify || !supported() || Notification.permission !== "granted") return
    try {
      const notification = new Notification(title, { body, tag: `geppetto-${runner.id}` })
      notification.onclick = () => {
        window.focus()
        void goto(`/runners/${encodeURIComponent(runner.id)}`)
        notification.close()
      }
    } catch {
      // Some mobile browsers only notify from a service worker; the badge still shows.
    }
  }

  #chime(): void {
    try {
      this.#audio ??= new AudioContext()
      const ctx = this.#audio
      void ctx.resume()
      const gain = ctx.createGain()
      gain.connect(ctx.destination)
      gain.gain.setValueAtTime(0.0001, ctx.currentTime)
      gain.gain.exponentialRampToValueAtTime(0.15, ctx.currentTime + 0.02)
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.45)
      for (const [freq, at] of [
        [880, 0],
        [1175, 0.12],
      ] as const) {
        const osc = ctx.createOscillator()
        osc.type = "sine"
        osc.frequency.value = freq
        osc.connect(gain)
        osc.start(ctx.currentTime + at)
        osc.stop(ctx.currentTime + at + 0.3)
      }
    } catch {
      // no audio output: silence is fine
    }
  }
}

export const attention = new Attention()

/** The favicon: a small terminal glyph, with a red badge and the count when runners wait. */
export const faviconUrl = (count: number): string => {
  const badge =
    count > 0
      ? `<circle cx="23" cy="9" r="9" fill="#d93025"/><text x="23" y="13" font-size="${count > 9 ? 9 : 12}" font-family="sans-serif" font-weight="700" text-anchor="middle" fill="#fff">${count > 99 ? "99" : count}</text>`
      : ""
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect x="1" y="5" width="26" height="22" rx="4" fill="#2b3a55"/><path d="M6 12l5 4-5 4" stroke="#9fe3b0" stroke-width="2.5" fill="none" stroke-linecap="round" stroke-linejoin="round"/><path d="M13 21h7" stroke="#9fe3b0" stroke-width="2.5" stroke-linecap="round"/>${badge}</svg>`
  return `data:image/svg+xml,${encodeURIComponent(svg)}`
}
