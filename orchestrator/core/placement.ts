import type { HostModel, VmModel } from "./cluster-model.js";
import { checkDestination, type DestOptions } from "./constraints.js";
import type { PlanContext } from "./context.js";
import type { RejectionTally } from "./explain.js";

// Destination search over the hosts ordered by weighted load, without scanning every host:
//  - "spread" (stripe, best destination): the host with the lowest resulting weighted load wins.
//    Hosts are tried from the least loaded up; since adding a VM never lowers a host's load, the
//    search stops as soon as the next host's CURRENT load exceeds the best RESULTING load found.
//  - "pack": the most loaded host that still fits wins (hosts tried from the most loaded down).
// Should rules: a destination that breaks none always beats one that breaks some; among those that
// break some, fewer broken rules win. Ties are broken by host id, so results never depend on order.

export type Order = "spread" | "pack";

export interface Placement {
  host: HostModel;
  brokenShould: string[];
  cpuAfter: number;
  memAfter: number;
  keyAfter: number;
}

export function findDestination(
  ctx: PlanContext,
  vm: VmModel,
  opts: DestOptions,
  order: Order,
  tally?: RejectionTally,
): Placement | null {
  const list = ctx.model.byLoad;
  let best: Placement | null = null;
  const better = (c: Placement, b: Placement | null): boolean => {
    if (!b) return true;
    if (c.brokenShould.length !== b.brokenShould.length) return c.brokenShould.length < b.brokenShould.length;
    if (c.keyAfter !== b.keyAfter) return order === "spread" ? c.keyAfter < b.keyAfter : c.keyAfter > b.keyAfter;
    return c.host.id < b.host.id;
  };
  const n = list.length;
  for (let k = 0; k < n; k++) {
    const h = order === "spread" ? list[k]! : list[n - 1 - k]!;
    if (order === "spread" && best && best.brokenShould.length === 0 && h.key > best.keyAfter) break;
    if (ctx.budget <= 0) {
      ctx.budgetExhausted = true;
      break;
    }
    ctx.budget -= 1;
    const v = checkDestination(ctx, vm, h, opts, tally !== undefined && tally.wantsDetail());
    if (tally && h.id !== vm.host) tally.evaluated += 1;
    if (!v.ok) {
      if (tally && v.rejection.code !== "DEST_IS_SOURCE") tally.add(h.id, v.rejection);
      continue;
    }
    const c: Placement = { host: h, brokenShould: v.brokenShould, cpuAfter: v.cpuAfter, memAfter: v.memAfter, keyAfter: v.keyAfter };
    if (better(c, best)) best = c;
    const chosen: Placement = best ?? c;
    // Pack: hosts come most loaded first, so the first clean fit is the answer, except for an
    // equally loaded host with a smaller id (ties), which comes right after.
    if (order === "pack" && chosen.brokenShould.length === 0) {
      const next = k + 1 < n ? list[n - 2 - k]! : null;
      if (!next || next.key < h.key) break;
    }
  }
  return best;
}
