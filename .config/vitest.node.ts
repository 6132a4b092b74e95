import { defineConfig } from "vitest/config"

// Resolve workspace packages to their TypeScript sources (the `geppetto-source` export).
const conditions = ["geppetto-source", "module", "node", "development|production"]

/** The vitest config of a Node package: sources of workspace deps, real-process timeouts. */
export const nodePackageConfig = () =>
  defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions } },
    test: {
      include: ["test/**/*.test.ts"],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      // Real tmux servers and processes: two workers on a 2-core machine keep timing honest.
      pool: "forks",
      poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    },
  })
