import type { PlacementRule, Policy } from "../../shared/config/policy.js";
import { ClusterModel } from "./cluster-model.js";
import { DecisionLog } from "./explain.js";
import { f1, r2 } from "./format.js";
import type { PlanRequest, PlannedMove } from "../../shared/schemas/plan.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { detectPingPong } from "./vm-history.js";

// The state one plan() call threads through its strategies: the working copy, the policy, the
// clock value, which safety limits apply, and what has been decided so far.

/** Upper bound on destination checks per plan; keeps worst cases (nothing fits anywhere) bounded. */
export const DEFAULT_EVALUATION_BUDGET = 3_000_000;

export interface PlanContext {
  readonly model: ClusterModel;
  readonly policy: Policy;
  readonly now: number;
  /**
   * Operator modes (evacuate, manual) skip the per-VM cooldown, host settle times and the refusal
   * to move a VM back where it came from (DEST_PINGPONG: their moves never count towards a
   * ping-pong); the automatic strategies (cycle, balance, consolidate) honour them.
   */
  readonly operator: boolean;
  /** Whether the per-cycle caps apply (moves per cycle, concurrency incl. in-flight). */
  readonly caps: boolean;
  /** VMs never moved: frozen in the snapshot or ping-pong detected now. */
  readonly frozen: ReadonlySet<string>;
  /** Subset of `frozen` detected by this plan. */
  readonly pingpong: ReadonlySet<string>;
  readonly pinned: ReadonlySet<string>;
  readonly excludedVms: ReadonlySet<string>;
  /** Rules that mention each VM, in policy order. */
  readonly rulesByVm: ReadonlyMap<string, readonly PlacementRule[]>;
  /** Hosts whose CPU headroom is widened beyond the plan's adapted levels (headroom.ts), by factor. */
  readonly headroomScale: ReadonlyMap<string, number>;
  /** The cluster's measured memory rise between samples, points (memory-headroom.ts); null: not measured. */
  readonly memRise: number | null;
  /** Hosts this plan empties or is emptying: closed as destinations (consolidation, evacuation). */
  readonly closing: Set<string>;
  readonly moves: PlannedMove[];
  readonly log: DecisionLog;
  /** Remaining destination checks. */
  budget: number;
  budgetExhausted: boolean;
}

export interface PlanOptions {
  /** Destination checks allowed in this plan (bounds worst cases on huge clusters). */
  evaluationBudget?: number;
}

/** Build the working copy and the context for one plan; detects ping-pong VMs on the way. */
export function createContext(
  snapshot: ClusterSnapshot,
  policy: Policy,
  now: number,
  mode: PlanRequest["mode"],
  opts: PlanOptions,
  headroomScale: ReadonlyMap<string, number> = new Map(),
  memRise: number | null = null,
): PlanContext {
  const model = new ClusterModel(snapshot, policy, now);
  const log = new DecisionLog();
  for (const n of model.notes) log.add(n);
  // Named once per plan, whatever the strategies: a silent host is out of every decision (neither
  // relieved nor a destination, its VMs not moved), which "no hot spot" alone would hide. A host
  // switched off or booting (power management) is silent on purpose: it is not stale.
  for (const h of model.hosts) {
    if (h.fresh || h.dormant) continue;
    const silent = r2((now - h.lastSeen) / 1000);
    log.host(h.id, {
      code: "HOST_STALE",
      message: `host ${h.id} silent for ${f1(silent)} s > stale_after ${policy.stale_after} s: it is neither relieved nor a destination, and its VMs are not moved`,
      numbers: { silentSeconds: silent, stale_after: policy.stale_after, lastSeen: h.lastSeen },
    });
  }
  const rulesByVm = new Map<string, PlacementRule[]>();
  for (const rule of policy.rules) {
    for (const vm of new Set(rule.vms)) {
      const list = rulesByVm.get(vm);
      if (list) list.push(rule);
      else rulesByVm.set(vm, [rule]);
    }
  }
  const alreadyFrozen = new Set(snapshot.frozenVms ?? []);
  const pingpong = new Set<string>();
  for (const [vm, moves] of [...model.historyByVm.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    if (alreadyFrozen.has(vm)) continue;
    const pp = detectPingPong(moves, policy, now);
    if (!pp) continue;
    pingpong.add(vm);
    log.vm(vm, {
      code: "VM_PINGPONG",
      message: `${vm} moved ${pp.first.source} → ${pp.first.destination} and back within ${r2((pp.second.finishedAt - pp.first.finishedAt) / 1000)} s (pingpong_window ${policy.pingpong_window} s): frozen until released`,
      numbers: {
        from: pp.first.source,
        to: pp.first.destination,
        firstAt: pp.first.finishedAt,
        secondAt: pp.second.finishedAt,
        pingpong_window: policy.pingpong_window,
      },
    });
  }
  const operator = mode === "evacuate" || mode === "manual";
  return {
    model,
    policy,
    now,
    operator,
    caps: !operator,
    frozen: new Set([...alreadyFrozen, ...pingpong]),
    pingpong,
    pinned: new Set(policy.pinned_vms),
    excludedVms: new Set(policy.excluded_vms),
    rulesByVm,
    headroomScale,
    memRise,
    closing: new Set(),
    moves: [],
    log,
    budget: opts.evaluationBudget ?? DEFAULT_EVALUATION_BUDGET,
    budgetExhausted: false,
  };
}
