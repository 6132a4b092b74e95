import { readFileSync } from "node:fs"

/** The server's version, from its package.json (works from src/ and from dist/). */
export const serverVersion: string = (() => {
  const pkg: unknown = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"))
  return typeof pkg === "object" &&
    pkg !== null &&
    "version" in pkg &&
    typeof pkg.version === "string"
    ? pkg.version
    : "0.0.0"
})()
