export * from "./limits.js"
export * from "./provider.js"
export * from "./registry.js"
