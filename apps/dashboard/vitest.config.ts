import { defineConfig } from "vitest/config"

// Unit tests of the dashboard's plain TypeScript (no Svelte, no DOM): `src/**/*.test.ts`.
// Its own config, so vitest does not load the SvelteKit plugin from vite.config.ts.
export default defineConfig({
  resolve: { conditions: ["geppetto-source", "module", "browser", "development|production"] },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
})
