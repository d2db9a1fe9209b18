// The simulator's configuration lives with the agent's (it is part of AgentConfig.sim); this
// module re-exports it so sim code and users import it from the simulator.
export { SimConfig, SimVm, SimCpu, SimCpuSquare, SimCpuTrace, SimHostFacts, SimVmFacts, SimDisk } from "../../shared/config/agent-config.js";
export type { SimConfigInput, SimVmInput } from "../../shared/config/agent-config.js";
