// The planner core's public surface, every export by name; callers import the core from here. The
// core is pure: it imports nothing from Node, NATS, pino or the shell, reads no clock (`now` is an
// argument) and draws no random numbers, so the same inputs give the same plan, byte for byte.

// Planning.
export { plan, preflightEvacuation } from "./planner.js";
export type { EvacuationPreflight } from "./planner.js";
export { explainVm } from "./explain-vm.js";
export type { VmExplanation } from "./explain-vm.js";
export { explainHost } from "./explain-host.js";
export type { HostExplanation } from "./explain-host.js";
export { powerRequest } from "./power-request.js";
export type { PowerRequestVerdict } from "./power-request.js";
export { createContext, DEFAULT_EVALUATION_BUDGET } from "./context.js";
export type { PlanContext, PlanOptions } from "./context.js";

// The planner's input and output are wire formats (snapshot files, plan replies): their schemas
// live in shared/schemas.
export { Plan, PlanMode, PlanRequest, PlannedMove, Decision, Indicators, StrategyName, Numbers, CpuAdaptation } from "../../shared/schemas/plan.js";
export type { PlanRequestInput } from "../../shared/schemas/plan.js";
export { DecisionCode, MoveCode, DECISION_CODE_HELP } from "../../shared/schemas/decision-codes.js";
export { ClusterSnapshot, SnapshotHost, SnapshotVm, HostSample, InFlightMigration, PastMove } from "../../shared/schemas/snapshot.js";
export { HostPower, PowerAction, PowerCode, PowerState } from "../../shared/schemas/power.js";
export type { ClusterSnapshotInput } from "../../shared/schemas/snapshot.js";

// Time windows and freshness (the shell judges hosts between plans with the same tests).
export { classifyHost, overStreak, longEnough, isFresh, hostSamples } from "./windows.js";
export type { WindowVerdict, Streak, Metric } from "./windows.js";

// Limits: the one place they are enforced (and the memory formula the dispatcher shares).
export { checkVm, checkCaps, checkMoveCap, checkSource, checkDestination, checkFacts, exceedsPhysicalMemory, ruleApplies, ruleHolds } from "./constraints.js";
export type { DestOptions, DestVerdict } from "./constraints.js";
// Migratability facts: host classes, VM requirements, their verdicts (compatibility.ts).
export { Compatibility, destinationRefusal, isLocalWritable, localDisksFor, FACTS_CODES } from "./compatibility.js";
export type { CompatRefusal, Requirement, VmCompat } from "./compatibility.js";
export { cooldownOf, detectPingPong } from "./vm-history.js";
export type { Cooldown, PingPong } from "./vm-history.js";

// The working copy, placement, headroom and indicators.
export { ClusterModel, vmCost, weightsOf, DORMANT_STATES, LIVE_STATES, COST_DIRTY_SECONDS, COST_MIB_PER_BUSY_CORE, COST_DISK_WEIGHT } from "./cluster-model.js";
export type { HostModel, VmModel, MoveToken, Weights, CapacityGroup } from "./cluster-model.js";
export { findDestination } from "./placement.js";
export type { Placement, Order } from "./placement.js";
export { cpuSwing, effectivePolicy, widened } from "./headroom.js";
export type { CpuSwing, EffectivePolicy } from "./headroom.js";
export { imbalance, imbalanceOf, loadSums, countOverloaded } from "./indicators.js";
export type { LoadSums } from "./indicators.js";
export { predictCpu } from "./prediction.js";
// Power management: the reserve the powered hosts keep, and the power pass of a plan.
export { reserveVerdict, demandVerdict, usableRoom, poweredMember, comingMember } from "./standby.js";
export type { Member, Room, ReserveVerdict, RoomContext } from "./standby.js";
export { planPower, powerArgs, powerInfo, maxPowerOps, HOSTS_PER_POWER_OP } from "./strategies/power.js";
export type { PowerArgs, PowerInfo, PowerInput, PowerResult } from "./strategies/power.js";

// Host failure: is a silent host dead, may its VMs be restarted, where (docs/host-failure.md).
export { judgeHosts, detectWindow } from "./host-failure.js";
export { fenceGate } from "./fence-gate.js";
export type { FenceInput } from "./fence-gate.js";
export { planRestarts } from "./restart-plan.js";
export { judgeDuplicates } from "./duplicates.js";
export type { DuplicateInput, DuplicateListing, DuplicateVerdict } from "./duplicates.js";
export type { RestartInput } from "./restart-plan.js";
export { domainSize } from "./domain-size.js";
export type { DomainSize } from "./domain-size.js";

// Decisions, and the numbers in them.
export { DecisionLog, RejectionTally, KEPT_HOST_REJECTIONS, MAX_DECISIONS } from "./explain.js";
export type { Rejection } from "./explain.js";
export { r2, f1 } from "./format.js";

// Digests.
export { snapshotDigest, planId } from "./digest.js";
export { Hasher } from "./hash.js";

// Strategies.
export { STRATEGIES, strategiesFor, runStrategies } from "./strategies/registry.js";
export type { StrategiesOutcome } from "./strategies/registry.js";
export { hotspot } from "./strategies/hotspot.js";
export { balance } from "./strategies/balance.js";
export { consolidate } from "./strategies/consolidate.js";
export { evacuate } from "./strategies/evacuate.js";
export { manual } from "./strategies/manual.js";
export type { Strategy, StrategyResult } from "./strategies/strategy.js";
export type { HotspotArgs } from "./strategies/hotspot.js";
export type { BalanceArgs } from "./strategies/balance.js";
export type { ConsolidateArgs } from "./strategies/consolidate.js";
export type { EvacuateArgs } from "./strategies/evacuate.js";
export type { ManualArgs } from "./strategies/manual.js";
