export * from "./ids.js";
export * from "./vm.js";
export * from "./host-metrics.js";
export * from "./envelope.js";
export * from "./agent-api.js";
export * from "./orchestrator-api.js";
export * from "./plan.js";
export * from "./snapshot.js";
