import { z } from "zod";
import { DecisionCode, MoveCode } from "./decision-codes.js";
import { HostId, VmName } from "./ids.js";
import { Numbers } from "./numbers.js";
import { PowerAction } from "./power.js";

// What the planner returns: moves with reasons, and every non-decision with a code and numbers.

export const PlanMode = z.enum(["cycle", "balance", "consolidate", "evacuate", "manual"]);
export type PlanMode = z.infer<typeof PlanMode>;

export const StrategyName = z.enum(["hotspot", "balance", "consolidate", "evacuate", "manual"]);
export type StrategyName = z.infer<typeof StrategyName>;

export { Numbers } from "./numbers.js";

export const PlannedMove = z
  .object({
    seq: z.number().int().min(0).describe("Position in the plan, from 0; moves must start in this order."),
    vm: VmName.describe("The VM to move."),
    source: HostId.describe("The host the VM runs on now."),
    destination: HostId.describe("The host to move it to."),
    strategy: StrategyName.describe("The strategy that planned the move."),
    code: MoveCode.describe("Machine code of the reason: HOST_OVERLOADED, IMBALANCE, CONSOLIDATE, EVACUATE or MANUAL."),
    reason: z.string().describe("One sentence a person can read, with the numbers in it."),
    numbers: Numbers.describe("The figures behind the reason, by name (percent, MiB, seconds ...)."),
    costMiB: z
      .number()
      .min(0)
      .describe(
        "Estimated cost, MiB: the VM's memory plus what it dirties meanwhile (dirty rate × 10 s; without a dirty rate, 64 MiB per busy core, all its vCPUs when its CPU is not measured).",
      ),
    brokenShouldRules: z
      .array(z.string())
      .default([])
      .describe("Names of the should placement rules this move breaks because no host fitted without (empty normally)."),
  })
  .describe("One move of a plan.");
export type PlannedMove = z.infer<typeof PlannedMove>;

export const Decision = z
  .object({
    kind: z
      .enum(["vm", "host", "cluster"])
      .describe(
        "vm: a VM considered and not moved; host: a host rejected as the destination of a VM; cluster: a verdict of a strategy or of the plan as a whole.",
      ),
    subject: z.string().describe('VM name, host id, or "cluster".'),
    code: DecisionCode.describe("Why: one of the decision codes."),
    message: z.string().describe("One sentence a person can read, with the numbers in it."),
    numbers: Numbers.default({}).describe(
      "The figures behind the decision, by name (for NO_DESTINATION: the hosts tried and the count of rejections per code).",
    ),
    vm: z.string().optional().describe("For host rejections: the VM that was being placed."),
    strategy: StrategyName.optional().describe(
      "The strategy that made the decision; absent on decisions about the plan's input or the plan as a whole (such as VM_PINGPONG, CPU_HEADROOM_ADAPTED, SEARCH_BUDGET).",
    ),
  })
  .describe("A VM considered and not moved, a host rejected as destination, or a strategy's verdict.");
export type Decision = z.infer<typeof Decision>;

export const Indicators = z
  .object({
    imbalanceBefore: z
      .number()
      .describe(
        "Imbalance before the plan's moves: the weighted standard deviation of host loads, percent points (cpu_weight on CPU %, mem_weight on memory %), over hosts that are fresh, not excluded and not in maintenance; 2 decimals.",
      ),
    imbalanceAfter: z.number().describe("The same imbalance once every move of the plan is done."),
    hostsFreed: z.array(HostId).describe("Hosts that carried VMs and that the plan's moves leave empty."),
    migrations: z.number().int().describe("Moves in the plan."),
    bytesToMove: z.number().describe("Memory of the VMs the plan moves, bytes."),
    overloadedBefore: z
      .number()
      .int()
      .describe("Fresh, not excluded hosts over load_threshold (CPU) or mem_threshold (memory) before the moves, with the CPU levels the plan used."),
    overloadedAfter: z.number().int().describe("The same count once every move is done."),
  })
  .describe("What a plan achieves, before and after its moves.");
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

