/** `1.2 MB`-style sizes (powers of 1024, as the log's segment sizes are). */
export const formatBytes = (bytes: number): string => {
  if (bytes < 1024) return `${bytes} B`
  const units = ["KB", "MB", "GB", "TB"]
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`
}

/** A duration as people say it: `45s`, `12m 03s`, `3h 05m`, `2d 4h`. */
export const formatDuration = (ms: number): string => {
  const s = Math.max(0, Math.floor(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, "0")}s`
  const h = Math.floor(m / 60)
  if (h < 24) return `${h}h ${String(m % 60).padStart(2, "0")}m`
  return `${Math.floor(h / 24)}d ${h % 24}h`
}

/** `just now`, `5m ago`. */
export const formatAgo = (then: number, now: number): string => {
  const ms = now - then
  if (ms < 5000) return "just now"
  return `${formatDuration(ms).split(" ")[0]} ago`
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" })

export const formatDate = (ms: number): string => dateTime.format(ms)

const instant = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" })

/** A date and time to the second (an audit entry's). */
export const formatInstant = (ms: number): string => instant.format(ms)
