/**
 * Just enough of the Dockerfile syntax to check docker/Dockerfile against the code: one
 * instruction per logical line (`\` continues it; comment lines inside a continuation are
 * dropped, as Docker does), the keyword and its argument text. Heredocs and a custom escape
 * character are refused rather than misread.
 */
export interface Instruction {
  /** Upper case: `FROM`, `RUN`, `COPY`, ... */
  readonly keyword: string
  /** Everything after the keyword, continuations joined with a space. */
  readonly args: string
  /** 1-based line where the instruction starts. */
  readonly line: number
}

export interface Stage {
  readonly image: string
  readonly name: string | undefined
  readonly instructions: ReadonlyArray<Instruction>
}

export const parseDockerfile = (text: string): ReadonlyArray<Instruction> => {
  const instructions: Instruction[] = []
  let pending: { line: number; parts: string[] } | undefined
  text.split("\n").forEach((raw, index) => {
    const trimmed = raw.trim()
    if (/^#\s*escape\s*=/i.test(trimmed) && instructions.length === 0 && pending === undefined) {
      throw new Error(`line ${index + 1}: the escape directive is not supported`)
    }
    if (trimmed === "" || trimmed.startsWith("#")) return
    const continues = trimmed.endsWith("\\")
    const body = continues ? trimmed.slice(0, -1).trim() : trimmed
    if (pending === undefined) pending = { line: index + 1, parts: [] }
    pending.parts.push(body)
    if (continues) return
    const joined = pending.parts.join(" ")
    const match = /^([A-Za-z]+)\s+([\s\S]*)$/.exec(joined)
    if (match === null) throw new Error(`line ${pending.line}: not an instruction: ${joined}`)
    const [, keyword = "", args = ""] = match
    if (/<<-?["']?[A-Za-z_]/.test(args)) {
      throw new Error(`line ${pending.line}: heredocs are not supported`)
    }
    instructions.push({ keyword: keyword.toUpperCase(), args: args.trim(), line: pending.line })
    pending = undefined
  })
  if (pending !== undefined) throw new Error(`line ${pending.line}: continues past the end`)
  return instructions
}

/** Splits on whitespace, keeping "double" and 'single' quoted parts (quotes removed). */
export const shellWords = (text: string): ReadonlyArray<string> => {
  const words: string[] = []
  const re = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g
  let word: RegExpExecArray | null = re.exec(text)
  while (word !== null) {
    words.push(word[1] ?? word[2] ?? word[3] ?? "")
    word = re.exec(text)
  }
  return words
}

/** The instructions grouped by `FROM`; instructions before the first `FROM` (ARG) are dropped. */
export const stagesOf = (instructions: ReadonlyArray<Instruction>): ReadonlyArray<Stage> => {
  const stages: Array<{ image: string; name: string | undefined; instructions: Instruction[] }> = []
  for (const instruction of instructions) {
    if (instruction.keyword === "FROM") {
      const words = shellWords(instruction.args).filter((w) => !w.startsWith("--"))
      const [image = "", as, name] = words
      stages.push({
        image,
        name: as?.toUpperCase() === "AS" ? name : undefined,
        instructions: [],
      })
      continue
    }
    stages.at(-1)?.instructions.push(instruction)
  }
  return stages
}

/** A `COPY`/`ADD`: its `--flag=value` options, sources and destination. */
export interface CopySpec {
  readonly flags: Readonly<Record<string, string>>
  readonly sources: ReadonlyArray<string>
  readonly destination: string
}

export const parseCopy = (args: string): CopySpec => {
  const words = shellWords(args)
  const flags: Record<string, string> = {}
  let rest = words
  while (rest[0]?.startsWith("--")) {
    const [flag = "", value = ""] = (rest[0] ?? "").slice(2).split(/=(.*)/s)
    flags[flag] = value
    rest = rest.slice(1)
  }
  const paths = rest[0]?.startsWith("[") ? jsonArray(rest.join(" ")) : rest
  const destination = paths.at(-1)
  if (destination === undefined || paths.length < 2) {
    throw new Error(`COPY ${args}: needs at least one source and a destination`)
  }
  return { flags, sources: paths.slice(0, -1), destination }
}

const jsonArray = (text: string): ReadonlyArray<string> => {
  const parsed: unknown = JSON.parse(text)
  if (!Array.isArray(parsed) || !parsed.every((w): w is string => typeof w === "string")) {
    throw new Error(`not a JSON array of strings: ${text}`)
  }
  return parsed
}

/** `CMD`/`ENTRYPOINT` in exec form (a JSON array); the shell form is refused. */
export const execForm = (args: string): ReadonlyArray<string> => {
  if (!args.startsWith("[")) throw new Error(`not in exec form: ${args}`)
  return jsonArray(args)
}

/** `ENV A=1 B="two words"`; the old `ENV KEY value` form is refused. */
export const parseEnv = (args: string): Readonly<Record<string, string>> => {
  const env: Record<string, string> = {}
  const re = /([A-Za-z_][A-Za-z0-9_]*)=(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S*))(?:\s+|$)/y
  let at = 0
  while (at < args.length) {
    re.lastIndex = at
    const match = re.exec(args)
    if (match === null) throw new Error(`ENV ${args}: only KEY=VALUE pairs are supported`)
    const [, key = "", double, single, plain] = match
    env[key] = double?.replace(/\\(.)/g, "$1") ?? single ?? plain ?? ""
    at = re.lastIndex
  }
  return env
}

/**
 * Whether a context path is excluded by a .dockerignore (patterns as Go's filepath.Match,
 * plus `**`; a pattern also excludes everything under a matching folder). Exceptions (`!`)
 * are refused: this checker does not model their ordering.
 */
export const makeIgnoreMatcher = (text: string): ((path: string) => boolean) => {
  const patterns = text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((pattern) => {
      if (pattern.startsWith("!")) throw new Error(`exceptions are not supported: ${pattern}`)
      const clean = pattern.replace(/^\/+/, "").replace(/\/+$/, "")
      let source = ""
      for (let i = 0; i < clean.length; i++) {
        const char = clean[i] ?? ""
        if (clean.startsWith("**/", i)) {
          source += "(?:.*/)?"
          i += 2
        } else if (clean.startsWith("**", i)) {
          source += ".*"
          i += 1
        } else if (char === "*") source += "[^/]*"
        else if (char === "?") source += "[^/]"
        else source += char.replace(/[.+^${}()|[\]\\]/g, "\\$&")
      }
      return new RegExp(`^${source}(?:/.*)?$`)
    })
  return (path) => {
    const clean = path.replace(/^\.\//, "").replace(/\/+$/, "")
    return patterns.some((re) => re.test(clean))
  }
}
