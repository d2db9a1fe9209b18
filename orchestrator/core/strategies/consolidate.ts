// Consolidation (vmca's defragger).
// Trigger: requested (mode "consolidate") or listed in policy.strategies.
// Goal:    empty whole hosts by packing ALL their VMs (largest first) onto the most loaded hosts
//          that stay under consolidate_load and the memory limits; hosts empty at the start never
//          receive VMs. Host size counts (an emptied host counts one whatever its size, so the
//          fewest hosts are the largest): the smallest hosts are emptied first, and VMs are packed
//          onto the largest hosts first, the most loaded of a size first. Within a size, hosts with
//          the least VM memory are emptied first (each freed host saves the same; the memory is
//          what the migrations copy, and small leftovers pack without stranding memory), the
//          least loaded of those first. (Size: the weighted share of the largest CPU
//          and memory capacities in the cluster.) A VM is never moved from a host that cannot be
//          emptied entirely.
// Stop:    no further host can be emptied, the host-trial limit, or max_moves_per_cycle. The cap
//          is checked before a host's emptying starts; an emptying once started is planned whole,
//          past the cap (see run). The concurrency caps are the dispatcher's: it queues the moves
//          and starts them as per-source, per-destination and total slots free.
// Result:  once the whole plan is made (finish), the hosts it leaves empty, except spare_hosts of
//          them (the largest) kept powered as reserve: plan.emptyHosts, the power-off candidates.
// Consolidation is optional, so it never breaks a should rule.

import type { Policy } from "../../../shared/config/policy.js";
import type { ClusterModel, HostModel, MoveToken, VmModel } from "../cluster-model.js";
import { checkDestination, checkMoveCap, checkVm, type DestOptions } from "../constraints.js";
import type { PlanContext } from "../context.js";
import { RejectionTally } from "../explain.js";
import { f1, r2 } from "../format.js";
import { findDestination, type Placement } from "../placement.js";
import { byId, byName, commitMove, type Strategy, type StrategyResult } from "./strategy.js";

export interface ConsolidateArgs {
  loadLimit: number;
  memLimit: number;
  spareHosts: number;
  /** Hosts tried per plan at most (each trial places all of a host's VMs on the copy). */
  maxHostTrials: number;
}

