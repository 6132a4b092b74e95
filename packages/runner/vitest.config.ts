import { defineConfig } from "vitest/config"

export default defineConfig({
  // Resolve workspace packages to their TypeScript sources (the `geppetto-source` export).
  resolve: {
    conditions: ["geppetto-source", "module", "node", "development|production"],
  },
  ssr: {
    resolve: {
      conditions: ["geppetto-source", "module", "node", "development|production"],
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Real tmux servers and processes: two workers on a 2-core machine keep timing honest.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
})
