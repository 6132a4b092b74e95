import { CreatedUser, Role, UserInfo, UserName } from "@geppetto/protocol"
import { z } from "zod"
import { type ApiClient, connect } from "./client.js"
import {
  type CliContext,
  CONNECTION_USAGE,
  parseCommandArgs,
  positionals,
  writeStdout,
} from "./command.js"
import { usageError } from "./errors.js"
import { formatAge, formatTable } from "./ls.js"

export const usage = `usage: geppetto users add NAME --role ROLE [--json]
       geppetto users ls [--json]
       geppetto users rm NAME
       geppetto users role NAME ROLE

Manages the people who may use the server (an admin's token is needed: the server's own
GEPPETTO_TOKEN is the built-in admin \`owner\`). ROLE is viewer, operator or admin.

  add    adds NAME with a new token and prints it with a login link: shown this once,
         the server keeps only a hash of it
  ls     lists every user, the built-in owner and viewer included
  rm     removes NAME: their token and cookies stop working and their open sockets close
  role   gives NAME another role, from their next request on

NAME: a lowercase letter, then up to 31 of a-z 0-9 _ - (owner and viewer are built in).

  --role ROLE   the new user's role
  --json        print the server's JSON as is

${CONNECTION_USAGE}`

const nameOf = (given: string | undefined): string => {
  const parsed = UserName.safeParse(given)
  if (!parsed.success) {
    throw usageError(
      `${JSON.stringify(given)} is not a user name: a lowercase letter, then up to 31 of a-z 0-9 _ -`,
    )
  }
  return parsed.data
}

const roleOf = (given: string | undefined): Role => {
  if (given === undefined) throw usageError("give the role with --role viewer|operator|admin", true)
  const parsed = Role.safeParse(given)
  if (!parsed.success) {
    throw usageError(`${JSON.stringify(given)} is not a role: viewer, operator or admin`)
  }
  return parsed.data
}

const userPath = (name: string) => `/api/users/${encodeURIComponent(name)}`

const add = async (client: ApiClient, name: string, role: Role, json: boolean) => {
  const created = await client.json("POST", "/api/users", CreatedUser, { name, role })
  if (json) return writeStdout(`${JSON.stringify(created)}\n`)
  const link = `${client.connection.url}/?token=${encodeURIComponent(created.token)}`
  await writeStdout(
    `user:  ${created.name} (${created.role})\ntoken: ${created.token}\nlogin: ${link}\n`,
  )
  process.stderr.write(
    "the token is shown this once (the server keeps only its hash); hand the login link to its owner\n",
  )
}

const list = async (client: ApiClient, json: boolean) => {
  const users = await client.json("GET", "/api/users", z.array(UserInfo))
  if (json) return writeStdout(`${JSON.stringify(users)}\n`)
  const now = Date.now()
  const age = (iso: string | undefined) =>
    iso === undefined ? "-" : `${formatAge(now - Date.parse(iso))} ago`
  const rows = [
    ["NAME", "ROLE", "ADDED", "LAST SEEN"],
    ...users.map((u) => [
      u.builtin === true ? `${u.name} (built-in)` : u.name,
      u.role,
      u.builtin === true ? "-" : age(u.createdAt),
      age(u.lastSeenAt),
    ]),
  ]
  return writeStdout(`${formatTable(rows)}\n`)
}

export const run = async (argv: ReadonlyArray<string>, ctx: CliContext): Promise<number> => {
  const { values, positionals: given } = parseCommandArgs(argv, {
    role: { type: "string" },
    json: { type: "boolean" },
  })
  const [verb, ...rest] = given
  switch (verb) {
    case "add": {
      const [name] = positionals(rest, ["NAME"])
      const checked = nameOf(name)
      const role = roleOf(values.role)
      await add(await connect(values, ctx.env), checked, role, values.json === true)
      return 0
    }
    case "ls":
      positionals(rest, [])
      await list(await connect(values, ctx.env), values.json === true)
      return 0
    case "rm": {
      const [name] = positionals(rest, ["NAME"])
      const checked = nameOf(name)
      const client = await connect(values, ctx.env)
      await client.request("DELETE", userPath(checked))
      if (process.stderr.isTTY) process.stderr.write(`removed ${checked}\n`)
      return 0
    }
    case "role": {
      const [name, role] = positionals(rest, ["NAME", "ROLE"])
      const checked = nameOf(name)
      const client = await connect(values, ctx.env)
      const updated = await client.json("PATCH", userPath(checked), UserInfo, {
        role: roleOf(role),
      })
      await writeStdout(`${updated.name} is now ${updated.role}\n`)
      return 0
    }
    case undefined:
      throw usageError("missing the verb: add, ls, rm or role", true)
    default:
      throw usageError(`unknown verb ${JSON.stringify(verb)}: add, ls, rm or role`, true)
  }
}
