import { z } from "zod";
import { DecisionCode, MoveCode } from "./decision-codes.js";
import { HostId, VmName } from "./ids.js";

// What the planner returns: moves with reasons, and every non-decision with a code and numbers.

export const PlanMode = z.enum(["cycle", "balance", "consolidate", "evacuate", "manual"]);
export type PlanMode = z.infer<typeof PlanMode>;

export const StrategyName = z.enum(["hotspot", "balance", "consolidate", "evacuate", "manual"]);
export type StrategyName = z.infer<typeof StrategyName>;

/** Numbers behind a decision, by name (percent, MiB, seconds ...). */
export const Numbers = z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]));
export type Numbers = z.infer<typeof Numbers>;

export const PlannedMove = z.object({
  seq: z.number().int().min(0).describe("Position in the plan; moves must start in this order."),
  vm: VmName,
  source: HostId,
  destination: HostId,
  strategy: StrategyName,
  code: MoveCode.describe("Machine code of the reason: HOST_OVERLOADED, IMBALANCE, CONSOLIDATE, EVACUATE or MANUAL."),
  reason: z.string().describe("One sentence a person can read, with the numbers in it."),
  numbers: Numbers,
  costMiB: z.number().min(0).describe("Estimated cost: memory to copy, MiB."),
  brokenShouldRules: z.array(z.string()).default([]).describe("Should rules this move breaks because nothing else fitted (empty normally)."),
});
export type PlannedMove = z.infer<typeof PlannedMove>;

/** A VM considered and not moved, a host rejected as destination, or a strategy's verdict. */
export const Decision = z.object({
  kind: z.enum(["vm", "host", "cluster"]),
  subject: z.string().describe('VM name, host id, or "cluster".'),
  code: DecisionCode,
  message: z.string().describe("One sentence a person can read, with the numbers in it."),
  numbers: Numbers.default({}),
  vm: z.string().optional().describe("For host rejections: the VM that was being placed."),
  strategy: StrategyName.optional(),
});
export type Decision = z.infer<typeof Decision>;

export const Indicators = z.object({
  imbalanceBefore: z.number(),
  imbalanceAfter: z.number(),
  hostsFreed: z.array(HostId),
  migrations: z.number().int(),
  bytesToMove: z.number(),
  overloadedBefore: z.number().int(),
  overloadedAfter: z.number().int(),
});
export type Indicators = z.infer<typeof Indicators>;

/**
 * The CPU levels a plan used when it adapted them to steady loads (orchestrator/core/headroom.ts):
 * the figures of its CPU_HEADROOM_ADAPTED decision, typed.
 */
export const CpuAdaptation = z.object({
  share: z.number().describe("Share of the configured CPU headroom (100 − level) kept, 0..1."),
  swing: z.number().describe("The cluster's CPU swing, points: 90th percentile over busy hosts of the mean change between consecutive samples."),
  hosts: z.number().int().describe("Busy hosts the swing was measured on."),
  loadThreshold: z.number().describe("Adapted load_threshold, percent."),
  loadTarget: z.number().describe("Adapted load_target, percent."),
  maxLoadCandidate: z.number().describe("Adapted max_load_candidate, percent."),
  consolidateLoad: z.number().describe("Adapted consolidate_load, percent."),
  widerHosts: z.number().int().describe("Hosts burstier than the cluster, which keep the wider headroom their own swing needs."),
  message: z.string().describe("The explanation, as in the CPU_HEADROOM_ADAPTED decision."),
});
export type CpuAdaptation = z.infer<typeof CpuAdaptation>;

export const Plan = z.object({
  id: z.string().describe("Deterministic id: a hash of the inputs, so the same inputs give the same id."),
  createdAt: z.number(),
  mode: PlanMode,
  snapshotDigest: z.string().describe("Digest of the snapshot parts a plan depends on (placement of VMs), for drift detection."),
  moves: z.array(PlannedMove),
  decisions: z.array(Decision),
  indicators: Indicators,
  emptyHosts: z.array(HostId).default([]).describe("Hosts a consolidating plan leaves empty, less the spare_hosts kept powered: power-off candidates."),
  frozen: z.array(VmName).default([]).describe("VMs frozen by this plan (ping-pong detected)."),
  // New fields go last, so the fields before keep their place in a plan's JSON (the planner's
  // golden test pins them byte for byte, key order included).
  adaptation: CpuAdaptation.nullable().default(null).describe("The adapted CPU levels this plan used; null when it used the configured ones."),
});
export type Plan = z.infer<typeof Plan>;

/** What the operator asks of one plan() call besides the periodic cycle. */
export const PlanRequest = z.discriminatedUnion("mode", [
  z.object({ mode: z.literal("cycle") }),
  z.object({ mode: z.literal("balance") }),
  z.object({ mode: z.literal("consolidate") }),
  z.object({
    mode: z.literal("evacuate"),
    host: HostId,
    placement: z.enum(["stripe", "pack"]).default("stripe"),
    useEmptyHosts: z.boolean().default(false),
  }),
  z.object({ mode: z.literal("manual"), vm: VmName, destination: HostId.optional() }),
]);
export type PlanRequest = z.infer<typeof PlanRequest>;
export type PlanRequestInput = z.input<typeof PlanRequest>;
