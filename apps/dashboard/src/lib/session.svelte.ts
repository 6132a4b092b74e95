import type { Role } from "@geppetto/protocol"
import { goto } from "$app/navigation"
import { type ApiError, api, setForbiddenHandler, setUnauthorizedHandler } from "./api"
import { push } from "./push.svelte"

/** Why the login page is shown: nobody logged in yet, or a session that stopped working. */
export type LoginReason = "expired" | "logged-out"

/** Who is logged in, shared by every page. The cookie is the truth; this mirrors it. */
class Session {
  role = $state<Role | undefined>(undefined)
  /** The user's name (`owner`, `viewer`, or a named user). */
  user = $state<string | undefined>(undefined)

  /** May act on runners: an operator, or an admin (operator and more). */
  get operator(): boolean {
    return this.role === "operator" || this.role === "admin"
  }

  /** Asks the server who the cookie says we are; undefined when nobody (or an expired session). */
  async check(fetcher?: typeof fetch): Promise<{ role?: Role; expired: boolean }> {
    try {
      const { role, user } = await api.me(fetcher)
      this.role = role
      this.user = user
      return { role, expired: false }
    } catch (error) {
      this.role = undefined
      this.user = undefined
      const e = error as ApiError
      if (e.status === 401) return { expired: /expired|no longer valid/i.test(e.message) }
      throw error
    }
  }

  #refreshing: Promise<void> | undefined

  /**
   * Asks again who we are after a refusal: an admin may have changed our role, which the
   * server applies at once. Concurrent calls share one request; a 401 means log in again.
   */
  refresh(): Promise<void> {
    if (this.role === undefined) return Promise.resolve()
    this.#refreshing ??= api
      .me()
      .then(
        ({ role, user }) => {
          this.role = role
          this.user = user
        },
        (error: unknown) => {
          if ((error as ApiError).status === 401) this.expire()
        },
      )
      .finally(() => {
        this.#refreshing = undefined
      })
    return this.#refreshing
  }

  async logout(): Promise<void> {
    // While the session still lets us: the server forgets this browser's push subscription.
    await push.forget()
    await api.logout().catch(() => {})
    this.role = undefined
    await goto("/login?reason=logged-out")
  }

  /** Any call that got a 401 after login: the cookie expired or the token was rotated. */
  expire(): void {
    if (this.role === undefined) return
    this.role = undefined
    const here = location.pathname + location.search
    void goto(`/login?reason=expired&next=${encodeURIComponent(here)}`)
  }
}

export const session = new Session()

setUnauthorizedHandler(() => session.expire())
setForbiddenHandler(() => void session.refresh())
