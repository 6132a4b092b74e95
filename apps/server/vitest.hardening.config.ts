import { defineConfig } from "vitest/config"
import { nodePackageConfig } from "../../.config/vitest.node.js"

/**
 * The hardening suite (`pnpm test:hardening`, also part of `pnpm test`): fault injection,
 * hostile input and the auth audit against real servers and real tmux. Its files end in
 * `.hardening.ts` so that the server's own project (`test/**\/*.test.ts`) does not run them.
 */
const base = nodePackageConfig()

export default defineConfig({
  ...base,
  test: {
    ...base.test,
    name: "hardening",
    include: ["test/hardening/**/*.hardening.ts"],
    globalSetup: ["test/hardening/global-setup.ts"],
    // One file at a time: the files kill servers, flood sockets and read /proc figures, and
    // a second heavy file beside them on 2 cores only makes the figures noisy.
    fileParallelism: false,
    poolOptions: { forks: { singleFork: true } },
    testTimeout: 600_000,
    hookTimeout: 120_000,
  },
})
