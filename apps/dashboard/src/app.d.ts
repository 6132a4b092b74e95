// See https://svelte.dev/docs/kit/types#app.d.ts
declare global {
  namespace App {}
  /**
   * Whether this build exposes the `window.__geppetto*` hooks the e2e tests read: true in
   * `vite dev` and in the test build (`pnpm --filter @geppetto/dashboard build:test`, into
   * `build-test/`), false in the production build, which then holds none of them.
   * Replaced at build time (`define` in vite.config.ts).
   */
  const __GEPPETTO_TEST_HOOKS__: boolean
}

export {}
