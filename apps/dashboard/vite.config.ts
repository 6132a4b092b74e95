import { sveltekit } from "@sveltejs/kit/vite"
import { defaultClientConditions, defaultServerConditions, defineConfig } from "vite"

// "geppetto-source" makes workspace packages resolve to their TypeScript sources,
// so the dashboard never depends on a stale dist/ of @geppetto/protocol.
export default defineConfig({
  plugins: [sveltekit()],
  resolve: {
    conditions: ["geppetto-source", ...defaultClientConditions],
  },
  ssr: {
    resolve: {
      conditions: ["geppetto-source", ...defaultServerConditions],
    },
  },
  server: {
    proxy: {
      "/api": "http://127.0.0.1:7420",
    },
  },
})
