// The agent's public surface: everything the CLI, the demo and other code may import.
export { startAgent, type StartAgentOptions, type AgentHandle } from "./nats-agent.js";
export { runAgent } from "./main.js";
/** The version every agent reports (heartbeats, pings, its NATS service): Ballast's, from package.json. */
export { BALLAST_VERSION as AGENT_VERSION } from "../shared/version.js";
export type {
  Hypervisor,
  DomainStats,
  MigrationTarget,
  MigrateOptions,
  MigrationProgress,
  OutgoingMigrationState,
  IncomingRefusal,
} from "./ports/hypervisor.js";
export { MigrationUnobservedError } from "./ports/hypervisor.js";
export type { HostMetricsSource, HostSample } from "./ports/host-metrics-source.js";
export { systemClock, type Clock } from "./ports/clock.js";
export { SimHypervisor, type SimHypervisorOptions, type SimVmView } from "./sim/sim-hypervisor.js";
export { SimFabric } from "./sim/sim-fabric.js";
export { ManualClock } from "./sim/manual-clock.js";
export { createSimMetricsSource } from "./sim/sim-metrics-source.js";
export { SimConfig, SimVm, SimCpu, SimHostFacts, SimVmFacts, SimDisk, type SimConfigInput, type SimVmInput } from "./sim/sim-config.js";
export { VirshHypervisor } from "./virsh/virsh-hypervisor.js";
export { createVirshRunner, type VirshRunner } from "./virsh/virsh-runner.js";
export { MigrationManager, scaledTimeoutS, type MigrationLimits } from "./migration/migration-manager.js";
export { FactsKeeper } from "./migration/facts-keeper.js";
export { incomingRefusals } from "./migration/incoming-checks.js";
export { FileMigrationJournal, MemoryMigrationJournal, type MigrationJournal, type JournalEntry } from "./migration/migration-journal.js";
export { AgentConfig, defaultHostId } from "../shared/config/agent-config.js";
