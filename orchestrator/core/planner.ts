import type { Policy } from "../../shared/config/policy.js";
import { checkDestination, checkVm } from "./constraints.js";
import { createContext, DEFAULT_EVALUATION_BUDGET, type PlanContext, type PlanOptions } from "./context.js";
import { snapshotDigest, planId } from "./digest.js";
import { r2 } from "./explain.js";
import { indicators, measureBefore } from "./indicators.js";
import type { Decision, Plan, PlanRequest, StrategyName } from "../../shared/schemas/plan.js";
import { effectivePolicy } from "./headroom.js";
import { findDestination } from "./placement.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { balance } from "./strategies/balance.js";
import { consolidate } from "./strategies/consolidate.js";
import { evacuateDefaults, runEvacuation, validateEvacuate, type EvacuationResult } from "./strategies/evacuate.js";
import { hotspot } from "./strategies/hotspot.js";
import { manual } from "./strategies/manual.js";
import type { Strategy } from "./strategies/strategy.js";

// The planner: ClusterSnapshot in, Plan out. Pure and deterministic: no I/O, no clock, no
// randomness; `now` is passed in (ms) and inputs are sorted before use, so the same inputs give a
// byte-identical plan whatever their order.

export type { PlanOptions } from "./context.js";

function runStrategy<A>(ctx: PlanContext, s: Strategy<A>, args: A): void {
  const errors = s.validate(args);
  if (errors.length > 0) {
    ctx.log.cluster({ code: "STRATEGY_INVALID", message: `${s.name} not run: ${errors.join("; ")}`, numbers: { errors: errors.length } }, s.name);
    return;
  }
  s.run(ctx, args);
}

interface Run {
  ctx: PlanContext;
  emptyHosts: string[];
  evacuation?: EvacuationResult;
}

function execute(snapshot: ClusterSnapshot, configured: Policy, now: number, request: PlanRequest, opts: PlanOptions): { plan: Plan; run: Run } {
  // Every strategy, limit and indicator of this plan uses the CPU levels adapted to the measured swing.
  const { policy, note, hostScale } = effectivePolicy(snapshot, configured, now);
  const ctx = createContext(snapshot, policy, now, request.mode, opts, hostScale);
  if (note) ctx.log.add(note);
  const before = measureBefore(ctx.model, policy.load_threshold, policy.mem_threshold);
  const run: Run = { ctx, emptyHosts: [] };
  let consolidated = false;
  switch (request.mode) {
    case "cycle": {
      const wanted = new Set(policy.strategies);
      const order: StrategyName[] = [...(wanted.has("hotspot") ? ["hotspot" as const] : []), ...[...wanted].filter((s) => s !== "hotspot")];
      for (const name of order) {
        if (name === "hotspot") runStrategy(ctx, hotspot, hotspot.defaults(policy));
        else if (name === "balance") runStrategy(ctx, balance, balance.defaults(policy));
        else if (name === "consolidate") {
          runStrategy(ctx, consolidate, consolidate.defaults(policy));
          consolidated = true;
        }
      }
      break;
    }
    case "balance":
      runStrategy(ctx, balance, balance.defaults(policy));
      break;
    case "consolidate":
      runStrategy(ctx, consolidate, consolidate.defaults(policy));
      consolidated = true;
      break;
    case "evacuate": {
      const args = evacuateDefaults(policy, request.host, request.placement ?? "stripe", request.useEmptyHosts ?? false);
      const errors = validateEvacuate(args);
      if (errors.length > 0) {
        const d: Decision = { kind: "cluster", subject: "cluster", code: "STRATEGY_INVALID", message: `evacuate not run: ${errors.join("; ")}`, numbers: {}, strategy: "evacuate" };
        ctx.log.add(d);
        run.evacuation = { blockers: [d] };
      } else run.evacuation = runEvacuation(ctx, args);
      break;
    }
    case "manual":
      runStrategy(ctx, manual, { ...manual.defaults(policy), vm: request.vm, ...(request.destination !== undefined ? { destination: request.destination } : {}) });
      break;
  }
  if (consolidated) run.emptyHosts = consolidate.emptyHosts(ctx, consolidate.defaults(policy));
  if (ctx.budgetExhausted)
    ctx.log.cluster({ code: "SEARCH_BUDGET", message: `the destination search budget of this plan was exhausted; the plan may miss moves`, numbers: { budget: opts.evaluationBudget ?? DEFAULT_EVALUATION_BUDGET } });
  const plan: Plan = {
    id: planId(snapshot, configured, now, request),
    createdAt: now,
    mode: request.mode,
    snapshotDigest: snapshotDigest(snapshot),
    moves: ctx.moves,
    decisions: ctx.log.all(),
    indicators: indicators(before, ctx.model, ctx.moves, policy.load_threshold, policy.mem_threshold),
    emptyHosts: run.emptyHosts,
    frozen: [...ctx.pingpong].sort(),
  };
  return { plan, run };
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
  const { plan: p, run } = execute(snapshot, policy, now, { mode: "evacuate", host, placement, useEmptyHosts }, opts);
  const reasons = run.evacuation?.blockers ?? [];
  return { canDrain: reasons.length === 0, reasons, plan: p };
}

