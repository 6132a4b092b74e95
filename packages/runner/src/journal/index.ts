export * from "./journal-store.js"
export * from "./records.js"