export const consolidate: Strategy<ConsolidateArgs> = {
  name: "consolidate",
  defaults: (p: Policy): ConsolidateArgs => ({
    loadLimit: Math.min(p.consolidate_load, p.max_load_candidate),
    memLimit: p.max_mem_candidate,
    spareHosts: p.spare_hosts,
    // Trials follow the cycle's move budget: a cycle that may plan more moves may look at more
    // hosts to find them (64 for 4 moves, as before). A fixed 64 capped a 300 s simulator step,
    // which stands for 30 cycles, at 64 hosts while its move cap allowed 30 times more.
    maxHostTrials: Math.max(64, 16 * p.max_moves_per_cycle),
  }),
  validate(a) {
    const e: string[] = [];
    if (a.loadLimit <= 0) e.push("consolidate_load must be > 0");
    if (a.spareHosts < 0) e.push("spare_hosts must be >= 0");
    if (a.maxHostTrials < 1) e.push("maxHostTrials must be >= 1");
    return e;
  },
  run(ctx, a): StrategyResult {
    const { model } = ctx;
    const sizes = new HostSizes(model);
    // Smallest size first, then least VM memory: every emptied host saves the same power, and the
    // memory is what its migrations copy. Ordering by VM count instead freed hosts for fewer
    // migrations but stranded memory on mem-bound clusters (1.06x the bin-packing bound on the
    // PlanetLab-shaped bench against 1.05x). byLoad is ordered by (key, id) and the sort is stable,
    // so ties go to the least loaded, as on hosts of one size.
    const candidates = model.byLoad
      .filter(
        (h) =>
          h.inBalance &&
          !h.maintenance &&
          !ctx.closing.has(h.id) &&
          !model.isEmpty(h) &&
          h.plannedIn === 0 &&
          h.inFlightIn === 0 &&
          h.inFlightOut === 0 &&
          h.copies === 0,
      )
      .sort((x, y) => sizes.size(x) - sizes.size(y) || x.committedMiB - y.committedMiB);
    const busy = model.hosts.filter((h) => h.inBalance && !model.isEmpty(h) && (h.inFlightIn > 0 || h.inFlightOut > 0 || h.plannedIn > 0 || h.copies > 0));
    for (const h of busy)
      ctx.log.host(
        h.id,
        {
          code: "HOST_BUSY",
          message:
            h.copies > 0 && h.inFlightIn + h.inFlightOut + h.plannedIn === 0
              ? `host ${h.id} lists ${h.copies} VM(s) that another host lists too; not emptied now`
              : `host ${h.id} has migrations in flight or planned; not emptied now`,
          numbers: { inFlightIn: h.inFlightIn, inFlightOut: h.inFlightOut, plannedIn: h.plannedIn, ...(h.copies > 0 ? { copies: h.copies } : {}) },
        },
        undefined,
        "consolidate",
      );
    const opts: DestOptions = { cpuLimit: a.loadLimit, memLimit: a.memLimit, allowEmpty: false, caps: false };
    let trials = 0;
    let emptied = 0;
    for (const h of candidates) {
      if (trials >= a.maxHostTrials || ctx.budgetExhausted) {
        ctx.log.cluster(
          {
            code: "CONSOLIDATION_LIMIT",
            message: `consolidation stopped after ${trials} host trials`,
            numbers: { trials, maxHostTrials: a.maxHostTrials, budgetExhausted: ctx.budgetExhausted },
          },
          "consolidate",
        );
        break;
      }
      // max_moves_per_cycle decides whether an emptying STARTS. Once started it is planned whole,
      // past the cap: a host left with one VM saves nothing (it stays powered), so a partial
      // emptying costs its migrations for no gain, and until a later cycle moves the rest the
      // host is open to hot-spot relief and balancing, which may fill it again. The overshoot is
      // bounded by one host's VMs (max_vm_per_host). The next emptiable host is named deferred.
      const capped = ctx.caps ? checkMoveCap(ctx) : null;
      if (model.isEmpty(h) || h.plannedIn > 0 || ctx.closing.has(h.id)) continue;
      trials += 1;
      const chosen = trial(ctx, h, opts, sizes);
      if (!chosen) continue;
      if (capped) {
        ctx.log.host(
          h.id,
          {
            code: "CONSOLIDATION_DEFERRED",
            message: `host ${h.id} can be emptied (${chosen.length} move${chosen.length === 1 ? "" : "s"}), but ${capped.message}: it is emptied in a later cycle`,
            numbers: { vms: chosen.length, planned: model.plannedTotal, max_moves_per_cycle: ctx.policy.max_moves_per_cycle },
          },
          undefined,
          "consolidate",
        );
        break;
      }
      ctx.closing.add(h.id);
      // The trial proved these moves in this order on this same copy, by the same constraints
      // (without the concurrency caps, which are the dispatcher's): commit them as placed.
      for (const { vm, p: placed } of chosen) {
        const cpuBefore = model.cpuLoad(placed.host);
        commitMove(
          ctx,
          vm,
          placed,
          "consolidate",
          "CONSOLIDATE",
          `emptying ${h.id} (all ${chosen.length} VMs fit elsewhere): ${vm.name} → ${placed.host.id}, CPU ${f1(cpuBefore)} % → ${f1(placed.cpuAfter)} % (consolidate_load ${a.loadLimit} %)`,
          {
            sourceVms: chosen.length,
            destCpuBefore: r2(cpuBefore),
            destCpuAfter: r2(placed.cpuAfter),
            destMemAfter: r2(placed.memAfter),
            consolidate_load: a.loadLimit,
          },
        );
      }
      emptied += 1;
    }
    if (emptied === 0 && ctx.moves.every((m) => m.strategy !== "consolidate"))
      ctx.log.cluster({ code: "NO_HOST_EMPTIABLE", message: `no host can be emptied entirely (${trials} tried)`, numbers: { trials } }, "consolidate");
    return {};
  },
  // Empty hosts are power-off candidates whether or not this cycle could pack anything, and only
  // the finished plan says which hosts are empty. Only powered hosts count (a host switched off or
  // booting is not fresh): spare_hosts keeps powered empty hosts.
  finish(ctx, a): StrategyResult {
    const { model } = ctx;
    const empty = model.hosts.filter((h) => h.fresh && !h.excluded && !h.maintenance && model.isEmpty(h) && h.inFlightOut === 0);
    const spare = [...empty].sort((x, y) => y.cpus - x.cpus || y.memTotalMiB - x.memTotalMiB || byId(x, y)).slice(0, a.spareHosts);
    const spareIds = new Set(spare.map((h) => h.id));
    for (const h of spare)
      ctx.log.host(
        h.id,
        {
          code: "HOST_SPARE",
          message: `host ${h.id} is empty and kept powered as spare (spare_hosts ${a.spareHosts})`,
          numbers: { spare_hosts: a.spareHosts },
        },
        undefined,
        "consolidate",
      );
    return { emptyHosts: empty.filter((h) => !spareIds.has(h.id)).map((h) => h.id) };
  },
};

