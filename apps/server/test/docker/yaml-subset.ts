/**
 * The subset of YAML that docker/compose.yaml is written in, parsed without a dependency:
 * block mappings, block sequences of scalars, plain and quoted scalars, `#` comments.
 * Anything else (flow collections, anchors, block scalars, several documents, mappings
 * inside sequences) throws, so the test fails loudly instead of reading the file wrong;
 * a compose file that needs more should bring in the `yaml` package instead.
 */
export type YamlScalar = string | number | boolean | null
export type YamlValue =
  | YamlScalar
  | ReadonlyArray<YamlValue>
  | { readonly [key: string]: YamlValue }

interface Line {
  readonly number: number
  readonly indent: number
  readonly text: string
}

/** The line without its comment: a `#` at the start or after a space, outside quotes. */
const stripComment = (text: string): string => {
  let quote: string | undefined
  for (let i = 0; i < text.length; i++) {
    const char = text[i]
    if (quote !== undefined) {
      if (char === "\\" && quote === '"') i++
      else if (char === quote) quote = undefined
    } else if (char === '"' || char === "'") quote = char
    else if (char === "#" && (i === 0 || /\s/.test(text[i - 1] ?? ""))) return text.slice(0, i)
  }
  return text
}

const scalar = (raw: string, line: number): YamlScalar => {
  const text = raw.trim()
  const fail = (why: string) => {
    throw new Error(`line ${line}: ${why}: ${text}`)
  }
  if (text.startsWith('"')) {
    if (!/^"(?:[^"\\]|\\.)*"$/.test(text)) fail("bad double-quoted scalar")
    const parsed: unknown = JSON.parse(text)
    return typeof parsed === "string" ? parsed : fail("bad double-quoted scalar")
  }
  if (text.startsWith("'")) {
    if (!/^'(?:[^']|'')*'$/.test(text)) fail("bad single-quoted scalar")
    return text.slice(1, -1).replaceAll("''", "'")
  }
  if (/^[[{&*!|>%@`]/.test(text)) fail("unsupported YAML (flow, anchor, tag or block scalar)")
  if (text === "" || text === "~" || text === "null") return null
  if (text === "true") return true
  if (text === "false") return false
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text)
  return text
}

const KEY = /^([A-Za-z0-9_.-]+|"[^"]*"|'[^']*'):(?:\s+(.*))?$/

export const parseYamlSubset = (source: string): YamlValue => {
  const lines: Line[] = []
  source.split("\n").forEach((raw, index) => {
    if (raw.includes("\t")) throw new Error(`line ${index + 1}: tabs are not YAML indentation`)
    const text = stripComment(raw).trimEnd()
    if (text.trim() === "") return
    if (/^(---|\.\.\.)(\s|$)/.test(text)) throw new Error(`line ${index + 1}: one document only`)
    lines.push({
      number: index + 1,
      indent: text.length - text.trimStart().length,
      text: text.trim(),
    })
  })
  let at = 0

  const block = (indent: number): YamlValue => {
    const first = lines[at]
    if (first === undefined || first.indent !== indent) {
      throw new Error(`line ${first?.number ?? "end"}: expected a block indented ${indent}`)
    }
    return first.text === "-" || first.text.startsWith("- ") ? sequence(indent) : mapping(indent)
  }

  const sequence = (indent: number): ReadonlyArray<YamlValue> => {
    const items: YamlValue[] = []
    for (let line = lines[at]; line !== undefined && line.indent === indent; line = lines[at]) {
      if (!(line.text === "-" || line.text.startsWith("- "))) break
      const item = line.text.slice(1).trim()
      if (KEY.test(item))
        throw new Error(`line ${line.number}: mappings in sequences are not supported`)
      items.push(scalar(item, line.number))
      at++
    }
    return items
  }

  const mapping = (indent: number): { readonly [key: string]: YamlValue } => {
    const entries: Record<string, YamlValue> = {}
    for (let line = lines[at]; line !== undefined && line.indent === indent; line = lines[at]) {
      const match = KEY.exec(line.text)
      if (match === null) throw new Error(`line ${line.number}: expected KEY: VALUE: ${line.text}`)
      const [, rawKey = "", value] = match
      const key = /^["']/.test(rawKey) ? rawKey.slice(1, -1) : rawKey
      if (Object.hasOwn(entries, key)) throw new Error(`line ${line.number}: duplicate key ${key}`)
      at++
      if (value !== undefined && value.trim() !== "") {
        entries[key] = scalar(value, line.number)
        continue
      }
      const next = lines[at]
      const nested =
        next !== undefined &&
        (next.indent > indent ||
          (next.indent === indent && (next.text === "-" || next.text.startsWith("- "))))
      entries[key] = nested ? block(next.indent) : null
    }
    return entries
  }

  const root = lines.length === 0 ? null : block(lines[0]?.indent ?? 0)
  const rest = lines[at]
  if (rest !== undefined) throw new Error(`line ${rest.number}: bad indentation: ${rest.text}`)
  return root
}
