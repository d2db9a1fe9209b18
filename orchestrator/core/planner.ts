import type { Policy } from "../../shared/config/policy.js";
import type { Decision, Plan, PlanRequest } from "../../shared/schemas/plan.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { createContext, DEFAULT_EVALUATION_BUDGET, type PlanOptions } from "./context.js";
import { snapshotDigest, planId } from "./digest.js";
import { effectivePolicy } from "./headroom.js";
import { adaptMemoryLevels } from "./memory-headroom.js";
import { indicators, measureBefore } from "./indicators.js";
import { planPower, type PowerResult } from "./strategies/power.js";
import { runStrategies, strategiesFor, type StrategiesOutcome } from "./strategies/registry.js";

// The planner: ClusterSnapshot in, Plan out. Pure and deterministic: no I/O, no clock, no
// randomness; `now` is passed in (ms) and inputs are sorted before use, so the same inputs give a
// byte-identical plan whatever their order.

function execute(
  snapshot: ClusterSnapshot,
  configured: Policy,
  now: number,
  request: PlanRequest,
  opts: PlanOptions,
): { plan: Plan; outcome: StrategiesOutcome; power: PowerResult | null } {
  // Every strategy, limit and indicator of this plan uses the CPU levels adapted to the measured swing.
  const cpu = effectivePolicy(snapshot, configured, now);
  // ... and the memory levels lowered to the headroom the measured memory growth needs.
  const mem = adaptMemoryLevels(snapshot, cpu.policy, now);
  const { policy } = mem;
  const { note, hostScale, adaptation } = cpu;
  const ctx = createContext(snapshot, policy, now, request.mode, opts, hostScale, mem.rise);
  if (note) ctx.log.add(note);
  if (mem.note) ctx.log.add(mem.note);
  const before = measureBefore(ctx.model, policy.load_threshold, policy.mem_threshold);
  const outcome = runStrategies(ctx, strategiesFor(request, policy), request);
  // Power management runs last, on the copy as every move of the plan leaves it: a cycle may switch
  // hosts off and on, an evacuation may switch hosts on for VMs that fit nowhere powered.
  const power =
    policy.power_management && (request.mode === "cycle" || request.mode === "evacuate")
      ? planPower(ctx, {
          snapshot,
          mode: request.mode,
          evacuationVms: outcome.blockers.filter((d) => d.kind === "vm" && d.code === "NO_DESTINATION").map((d) => d.subject),
        })
      : null;
  if (ctx.budgetExhausted)
    ctx.log.cluster({
      code: "SEARCH_BUDGET",
      message: `the destination search budget of this plan was exhausted; the plan may miss moves`,
      numbers: { budget: opts.evaluationBudget ?? DEFAULT_EVALUATION_BUDGET },
    });
  const plan: Plan = {
    id: planId(snapshot, configured, now, request, ctx.model),
    createdAt: now,
    mode: request.mode,
    snapshotDigest: snapshotDigest(snapshot),
    moves: ctx.moves,
    decisions: ctx.log.all(),
    indicators: indicators(before, ctx.model, ctx.moves, policy.load_threshold, policy.mem_threshold),
    emptyHosts: outcome.emptyHosts,
    frozen: [...ctx.pingpong].sort(),
    adaptation: adaptation ?? null,
    memAdaptation: mem.adaptation,
    power: power?.actions ?? [],
  };
  return { plan, outcome, power };
}

/** A plan with the power verdict of every host (explainHost); power is null when power management is off. */
export function planWithPower(
  snapshot: ClusterSnapshot,
  policy: Policy,
  now: number,
  request: PlanRequest = { mode: "cycle" },
  opts: PlanOptions = {},
): { plan: Plan; power: PowerResult | null } {
  const { plan: p, power } = execute(snapshot, policy, now, request, opts);
  return { plan: p, power };
}

/** Plan one cycle (or one operator request) on a snapshot. Pure: same inputs, same plan, byte for byte. */
export function plan(snapshot: ClusterSnapshot, policy: Policy, now: number, request: PlanRequest = { mode: "cycle" }, opts: PlanOptions = {}): Plan {
  return execute(snapshot, policy, now, request, opts).plan;
}

export interface EvacuationPreflight {
  /** True when every live VM of the host has a destination now (VMs already leaving count as placed). */
  canDrain: boolean;
  /** Why not: each blocking VM or host condition, and for VMs without a destination the best hosts' rejections. */
  reasons: Decision[];
  /** The evacuation plan (partial when canDrain is false). */
  plan: Plan;
}

/** Can `host` be drained now, and how? Runs the evacuation strategy on a copy; changes nothing. */
export function preflightEvacuation(
  snapshot: ClusterSnapshot,
  policy: Policy,
  now: number,
  host: string,
  placement: "stripe" | "pack" = "stripe",
  useEmptyHosts = false,
  opts: PlanOptions = {},
): EvacuationPreflight {
  const { plan: p, outcome } = execute(snapshot, policy, now, { mode: "evacuate", host, placement, useEmptyHosts }, opts);
  return { canDrain: outcome.blockers.length === 0, reasons: outcome.blockers, plan: p };
}
