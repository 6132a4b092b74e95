import { nodePackageConfig } from "../../.config/vitest.node.js"

export default nodePackageConfig()
