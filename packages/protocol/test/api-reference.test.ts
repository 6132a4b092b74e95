import { describe, expect, it } from "vitest"
import { z } from "zod"
import {
  convertSchemas,
  fieldPaths,
  readSchemaComments,
  renderApiReference,
  SCHEMA_GROUPS,
  wordsOf,
} from "../scripts/api-reference.js"
import { API_ROUTES } from "../scripts/api-routes.js"
import * as protocol from "../src/index.js"

const docs = SCHEMA_GROUPS.flatMap((g) => g.schemas)

/** Field paths of an object schema, or of every inline variant of a union. */
const pathsOf = (schema: Record<string, unknown>): ReadonlyArray<string> => {
  const union = Array.isArray(schema.oneOf) ? schema.oneOf : schema.anyOf
  if (!Array.isArray(union)) return fieldPaths(schema)
  return union.flatMap((variant: unknown) =>
    typeof variant === "object" && variant !== null
      ? fieldPaths(variant as Record<string, unknown>)
      : [],
  )
}

describe("docs/API.md", () => {
  it("documents every zod schema the package exports, each once", () => {
    const exported = new Map(
      Object.entries(protocol).filter(([, value]) => value instanceof z.core.$ZodType),
    )
    expect(docs.map((d) => d.name).sort()).toEqual([...exported.keys()].sort())
    for (const doc of docs) expect(doc.schema, doc.name).toBe(exported.get(doc.name))
  })

  it("converts every schema with z.toJSONSchema, without a fallback", () => {
    const converted = convertSchemas(docs)
    for (const doc of docs) {
      expect(converted.get(doc.name)?.problem, doc.name).toBeUndefined()
      expect(converted.get(doc.name)?.schema, doc.name).toBeDefined()
    }
  })

  it("falls back per schema when one has no JSON Schema form", () => {
    const odd = [
      { name: "Fine", schema: z.object({ a: z.string() }) },
      { name: "Odd", schema: z.object({ when: z.date(), a: z.string() }) },
    ]
    const converted = convertSchemas(odd)
    expect(converted.get("Fine")).toEqual({
      schema: {
        type: "object",
        properties: { a: { type: "string" } },
        required: ["a"],
      },
    })
    expect(converted.get("Odd")?.problem).toMatch(/no JSON Schema form and show as `\{\}`/)
    expect(converted.get("Odd")?.schema).toBeDefined()
  })

  it("gives every schema a summary, and describes only fields the schemas have", () => {
    const comments = readSchemaComments()
    const converted = convertSchemas(docs)
    for (const doc of docs) {
      expect(wordsOf(doc, comments, docs).summary, doc.name).toBeTruthy()
      const schema = converted.get(doc.name)?.schema ?? {}
      const paths = new Set(pathsOf(schema))
      for (const field of Object.keys(doc.fields ?? {})) {
        expect(paths.has(field), `${doc.name}.${field} is described but not in the schema`).toBe(
          true,
        )
      }
    }
  })

  it("borrows field words only from documented schemas", () => {
    const names = new Set(docs.map((d) => d.name))
    for (const doc of docs) {
      if (doc.fieldsLike !== undefined) expect(names.has(doc.fieldsLike), doc.name).toBe(true)
    }
  })

  it("names only documented schemas in the route table", () => {
    const names = new Set(docs.map((d) => d.name))
    for (const route of API_ROUTES) {
      const used = [
        route.params,
        route.query,
        route.body,
        ...route.responses.map((r) => r.schema),
      ].filter((x) => x !== undefined)
      for (const name of used) expect(names.has(name), `${route.path}: ${name}`).toBe(true)
    }
  })

  it("is up to date: regenerate it with `pnpm docs:api`", async () => {
    await expect(renderApiReference()).toMatchFileSnapshot(
      "../../../docs/API.md",
      "docs/API.md is stale: run `pnpm docs:api` and commit it",
    )
  })
})
