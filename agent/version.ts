/** Version the agent reports in heartbeats, pings and its NATS service (SemVer, per ADR-32). */
export const AGENT_VERSION = "0.1.0";
