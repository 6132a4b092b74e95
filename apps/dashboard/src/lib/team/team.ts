import type { AuditAction, Role, Viewer } from "@geppetto/protocol"

/** The letters of a user's avatar: `alice` → `AL`, `jean-luc` → `JL`, `bob_2` → `B2`. */
export const initials = (name: string): string => {
  const parts = name.split(/[-_]+/).filter((p) => p !== "")
  const first = parts[0] ?? name
  const second = parts[1]
  return (second !== undefined ? `${first[0] ?? ""}${second[0] ?? ""}` : first.slice(0, 2))
    .toUpperCase()
    .padEnd(1, "?")
}

/**
 * A hue for a user's avatar, the same in every tab and on every machine: one of 12 hues 30°
 * apart (nearby hues look alike on a small circle), picked by FNV-1a of the name with
 * murmur3's finaliser (FNV alone puts `alice`, `bob` and `owner` all in the purples).
 */
export const hueOf = (name: string): number => {
  let hash = 0x811c9dc5
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  hash ^= hash >>> 16
  hash = Math.imul(hash, 0x85ebca6b)
  hash ^= hash >>> 13
  hash = Math.imul(hash, 0xc2b2ae35)
  hash ^= hash >>> 16
  return ((hash >>> 0) % 12) * 30
}

/** `alice`, `alice and bob`, `alice, bob and carol`, `alice, bob and 3 others`. */
export const listNames = (names: ReadonlyArray<string>, max = 3): string => {
  if (names.length <= 1) return names[0] ?? ""
  if (names.length > max) {
    const rest = names.length - (max - 1)
    return `${names.slice(0, max - 1).join(", ")} and ${rest} others`
  }
  return `${names.slice(0, -1).join(", ")} and ${names.at(-1) ?? ""}`
}

/**
 * Who else is on a runner, in words: `alice and bob watching · alice typing`. The user
 * reading it is left out (they know they are there); `undefined` when nobody else is.
 */
export const presenceText = (
  viewers: ReadonlyArray<Viewer>,
  me: string | undefined,
): string | undefined => {
  const others = othersOf(viewers, me)
  if (others.length === 0) return undefined
  const typing = others.filter((v) => v.typing).map((v) => v.user)
  const watching = `${listNames(others.map((v) => v.user))} watching`
  return typing.length === 0 ? watching : `${watching} · ${listNames(typing)} typing`
}

/** Everyone but `me`, longest there first (the order the avatars stack in). */
export const othersOf = (viewers: ReadonlyArray<Viewer>, me: string | undefined): Viewer[] =>
  viewers
    .filter((v) => v.user !== me)
    .sort((a, b) => a.since - b.since || a.user.localeCompare(b.user))

export const ROLE_LABEL: Record<Role, string> = {
  viewer: "viewer (read-only)",
  operator: "operator",
  admin: "admin",
}

/** What each audit action reads as after the user's name. Unknown actions show as they are. */
const ACTION_LABEL: Partial<Record<AuditAction, string>> = {
  login: "logged in",
  "login.failed": "failed to log in",
  "runner.start": "started a runner",
  "runner.pause": "paused",
  "runner.resume": "resumed",
  "runner.terminate": "terminated",
  "runner.remove": "removed",
  "runner.input": "typed",
  "runner.reply": "replied",
  "runner.auto-approve": "auto-approved",
  "session.adopt": "adopted a session",
  "workspace.commit": "committed",
  "workspace.merge": "merged",
  "user.add": "added a user",
  "user.role": "changed a role",
  "user.remove": "removed a user",
  "schedule.add": "added a schedule",
  "schedule.remove": "removed a schedule",
  "schedule.pause": "paused a schedule",
  "schedule.resume": "resumed a schedule",
}

export const actionLabel = (action: string): string => ACTION_LABEL[action as AuditAction] ?? action
