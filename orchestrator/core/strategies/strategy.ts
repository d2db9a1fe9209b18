import type { Policy } from "../../../shared/config/policy.js";
import type { VmModel } from "../cluster-model.js";
import type { PlanContext } from "../context.js";
import { r2 } from "../format.js";
import type { DecisionCode, MoveCode } from "../../../shared/schemas/decision-codes.js";
import type { Decision, Numbers, PlannedMove, PlanRequest, StrategyName } from "../../../shared/schemas/plan.js";
import type { Placement } from "../placement.js";

// The common shape of a strategy (descheduler's plugin): its arguments, their defaults taken from
// the policy (and, for operator requests, from the request), a validation that names every
// contradiction, and the algorithm, which only proposes moves through `commitMove` and only judges
// them through constraints.ts. registry.ts runs any of them the same way.

/** What a strategy leaves for the plan besides its moves and decisions (those go to ctx). */
export interface StrategyResult {
  /** Why the strategy's goal cannot be reached now (evacuation: what keeps the host from draining); also in the plan's decisions. */
  blockers?: Decision[];
  /** Hosts the finished plan leaves empty and does not keep as spare: power-off candidates (consolidation). */
  emptyHosts?: string[];
}

export interface Strategy<Args> {
  readonly name: StrategyName;
  /** The arguments this strategy runs with under `policy`; operator strategies take theirs from `request`. */
  defaults(policy: Policy, request?: PlanRequest): Args;
  /** Human-readable problems with the arguments; empty when valid. */
  validate(args: Args): string[];
  /** Propose moves on ctx.model (applying each before choosing the next) and log decisions. */
  run(ctx: PlanContext, args: Args): StrategyResult;
  /**
   * Once every strategy of the plan has run (also when this one's arguments were invalid): what the
   * finished plan means for this strategy's goal. A later strategy of the same cycle may still
   * change what this one did (balancing may fill a host consolidation emptied).
   */
  finish?(ctx: PlanContext, args: Args): StrategyResult;
}

/** Apply a chosen move to the working copy and append it to the plan. */
export function commitMove(ctx: PlanContext, vm: VmModel, p: Placement, strategy: StrategyName, code: MoveCode, reason: string, numbers: Numbers): PlannedMove {
  const source = vm.host;
  ctx.model.applyMove(vm, p.host);
  const move: PlannedMove = {
    seq: ctx.moves.length,
    vm: vm.name,
    source,
    destination: p.host.id,
    strategy,
    code,
    reason,
    numbers,
    costMiB: r2(vm.costMiB),
    brokenShouldRules: [...p.brokenShould],
  };
  ctx.moves.push(move);
  return move;
}

/** Codes of the per-cycle caps: once one is hit, trying further VMs of the same kind is pointless. */
export const CAP_CODES: ReadonlySet<DecisionCode> = new Set<DecisionCode>(["MOVES_PER_CYCLE", "TOTAL_CONCURRENCY"]);

export const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
export const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
