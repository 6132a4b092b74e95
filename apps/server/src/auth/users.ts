import { createHash, timingSafeEqual } from "node:crypto"
import { join } from "node:path"
import { type Role, type UserInfo, UserName } from "@geppetto/protocol"
import { writeFileAtomically } from "@geppetto/runner"
import { z } from "zod"
import { generateToken, readSecretFile, SecretFileError } from "./secret-files.js"
import type { Tokens } from "./tokens.js"

export const USERS_FILE = "users.json"
/** The built-in users: `GEPPETTO_TOKEN` is `owner` (admin), `GEPPETTO_VIEWER_TOKEN` is `viewer`. */
export const OWNER = "owner"
export const VIEWER = "viewer"
export const BUILTIN_USERS: ReadonlySet<string> = new Set([OWNER, VIEWER])
/** `lastSeenAt` moves at most this often per user: no write (nor allocation) per request. */
export const LAST_SEEN_RESOLUTION_MS = 60_000

const RANK: Readonly<Record<Role, number>> = { viewer: 1, operator: 2, admin: 3 }
/** Whether `role` may do what `required` may: `viewer < operator < admin`. */
export const roleAtLeast = (role: Role, required: Role): boolean => RANK[role] >= RANK[required]

/**
 * SHA-256 of a token, hex. A plain (unsalted, fast) hash is enough here because every token we
 * hash for storage is 32 bytes from a CSPRNG: with 2^256 candidates there is no dictionary to
 * precompute and no brute force to slow down, so a password KDF (scrypt, argon2) would only add
 * CPU to every request. (Built-in tokens may be chosen by a person; they are never written to
 * users.json, and their hashes live in memory only.)
 */
export const hashToken = (token: string): string =>
  createHash("sha256").update(token, "utf8").digest("hex")

/** One user as the server knows them. `role` and `lastSeenAt` change in place. */
export interface UserEntry {
  readonly name: string
  role: Role
  /** `hashToken` of the user's token; the token itself is never kept. */
  readonly tokenHash: string
  readonly createdAt: number
  lastSeenAt: number | undefined
  readonly builtin: boolean
}

const StoredUser = z.object({
  name: z.string(),
  role: z.enum(["viewer", "operator", "admin"]),
  tokenHash: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.string(),
  lastSeenAt: z.string().optional(),
})
const StoredFile = z.object({ version: z.literal(1), users: z.array(StoredUser).max(10_000) })

const iso = (ms: number): string => new Date(ms).toISOString()
const epoch = (text: string | undefined): number | undefined => {
  if (text === undefined) return undefined
  const ms = Date.parse(text)
  return Number.isFinite(ms) ? ms : undefined
}

export type AddUserResult =
  | { readonly ok: true; readonly entry: UserEntry; readonly token: string }
  | { readonly ok: false; readonly reason: "exists" | "reserved" }

/**
 * Who may use the server: the two built-in users from `tokens.json` / the environment, plus
 * the users an admin added, kept in `DATA_DIR/users.json` (0600; written tmp + fsync + rename).
 * Lookups are in memory, by token hash; every change is written before it is answered.
 */
export class UserStore {
  private readonly users = new Map<string, UserEntry>()
  private readonly byHash = new Map<string, UserEntry>()
  /** Saves run one after another, each writing the state as it is when it starts. */
  private saving: Promise<void> = Promise.resolve()
  private saveQueued = false

  private constructor(
    /** Where added users are kept; undefined keeps them in memory only (tests, no data dir). */
    readonly file: string | undefined,
    private readonly now: () => number,
  ) {}

  /** The store for `dataDir` (or an in-memory one), with the built-in users from `tokens`. */
  static async open(options: {
    readonly tokens: Tokens
    readonly dataDir?: string | undefined
    readonly now?: () => number
  }): Promise<UserStore> {
    const now = options.now ?? Date.now
    const file = options.dataDir === undefined ? undefined : join(options.dataDir, USERS_FILE)
    const store = new UserStore(file, now)
    const started = now()
    store.insert({
      name: OWNER,
      role: "admin",
      tokenHash: hashToken(options.tokens.operator),
      createdAt: started,
      lastSeenAt: undefined,
      builtin: true,
    })
    store.insert({
      name: VIEWER,
      role: "viewer",
      tokenHash: hashToken(options.tokens.viewer),
      createdAt: started,
      lastSeenAt: undefined,
      builtin: true,
    })
    if (file !== undefined) await store.load(file)
    return store
  }

  private insert(entry: UserEntry): void {
    this.users.set(entry.name, entry)
    this.byHash.set(entry.tokenHash, entry)
  }

