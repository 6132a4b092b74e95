// Which dashboard build this is, read by vite.config.ts and svelte.config.js alike.
// `pnpm build` makes the production build (`build/`, served by `geppetto serve`); the e2e
// suite serves the test build (`build:test`, into `build-test/`), the same code plus the
// `window.__geppetto*` hooks its tests read.

/** True for `GEPPETTO_DASHBOARD_TEST_BUILD=1 vite build` (the `build:test` script). */
export const testBuild = process.env.GEPPETTO_DASHBOARD_TEST_BUILD === "1"

/** Where adapter-static writes the site. */
export const outDir = testBuild ? "build-test" : "build"
