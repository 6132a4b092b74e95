import { mergeConfig } from "vitest/config"
import { nodePackageConfig } from "../.config/vitest.node.js"

// One browser and one server per file; the steps of a file run in order and share them.
export default mergeConfig(nodePackageConfig(), {
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
})