/** The destination memory level a plan used when the measured growth lowered it (orchestrator/core/memory-headroom.ts). */
export const MemAdaptation = z.object({
  rise: z.number().describe("The cluster's memory rise, points: 99th percentile over busy hosts of their largest increase between consecutive samples."),
  hosts: z.number().int().describe("Busy hosts the rise was measured on."),
  maxMemCandidate: z.number().describe("Lowered max_mem_candidate, percent."),
  message: z.string().describe("The explanation, as in the MEM_HEADROOM_ADAPTED decision."),
});
export type MemAdaptation = z.infer<typeof MemAdaptation>;

export const Plan = z
  .object({
    id: z
      .string()
      .describe(
        "Deterministic id, 16 hex digits: a hash of everything the plan was made from (snapshot, policy, time, request), so the same inputs give the same id.",
      ),
    createdAt: z.number().describe("The time the plan was made for, ms since the epoch: the orchestrator's clock (offline: the snapshot's takenAt, or --now)."),
    mode: PlanMode.describe("What was planned: a periodic cycle, one strategy (balance, consolidate, evacuate), or an operator's migrate (manual)."),
    snapshotDigest: z
      .string()
      .describe(
        "Digest of the placement the plan was made on (each VM's host and state, and the migrations in flight), 16 hex digits: plans with the same digest saw the same placement.",
      ),
    moves: z.array(PlannedMove).describe("The moves, in the order they must start."),
    decisions: z.array(Decision).describe("Every decision and non-decision, at most 20,000 (then a DECISIONS_TRUNCATED one says how many were dropped)."),
    indicators: Indicators.describe("What the plan achieves."),
    emptyHosts: z.array(HostId).default([]).describe("Hosts a consolidating plan leaves empty, less the spare_hosts kept powered: power-off candidates."),
    frozen: z.array(VmName).default([]).describe("VMs frozen by this plan (ping-pong detected)."),
    // New fields go last, so the fields before keep their place in a plan's JSON (the planner's
    // golden test pins them byte for byte, key order included).
    adaptation: CpuAdaptation.nullable().default(null).describe("The adapted CPU levels this plan used; null when it used the configured ones."),
    memAdaptation: MemAdaptation.nullable()
      .default(null)
      .describe("The lowered destination memory level this plan used; null when it used the configured one."),
    power: z
      .array(PowerAction)
      .default([])
      .describe("Hosts to switch on or off (power management, `power_management`), in order; empty when power management is off or nothing is due."),
  })
  .describe("What the planner proposes: moves with their reasons, and every non-decision with a code and numbers.");
export type Plan = z.infer<typeof Plan>;

/** What the operator asks of one plan() call besides the periodic cycle (in-process; not on the wire as such). */
export const PlanRequest = z.discriminatedUnion("mode", [
  z.object({ mode: z.literal("cycle").describe("The periodic cycle: every configured strategy.") }),
  z.object({ mode: z.literal("balance").describe("Balancing only.") }),
  z.object({ mode: z.literal("consolidate").describe("Consolidation only.") }),
  z.object({
    mode: z.literal("evacuate").describe("Drain one host."),
    host: HostId.describe("The host to drain."),
    placement: z.enum(["stripe", "pack"]).default("stripe").describe("stripe: least loaded hosts first; pack: the fullest hosts that fit."),
    useEmptyHosts: z.boolean().default(false).describe("Empty hosts may receive VMs."),
  }),
  z.object({
    mode: z.literal("manual").describe("Move one VM (an operator's migrate)."),
    vm: VmName.describe("The VM to move."),
    destination: HostId.optional().describe("The host to move it to; absent: the best host by policy."),
  }),
]);
export type PlanRequest = z.infer<typeof PlanRequest>;
export type PlanRequestInput = z.input<typeof PlanRequest>;
