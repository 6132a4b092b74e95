export * from "./audit-entry.js"
export * from "./audit-log.js"
export * from "./audit-records.js"
export * from "./read-backward.js"
