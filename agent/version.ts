// Kept for test/security/hostile-input.test.ts, which imports AGENT_VERSION from here; new code
// imports BALLAST_VERSION from shared/version.ts (the agent's public name stays in agent/index.ts).
export { BALLAST_VERSION as AGENT_VERSION } from "../shared/version.js";
