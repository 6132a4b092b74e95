export * from "./builtin-rules.js"
export * from "./evaluate.js"
export * from "./load-rules.js"
export * from "./rules.js"
