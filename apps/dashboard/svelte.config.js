import adapter from "@sveltejs/adapter-static"
import { vitePreprocess } from "@sveltejs/vite-plugin-svelte"
import { outDir } from "./build-variant.js"

/** @type {import('@sveltejs/kit').Config} */
const config = {
  preprocess: vitePreprocess(),
  compilerOptions: {
    runes: true,
  },
  kit: {
    adapter: adapter({
      pages: outDir,
      assets: outDir,
      fallback: "index.html",
      // .br and .gz beside each file: the server sends them to browsers that take them.
      precompress: true,
      strict: true,
    }),
    // Registered by the layout as /sw.js (the server serves the built service-worker.js there).
    serviceWorker: { register: false },
  },
}

export default config
