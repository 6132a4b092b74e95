export * from "./registry-search.js"
export * from "./scanner.js"
export * from "./search-logs.js"