/** Try to place every VM of `h` on the copy; undo the trial and return the moves if all fit. */
function trial(ctx: PlanContext, h: HostModel, opts: DestOptions, sizes: HostSizes): { vm: VmModel; p: Placement }[] | null {
  const { model } = ctx;
  const vms = [...h.vms].sort((x, y) => y.memMiB - x.memMiB || y.loadCores - x.loadCores || byName(x, y));
  const tokens: MoveToken[] = [];
  const chosen: { vm: VmModel; p: Placement }[] = [];
  ctx.closing.add(h.id);
  const rollback = (): void => {
    for (let i = tokens.length - 1; i >= 0; i--) model.undo(tokens[i]!);
    ctx.closing.delete(h.id);
  };
  for (const vm of vms) {
    // No cooldown here (VM_COOLDOWN): the cooldown keeps a VM still until its new host's samples
    // show it, because hot-spot relief and balancing choose VMs by their measured load. An emptying
    // does not: it moves every VM of the host, proven together on the copy. With the cooldown, a
    // host that had just received one VM stayed powered for as long as that VM cooled (up to
    // vm_cooldown_max): on PlanetLab, trials of about half the powered hosts stopped at a cooling
    // VM, every cycle. Moving a VM back where it came from is still refused (DEST_PINGPONG).
    const r = checkVm(ctx, vm, false, false);
    if (r) {
      rollback();
      ctx.log.host(
        h.id,
        { code: "HOST_NOT_EMPTIABLE", message: `host ${h.id} cannot be emptied: ${r.message}`, numbers: { vm: vm.name, blockedBy: r.code } },
        undefined,
        "consolidate",
      );
      return null;
    }
    const tally = new RejectionTally();
    const p = sizes.single ? findDestination(ctx, vm, opts, "pack", tally) : packLargestFirst(ctx, vm, opts, sizes, tally);
    if (!p || p.brokenShould.length > 0) {
      rollback();
      ctx.log.host(
        h.id,
        {
          code: "HOST_NOT_EMPTIABLE",
          message: `host ${h.id} cannot be emptied: no host takes ${vm.name} (${tally.summary()})`,
          numbers: { vm: vm.name, blockedBy: "NO_DESTINATION", hostsEvaluated: tally.evaluated, ...tally.countNumbers() },
        },
        undefined,
        "consolidate",
      );
      return null;
    }
    chosen.push({ vm, p });
    tokens.push(model.applyMove(vm, p.host));
  }
  rollback();
  return chosen;
}

/** Host sizes of the working copy: the weighted share of the largest CPU and memory capacities (1 for the largest host). */
class HostSizes {
  /** Distinct sizes, largest first. */
  readonly desc: number[];
  /** All hosts have one size: the plain by-load order applies. */
  readonly single: boolean;
  private readonly sizeById = new Map<string, number>();

  constructor(model: ClusterModel) {
    let maxCores = 0;
    let maxMem = 0;
    for (const h of model.hosts) {
      maxCores = Math.max(maxCores, h.capacityCores);
      maxMem = Math.max(maxMem, h.memTotalMiB);
    }
    const w = model.weights;
    const distinct = new Set<number>();
    for (const h of model.hosts) {
      const size = (w.cpu * (maxCores > 0 ? h.capacityCores / maxCores : 1) + w.mem * (maxMem > 0 ? h.memTotalMiB / maxMem : 1)) / (w.cpu + w.mem);
      this.sizeById.set(h.id, size);
      distinct.add(size);
    }
    this.desc = [...distinct].sort((a, b) => b - a);
    this.single = this.desc.length <= 1;
  }

  size(h: HostModel): number {
    return this.sizeById.get(h.id) ?? 1;
  }
}

/**
 * findDestination's "pack" order, size by size from the largest: within a size the most loaded
 * host that fits wins (ties by id), and the first size with a fit that breaks no should rule wins.
 * Without such a fit, the fit breaking the fewest should rules is returned (the caller refuses it).
 */
function packLargestFirst(ctx: PlanContext, vm: VmModel, opts: DestOptions, sizes: HostSizes, tally: RejectionTally): Placement | null {
  const list = ctx.model.byLoad;
  const n = list.length;
  let fallback: Placement | null = null;
  for (const size of sizes.desc) {
    let best: Placement | null = null;
    for (let k = n - 1; k >= 0; k--) {
      const h = list[k]!;
      if (sizes.size(h) !== size) continue;
      if (best && best.brokenShould.length === 0 && h.key < best.host.key) break;
      if (ctx.budget <= 0) {
        ctx.budgetExhausted = true;
        return best && best.brokenShould.length === 0 ? best : fallback;
      }
      ctx.budget -= 1;
      const v = checkDestination(ctx, vm, h, opts, tally.wantsDetail());
      if (h.id !== vm.host) tally.evaluated += 1;
      if (!v.ok) {
        if (v.rejection.code !== "DEST_IS_SOURCE") tally.add(h.id, v.rejection);
        continue;
      }
      const c: Placement = { host: h, brokenShould: v.brokenShould, cpuAfter: v.cpuAfter, memAfter: v.memAfter, keyAfter: v.keyAfter };
      if (
        !best ||
        c.brokenShould.length < best.brokenShould.length ||
        (c.brokenShould.length === best.brokenShould.length && (c.keyAfter > best.keyAfter || (c.keyAfter === best.keyAfter && c.host.id < best.host.id)))
      )
        best = c;
    }
    if (best && best.brokenShould.length === 0) return best;
    if (best && (!fallback || best.brokenShould.length < fallback.brokenShould.length)) fallback = best;
  }
  return fallback;
}
