import type { Policy } from "../../../shared/config/policy.js";
import type { Decision, PlanRequest, StrategyName } from "../../../shared/schemas/plan.js";
import type { PlanContext } from "../context.js";
import { balance, type BalanceArgs } from "./balance.js";
import { consolidate, type ConsolidateArgs } from "./consolidate.js";
import { evacuate, type EvacuateArgs } from "./evacuate.js";
import { hotspot, type HotspotArgs } from "./hotspot.js";
import { manual, type ManualArgs } from "./manual.js";
import type { Strategy, StrategyResult } from "./strategy.js";

// Every strategy by name, and the one way any of them runs: arguments from the policy (and the
// request), validation, the algorithm on the plan's working copy, and, once all have run, each
// one's finish. A new strategy is one entry here; the planner does not know any of them.

interface ArgsByName {
  hotspot: HotspotArgs;
  balance: BalanceArgs;
  consolidate: ConsolidateArgs;
  evacuate: EvacuateArgs;
  manual: ManualArgs;
}

export const STRATEGIES: { readonly [K in StrategyName]: Strategy<ArgsByName[K]> } = { hotspot, balance, consolidate, evacuate, manual };

/**
 * The strategies one request runs, in order. A cycle relieves hot spots first, whatever the
 * policy's order: an overloaded host hurts its VMs now, so it gets the moves the per-cycle caps
 * allow before balancing or consolidation do, and they then plan on the relieved copy.
 */
export function strategiesFor(request: PlanRequest, policy: Policy): StrategyName[] {
  if (request.mode !== "cycle") return [request.mode];
  const wanted = new Set(policy.strategies);
  return [...(wanted.has("hotspot") ? ["hotspot" as const] : []), ...[...wanted].filter((s) => s !== "hotspot")];
}

/** What the strategies of one plan leave besides moves and decisions, in the order they ran. */
export interface StrategiesOutcome {
  blockers: Decision[];
  emptyHosts: string[];
}

/** Runs `names` in order on ctx (the working copy they share), then lets each finish on the whole plan. */
export function runStrategies(ctx: PlanContext, names: readonly StrategyName[], request: PlanRequest): StrategiesOutcome {
  const out: StrategiesOutcome = { blockers: [], emptyHosts: [] };
  const add = (r: StrategyResult): void => {
    if (r.blockers) out.blockers.push(...r.blockers);
    if (r.emptyHosts) out.emptyHosts.push(...r.emptyHosts);
  };
  const finishers: (() => StrategyResult)[] = [];
  for (const name of names) {
    const started = start(ctx, STRATEGIES[name], request);
    add(started.result);
    finishers.push(started.finish);
  }
  for (const finish of finishers) add(finish());
  return out;
}

/** One strategy: its arguments, their validation, its run; and its finish, for later. */
function start(ctx: PlanContext, s: Strategy<unknown>, request: PlanRequest): { result: StrategyResult; finish: () => StrategyResult } {
  const args = s.defaults(ctx.policy, request);
  const finish = (): StrategyResult => (s.finish ? s.finish(ctx, args) : {});
  const errors = s.validate(args);
  if (errors.length === 0) return { result: s.run(ctx, args), finish };
  const invalid: Decision = {
    kind: "cluster",
    subject: "cluster",
    code: "STRATEGY_INVALID",
    message: `${s.name} not run: ${errors.join("; ")}`,
    numbers: { errors: errors.length },
    strategy: s.name,
  };
  ctx.log.add(invalid);
  return { result: { blockers: [invalid] }, finish };
}
