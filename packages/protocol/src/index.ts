export * from "./health.js"
export * from "./ids.js"
export * from "./process-event.js"
export * from "./runner-summary.js"
