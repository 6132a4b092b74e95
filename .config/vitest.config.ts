import { defineConfig } from "vitest/config"

// Every package's tests in one run; each project keeps its own vitest.config.ts.
export default defineConfig({
  test: {
    root: `${import.meta.dirname}/..`,
    projects: [
      "packages/protocol",
      "packages/runner",
      "apps/server",
      // The dashboard's plain TypeScript (no Svelte, no DOM); its own config, not vite.config.ts.
      "apps/dashboard/vitest.config.ts",
      // Fault injection, hostile input, auth audit: ends with the `hardening:` summary line.
      "apps/server/vitest.hardening.config.ts",
      "e2e",
    ],
    // Real tmux servers and processes on a 2-core machine: two workers keep timing honest.
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
  },
})
