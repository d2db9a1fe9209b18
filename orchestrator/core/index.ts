// The planner core's public surface, every export by name. The core is pure: it imports nothing
// from Node, NATS or execa, and takes the clock value as an argument.

export { plan, preflightEvacuation, explainVm } from "./planner.js";
// The planner's input and output are wire formats (snapshot files, plan replies): their schemas live in shared/schemas.
export { Plan, PlanMode, PlanRequest, PlannedMove, Decision, Indicators, StrategyName, Numbers } from "../../shared/schemas/plan.js";
export { ClusterSnapshot, SnapshotHost, SnapshotVm, HostSample, InFlightMigration, PastMove } from "../../shared/schemas/snapshot.js";
export { createContext, DEFAULT_EVALUATION_BUDGET } from "./context.js";
export type { PlanContext } from "./context.js";
export type { PlanOptions, EvacuationPreflight, VmExplanation } from "./planner.js";
export { classifyHost, overStreak, isFresh, hostSamples } from "./windows.js";
export type { WindowVerdict, Streak, Metric } from "./windows.js";
export { ClusterModel, vmCost, weightsOf, LIVE_STATES, COST_DIRTY_SECONDS, COST_MIB_PER_BUSY_CORE } from "./cluster-model.js";
export type { HostModel, VmModel, MoveToken, Weights } from "./cluster-model.js";
export { checkVm, checkCaps, checkDestination, ruleApplies, ruleHolds } from "./constraints.js";
export type { DestOptions, DestVerdict } from "./constraints.js";
export { cooldownOf, detectPingPong } from "./vm-history.js";
export type { Cooldown, PingPong } from "./vm-history.js";
export { DecisionLog, RejectionTally, KEPT_HOST_REJECTIONS, MAX_DECISIONS } from "./explain.js";
export type { Rejection } from "./explain.js";
export { imbalance, imbalanceOf, loadSums, countOverloaded } from "./indicators.js";
export { snapshotDigest, planId } from "./digest.js";
export { Hasher } from "./hash.js";
export { findDestination } from "./placement.js";
export type { Placement, Order } from "./placement.js";
export { hotspot } from "./strategies/hotspot.js";
export { balance } from "./strategies/balance.js";
export { consolidate } from "./strategies/consolidate.js";
export { evacuate, runEvacuation, evacuateDefaults, validateEvacuate } from "./strategies/evacuate.js";
export { manual } from "./strategies/manual.js";
export type { Strategy } from "./strategies/strategy.js";
export type { HotspotArgs } from "./strategies/hotspot.js";
export type { BalanceArgs } from "./strategies/balance.js";
export type { ConsolidateArgs } from "./strategies/consolidate.js";
export type { EvacuateArgs, EvacuationResult } from "./strategies/evacuate.js";
export type { ManualArgs } from "./strategies/manual.js";
