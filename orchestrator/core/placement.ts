import type { HostModel, VmModel } from "./cluster-model.js";
import { refusalNumbers } from "./compatibility.js";
import { checkDestination, type DestOptions } from "./constraints.js";
import type { PlanContext } from "./context.js";
import type { RejectionTally } from "./explain.js";

// Destination search over the hosts ordered by weighted load, without scanning every host:
//  - "spread" (stripe, best destination): the host with the lowest resulting weighted load wins.
//    A VM raises the load of every host of one capacity by the same amount, so hosts are visited
//    group by group (ClusterModel.groups), always taking next the group head whose resulting load
//    can be lowest; the search stops once no unvisited host can beat the best found. Visiting
//    the single by-load list instead meant checking every host whose CURRENT load was below the
//    best RESULTING load: a fifth of a 10,000-host cluster per VM.
//  - "pack": the most loaded host that still fits wins (hosts tried from the most loaded down).
// Facts (compatibility.ts): groups are per (capacity, compatibility class), and a group whose class
// cannot run the VM is skipped whole, its hosts counted in the tally under the class's refusal (the
// first few named in full while the tally wants detail): a 10,000-host search for a VM of a new CPU
// generation does not visit the old hosts one by one. The scan paths check every host they visit,
// each against the verdict cached per (requirement, class).
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

/**
 * Margin on the lower bound of a host's resulting load, percent: key + rise is computed in another
 * order than checkDestination's keyAfter and may differ in the last bits; keys are at most a few
 * hundred percent, so rounding stays far below this.
 */
const ROUNDING_SLACK = 1e-6;

/**
 * Beyond this many groups (capacities × compatibility classes), following each group's head costs
 * more than one pass over all hosts. 64: 3-4 CPU generations times a few network layouts times a
 * few host sizes stay within it; a visit costs one comparison per group.
 */
const MAX_GROUPS = 64;

type Better = (c: Placement, b: Placement | null) => boolean;

function betterFor(order: Order): Better {
  return (c, b) => {
    if (!b) return true;
    if (c.brokenShould.length !== b.brokenShould.length) return c.brokenShould.length < b.brokenShould.length;
    if (c.keyAfter !== b.keyAfter) return order === "spread" ? c.keyAfter < b.keyAfter : c.keyAfter > b.keyAfter;
    return c.host.id < b.host.id;
  };
}

/** Checks `h` within the plan's budget; null when it is refused (or the budget is spent). */
function evaluate(ctx: PlanContext, vm: VmModel, h: HostModel, opts: DestOptions, tally: RejectionTally | undefined): Placement | null {
  ctx.budget -= 1;
  const v = checkDestination(ctx, vm, h, opts, tally !== undefined && tally.wantsDetail());
  if (tally && h.id !== vm.host) tally.evaluated += 1;
  if (!v.ok) {
    if (tally && v.rejection.code !== "DEST_IS_SOURCE") tally.add(h.id, v.rejection);
    return null;
  }
  return { host: h, brokenShould: v.brokenShould, cpuAfter: v.cpuAfter, memAfter: v.memAfter, keyAfter: v.keyAfter };
}

export function findDestination(ctx: PlanContext, vm: VmModel, opts: DestOptions, order: Order, tally?: RejectionTally): Placement | null {
  if (order === "spread" && ctx.model.groups.length <= MAX_GROUPS) return spreadByGroup(ctx, vm, opts, tally);
  return scanByLoad(ctx, vm, opts, order, tally);
}

function spreadByGroup(ctx: PlanContext, vm: VmModel, opts: DestOptions, tally: RejectionTally | undefined): Placement | null {
  const { model } = ctx;
  const w = model.weights;
  const groups = model.groups;
  const better = betterFor("spread");
  const next = new Array<number>(groups.length).fill(0);
  const req = vm.compat?.req ?? null;
  if (req !== null) {
    const src = model.hostById.get(vm.host);
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      const refused = model.compat.classVerdict(req, g.compatClass);
      if (!refused) continue;
      next[i] = g.hosts.length;
      if (!tally) continue;
      // The first hosts in full while the tally wants them, the rest counted (the source aside).
      const hs = g.hosts;
      let k = 0;
      let sawSource = false;
      for (; k < hs.length && tally.wantsDetail(); k++) {
        const h = hs[k]!;
        if (h === src) {
          sawSource = true;
          continue;
        }
        tally.evaluated += 1;
        tally.add(h.id, { code: refused.code, message: refused.message(h.id, vm.name), numbers: refusalNumbers(refused) });
      }
      const srcInGroup = src !== undefined && src.compatClass === g.compatClass && src.capacityCores === g.capacityCores && src.memTotalMiB === g.memTotalMiB;
      const rest = hs.length - k - (srcInGroup && !sawSource ? 1 : 0);
      if (rest > 0) {
        tally.evaluated += rest;
        tally.addCount(refused.code, rest, refused.missing);
      }
    }
  }
  const rise = groups.map((g) => {
    const r = (w.cpu * ((vm.loadCores / g.capacityCores) * 100) + w.mem * (g.memTotalMiB > 0 ? (vm.memMiB / g.memTotalMiB) * 100 : 0)) / (w.cpu + w.mem);
    return Number.isFinite(r) ? Math.max(0, r - ROUNDING_SLACK) : 0;
  });
  let best: Placement | null = null;
  for (;;) {
    // The group head with the lowest possible resulting load (ties: smaller id, as in the scan).
    let gi = -1;
    let bound = Infinity;
    let head: HostModel | null = null;
    for (let i = 0; i < groups.length; i++) {
      const h = groups[i]!.hosts[next[i]!];
      if (!h) continue;
      let b = h.key + rise[i]!;
      if (Number.isNaN(b)) b = -Infinity; // an unmeasurable host is checked first, never skipped
      if (b < bound || (b === bound && head !== null && h.id < head.id) || head === null) {
        gi = i;
        bound = b;
        head = h;
      }
    }
    if (head === null) break;
    if (best && best.brokenShould.length === 0 && bound > best.keyAfter) break;
    if (ctx.budget <= 0) {
      ctx.budgetExhausted = true;
      break;
    }
    next[gi] = next[gi]! + 1;
    const c = evaluate(ctx, vm, head, opts, tally);
    if (c && better(c, best)) best = c;
  }
  return best;
}

function scanByLoad(ctx: PlanContext, vm: VmModel, opts: DestOptions, order: Order, tally: RejectionTally | undefined): Placement | null {
  const list = ctx.model.byLoad;
  const better = betterFor(order);
  let best: Placement | null = null;
  const n = list.length;
  for (let k = 0; k < n; k++) {
    const h = order === "spread" ? list[k]! : list[n - 1 - k]!;
    if (order === "spread" && best && best.brokenShould.length === 0 && h.key > best.keyAfter) break;
    if (ctx.budget <= 0) {
      ctx.budgetExhausted = true;
      break;
    }
    const c = evaluate(ctx, vm, h, opts, tally);
    if (!c) continue;
    if (better(c, best)) best = c;
    // Pack: hosts come most loaded first, so the first clean fit is the answer, except for an
    // equally loaded host with a smaller id (ties), which comes right after.
    if (order === "pack" && best!.brokenShould.length === 0) {
      const nextHost = k + 1 < n ? list[n - 2 - k]! : null;
      if (!nextHost || nextHost.key < h.key) break;
    }
  }
  return best;
}
