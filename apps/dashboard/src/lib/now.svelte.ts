/**
 * A clock for elapsed times: one interval for the whole app, running only while some
 * component reads it (`$effect` subscribers), ticking once a second.
 */
class Clock {
  value = $state(Date.now())
  #users = 0
  #timer: ReturnType<typeof setInterval> | undefined

  /** Use inside `$effect`: ticks while the returned cleanup has not run. */
  use(): () => void {
    if (this.#users++ === 0) {
      this.value = Date.now()
      this.#timer = setInterval(() => {
        this.value = Date.now()
      }, 1000)
    }
    return () => {
      if (--this.#users === 0) clearInterval(this.#timer)
    }
  }
}

export const clock = new Clock()