  private async load(file: string): Promise<void> {
    const content = await readSecretFile(file)
    if (content === undefined) return
    let json: unknown
    try {
      json = JSON.parse(content)
    } catch {
      throw new SecretFileError(`${file} is not valid JSON`)
    }
    const parsed = StoredFile.safeParse(json)
    if (!parsed.success) {
      throw new SecretFileError(
        `${file} does not hold { "version": 1, "users": [...] }: ${parsed.error.issues[0]?.message ?? "bad shape"}`,
      )
    }
    for (const user of parsed.data.users) {
      if (!UserName.safeParse(user.name).success || BUILTIN_USERS.has(user.name)) {
        throw new SecretFileError(`${file}: ${JSON.stringify(user.name)} is not a valid user name`)
      }
      if (this.byHash.has(user.tokenHash)) {
        throw new SecretFileError(`${file}: user ${user.name} has another user's token`)
      }
      this.insert({
        name: user.name,
        role: user.role,
        tokenHash: user.tokenHash,
        createdAt: epoch(user.createdAt) ?? this.now(),
        lastSeenAt: epoch(user.lastSeenAt),
        builtin: false,
      })
    }
  }

  /**
   * The user whose token this is. The map is keyed by the token's hash, so the lookup reveals
   * nothing a guess could use (finding a near miss would take a SHA-256 preimage); the stored
   * digest is then compared in constant time all the same.
   */
  resolveToken(token: string): UserEntry | undefined {
    const digest = hashToken(token)
    const entry = this.byHash.get(digest)
    if (entry === undefined) return undefined
    const a = Buffer.from(digest, "hex")
    const b = Buffer.from(entry.tokenHash, "hex")
    return a.length === b.length && timingSafeEqual(a, b) ? entry : undefined
  }

  get(name: string): UserEntry | undefined {
    return this.users.get(name)
  }

  /** The user's role now (undefined once removed): what an open socket checks per frame. */
  roleOf(name: string): Role | undefined {
    return this.users.get(name)?.role
  }

  list(): ReadonlyArray<UserInfo> {
    return [...this.users.values()].map(toInfo)
  }

  /** Adds `name` with a new token (32 CSPRNG bytes, base64url), returned this once. */
  async add(name: string, role: Role): Promise<AddUserResult> {
    if (BUILTIN_USERS.has(name)) return { ok: false, reason: "reserved" }
    if (this.users.has(name)) return { ok: false, reason: "exists" }
    const token = generateToken()
    const entry: UserEntry = {
      name,
      role,
      tokenHash: hashToken(token),
      createdAt: this.now(),
      lastSeenAt: undefined,
      builtin: false,
    }
    this.insert(entry)
    try {
      await this.save()
    } catch (error) {
      this.delete(entry)
      throw error
    }
    return { ok: true, entry, token }
  }

  /** Removes an added user; false when there is none of that name (built-ins are not removed). */
  async remove(name: string): Promise<boolean> {
    const entry = this.users.get(name)
    if (entry === undefined || entry.builtin) return false
    this.delete(entry)
    try {
      await this.save()
    } catch (error) {
      this.insert(entry)
      throw error
    }
    return true
  }

  /** Gives an added user another role; undefined when there is none of that name. */
  async setRole(name: string, role: Role): Promise<UserEntry | undefined> {
    const entry = this.users.get(name)
    if (entry === undefined || entry.builtin) return undefined
    const before = entry.role
    entry.role = role
    try {
      await this.save()
    } catch (error) {
      entry.role = before
      throw error
    }
    return entry
  }

  /**
   * Records an authenticated request by `entry`: at most once a minute per user, and then the
   * file is saved in the background (a failed save loses only that timestamp).
   */
  seen(entry: UserEntry): void {
    const now = this.now()
    if (entry.lastSeenAt !== undefined && now - entry.lastSeenAt < LAST_SEEN_RESOLUTION_MS) return
    entry.lastSeenAt = now
    if (!entry.builtin) this.save().catch(() => undefined)
  }

  /** Waits for the saves under way (tests, shutdown). */
  flush(): Promise<void> {
    return this.saving
  }

  private delete(entry: UserEntry): void {
    this.users.delete(entry.name)
    this.byHash.delete(entry.tokenHash)
  }

  /**
   * Writes the added users. Saves are serialized; one asked for while another waits to start
   * is folded into it (it writes the state as of when it starts, which includes both changes).
   */
  private save(): Promise<void> {
    const file = this.file
    if (file === undefined) return Promise.resolve()
    if (this.saveQueued) return this.saving
    this.saveQueued = true
    const next = this.saving
      .catch(() => undefined)
      .then(() => {
        this.saveQueued = false
        const users = [...this.users.values()]
          .filter((u) => !u.builtin)
          .map((u) => ({
            name: u.name,
            role: u.role,
            tokenHash: u.tokenHash,
            createdAt: iso(u.createdAt),
            ...(u.lastSeenAt !== undefined ? { lastSeenAt: iso(u.lastSeenAt) } : {}),
          }))
        return writeFileAtomically(file, `${JSON.stringify({ version: 1, users }, null, 2)}\n`)
      })
    this.saving = next
    return next
  }
}

const toInfo = (entry: UserEntry): UserInfo => ({
  name: entry.name,
  role: entry.role,
  createdAt: iso(entry.createdAt),
  ...(entry.lastSeenAt !== undefined ? { lastSeenAt: iso(entry.lastSeenAt) } : {}),
  ...(entry.builtin ? { builtin: true } : {}),
})

/** `UserInfo` of one entry. */
export const userInfo = toInfo
