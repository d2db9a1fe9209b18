import type { Policy } from "../../../shared/config/policy.js";
import type { VmModel } from "../cluster-model.js";
import type { PlanContext } from "../context.js";
import { r2 } from "../explain.js";
import type { Numbers, PlannedMove, StrategyName } from "../../../shared/schemas/plan.js";
import type { Placement } from "../placement.js";

// The common shape of a strategy (descheduler's plugin): its arguments, their defaults taken from
// the policy, a validation that names every contradiction, and the algorithm, which only proposes
// moves through `commitMove` and only judges them through constraints.ts.

export interface Strategy<Args> {
  readonly name: StrategyName;
  /** The arguments this strategy would run with under `policy`. */
  defaults(policy: Policy): Args;
  /** Human-readable problems with the arguments; empty when valid. */
  validate(args: Args): string[];
  /** Propose moves on ctx.model (applying each before choosing the next) and log decisions. */
  run(ctx: PlanContext, args: Args): void;
}

/** Apply a chosen move to the working copy and append it to the plan. */
export function commitMove(
  ctx: PlanContext,
  vm: VmModel,
  p: Placement,
  strategy: StrategyName,
  code: string,
  reason: string,
  numbers: Numbers,
): PlannedMove {
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
export const CAP_CODES: ReadonlySet<string> = new Set(["MOVES_PER_CYCLE", "TOTAL_CONCURRENCY"]);

export const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
export const byId = (a: { id: string }, b: { id: string }): number => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