export interface VmExplanation {
  vm: string;
  /** Where the VM runs. */
  host: string | null;
  /** Whether the VM itself may move (VM-level constraints, without per-cycle caps), and if not why. */
  movable: boolean;
  vmDecision: Decision | null;
  /** Every host's verdict for this VM: a rejection code, or DEST_OK with the projected loads. */
  hosts: Decision[];
  /** Where the VM would go now (lowest resulting weighted load), or null. */
  best: string | null;
}

/** Why a VM would or would not move, host by host (O(hosts): for one VM on demand). */
export function explainVm(snapshot: ClusterSnapshot, configured: Policy, now: number, vmName: string, opts: { operator?: boolean } = {}): VmExplanation {
  const { policy, hostScale } = effectivePolicy(snapshot, configured, now);
  const ctx = createContext(snapshot, policy, now, opts.operator ? "manual" : "cycle", {}, hostScale);
  const vm = ctx.model.vmByName.get(vmName);
  if (!vm)
    return {
      vm: vmName,
      host: null,
      movable: false,
      vmDecision: { kind: "vm", subject: vmName, code: "VM_UNKNOWN", message: `VM ${vmName} is not in the snapshot`, numbers: {} },
      hosts: [],
      best: null,
    };
  const r = checkVm(ctx, vm, false);
  const dopts = { cpuLimit: policy.max_load_candidate, memLimit: policy.max_mem_candidate, allowEmpty: true, caps: false };
  const hosts: Decision[] = [];
  for (const h of ctx.model.hosts) {
    if (h.id === vm.host) continue;
    const v = checkDestination(ctx, vm, h, dopts);
    hosts.push(
      v.ok
        ? {
            kind: "host",
            subject: h.id,
            code: "DEST_OK",
            message: `host ${h.id} can take ${vm.name}: CPU → ${v.cpuAfter.toFixed(1)} %, memory → ${v.memAfter.toFixed(1)} %${v.brokenShould.length ? `, breaks should rule(s) ${v.brokenShould.join(", ")}` : ""}`,
            numbers: { projectedCpuPercent: r2(v.cpuAfter), projectedMemPercent: r2(v.memAfter), weightedAfter: r2(v.keyAfter), brokenShouldRules: v.brokenShould.join(",") },
            vm: vm.name,
          }
        : { kind: "host", subject: h.id, code: v.rejection.code, message: v.rejection.message, numbers: v.rejection.numbers, vm: vm.name },
    );
  }
  const best = findDestination(ctx, vm, dopts, "spread");
  return {
    vm: vm.name,
    host: vm.host,
    movable: r === null,
    vmDecision: r ? { kind: "vm", subject: vm.name, code: r.code, message: r.message, numbers: r.numbers } : null,
    hosts,
    best: best ? best.host.id : null,
  };
}
