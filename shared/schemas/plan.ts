import { z } from "zod";
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
  /** Position in the plan; moves must start in this order. */
  seq: z.number().int().min(0),
  vm: VmName,
  source: HostId,
  destination: HostId,
  strategy: StrategyName,
  /** Machine code of the reason (e.g. HOST_OVERLOADED, IMBALANCE, EVACUATE, CONSOLIDATE). */
  code: z.string(),
  /** One sentence a person can read, with the numbers in it. */
  reason: z.string(),
  numbers: Numbers,
  /** Estimated cost: memory to copy, MiB. */
  costMiB: z.number().min(0),
  /** Should rules this move breaks because nothing else fitted (empty normally). */
  brokenShouldRules: z.array(z.string()).default([]),
});
export type PlannedMove = z.infer<typeof PlannedMove>;

/** A VM considered and not moved, a host rejected as destination, or a strategy's verdict. */
export const Decision = z.object({
  kind: z.enum(["vm", "host", "cluster"]),
  /** VM name, host id, or "cluster". */
  subject: z.string(),
  code: z.string(),
  message: z.string(),
  numbers: Numbers.default({}),
  /** For host rejections: the VM that was being placed. */
  vm: z.string().optional(),
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

export const Plan = z.object({
  /** Deterministic id: hash of the inputs, so the same inputs give the same id. */
  id: z.string(),
  createdAt: z.number(),
  mode: PlanMode,
  /** Digest of the snapshot parts a plan depends on (placement of VMs), for drift detection. */
  snapshotDigest: z.string(),
  moves: z.array(PlannedMove),
  decisions: z.array(Decision),
  indicators: Indicators,
  /** Hosts left empty by consolidation (candidates for power-off). */
  emptyHosts: z.array(HostId).default([]),
  /** VMs frozen by this plan (ping-pong detected). */
  frozen: z.array(VmName).default([]),
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
