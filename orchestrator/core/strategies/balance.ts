// Load balancing (CPU and memory together).
// Trigger: the weighted imbalance (std-dev of normalised host loads, CPU and memory weighted by
//          cpu_weight / mem_weight, see indicators.ts) is above balance_threshold.
// Goal:    lower it with single moves; each step takes the best (VM, destination) pair among the
//          VMs of the most loaded hosts and the least loaded destinations that pass the constraints.
// Stop:    the best pair gains less than min_gain points (cluster decision NO_BENEFICIAL_MOVE with
//          the numbers), the imbalance is at or below balance_threshold, or the per-cycle caps are hit
//          (the concurrency caps too, counting migrations in flight: constraints.ts says why).
// Balancing is optional, so it never breaks a should rule.

import type { Policy } from "../../../shared/config/policy.js";
import type { HostModel, VmModel } from "../cluster-model.js";
import { checkDestination, checkVm } from "../constraints.js";
import type { PlanContext } from "../context.js";
import { f1, r2 } from "../format.js";
import { imbalanceOf, loadSums, type LoadSums } from "../indicators.js";
import type { Placement } from "../placement.js";
import { byName, CAP_CODES, commitMove, type Strategy, type StrategyResult } from "./strategy.js";

export interface BalanceArgs {
  minGain: number;
  threshold: number;
  cpuLimit: number;
  memLimit: number;
  /** Most loaded hosts whose VMs are candidates in each step. */
  sourceHosts: number;
  /** Feasible destinations (least loaded first) evaluated per candidate VM. */
  destHosts: number;
  /** Destination checks per candidate VM at most. */
  destScan: number;
}

const MIN_GAIN_EPS = 1e-9;

export const balance: Strategy<BalanceArgs> = {
  name: "balance",
  defaults: (p: Policy): BalanceArgs => ({
    minGain: p.min_gain,
    threshold: p.balance_threshold,
    cpuLimit: p.max_load_candidate,
    memLimit: p.max_mem_candidate,
    sourceHosts: 8,
    destHosts: 8,
    destScan: 64,
  }),
  validate(a) {
    const e: string[] = [];
    if (a.minGain < 0) e.push("min_gain must be >= 0");
    if (a.sourceHosts < 1 || a.destHosts < 1 || a.destScan < 1) e.push("balance search widths must be >= 1");
    return e;
  },
  run(ctx, a): StrategyResult {
    const { model } = ctx;
    let steps = 0;
    for (;;) {
      const sums = loadSums(model);
      const now = imbalanceOf(sums, model.weights);
      if (sums.n < 2 || now <= a.threshold) {
        if (steps === 0)
          ctx.log.cluster(
            {
              code: "NO_BENEFICIAL_MOVE",
              message: `imbalance ${f1(now)} ≤ balance_threshold ${a.threshold} over ${sums.n} hosts: the cluster is balanced`,
              numbers: { imbalance: r2(now), balance_threshold: a.threshold, hosts: sums.n },
            },
            "balance",
          );
        return {};
      }
      const best = bestMove(ctx, a, sums, now);
      if (best === "capped") return {};
      if (!best || best.gain < Math.max(a.minGain, MIN_GAIN_EPS)) {
        ctx.log.cluster(
          {
            code: "NO_BENEFICIAL_MOVE",
            message: best
              ? `best move ${best.vm.name} ${best.vm.host} → ${best.p.host.id} lowers imbalance ${f1(now)} by only ${best.gain.toFixed(2)} < min_gain ${a.minGain}`
              : `imbalance ${f1(now)} but no VM of the ${a.sourceHosts} most loaded hosts can move to a host that lowers it`,
            numbers: { imbalance: r2(now), bestGain: best ? r2(best.gain) : null, min_gain: a.minGain, balance_threshold: a.threshold, movesSoFar: steps },
          },
          "balance",
        );
        return {};
      }
      const { vm, p, gain } = best;
      const src = model.hostById.get(vm.host)!;
      const reason =
        `imbalance ${f1(now)} > ${a.threshold}: moving ${vm.name} ${src.id} (weighted ${f1(src.key)} %) → ${p.host.id} (weighted ${f1(p.host.key)} % → ${f1(p.keyAfter)} %) ` +
        `lowers it by ${gain.toFixed(2)} to ${f1(now - gain)} (min_gain ${a.minGain})`;
      commitMove(ctx, vm, p, "balance", "IMBALANCE", reason, {
        imbalanceBefore: r2(now),
        imbalanceAfter: r2(now - gain),
        gain: r2(gain),
        min_gain: a.minGain,
        sourceWeightedBefore: r2(src.key),
        destWeightedBefore: r2(p.host.key),
        destWeightedAfter: r2(p.keyAfter),
        destCpuAfter: r2(p.cpuAfter),
        destMemAfter: r2(p.memAfter),
        cpuAssumed: vm.cpuAssumed,
      });
      steps += 1;
    }
  },
};

interface Candidate {
  vm: VmModel;
  p: Placement;
  gain: number;
}

function bestMove(ctx: PlanContext, a: BalanceArgs, s: LoadSums, now: number): Candidate | null | "capped" {
  const { model } = ctx;
  const w = model.weights;
  const list = model.byLoad;
  const sources: HostModel[] = [];
  for (let i = list.length - 1; i >= 0 && sources.length < a.sourceHosts; i--) {
    const h = list[i]!;
    if (h.inBalance && !h.maintenance && h.vms.length > 0) sources.push(h);
  }
  let best: Candidate | null = null;
  const opts = { cpuLimit: a.cpuLimit, memLimit: a.memLimit, allowEmpty: true, caps: ctx.caps };
  for (const src of sources) {
    const c0 = model.cpuLoad(src);
    const m0 = model.memLoad(src);
    for (const vm of [...src.vms].sort(byName)) {
      const r = checkVm(ctx, vm);
      if (r) {
        if (CAP_CODES.has(r.code)) {
          ctx.log.cluster({ code: r.code, message: `balance stops: ${r.message}`, numbers: r.numbers }, "balance");
          return "capped";
        }
        ctx.log.vm(vm.name, r, "balance");
        if (r.code === "SOURCE_CONCURRENCY") break;
        continue;
      }
      if (vm.reliefCores <= 0 && vm.memMiB <= 0) continue;
      const c1 = (Math.max(0, src.usedCores - vm.reliefCores) / src.capacityCores) * 100;
      const m1 = (Math.max(0, src.memUsedMiB - vm.memMiB) / src.memTotalMiB) * 100;
      let feasible = 0;
      let scanned = 0;
      for (let k = 0; k < list.length && feasible < a.destHosts && scanned < a.destScan; k++) {
        const d = list[k]!;
        if (d === src || !d.inBalance) continue;
        if (d.key >= src.key) break; // moving up the load order cannot lower the spread
        if (ctx.budget <= 0) {
          ctx.budgetExhausted = true;
          break;
        }
        ctx.budget -= 1;
        scanned += 1;
        const v = checkDestination(ctx, vm, d, opts);
        if (!v.ok || v.brokenShould.length > 0) continue;
        feasible += 1;
        const cd0 = model.cpuLoad(d);
        const md0 = model.memLoad(d);
        const t: LoadSums = {
          n: s.n,
          c1: s.c1 - c0 - cd0 + c1 + v.cpuAfter,
          c2: s.c2 - c0 * c0 - cd0 * cd0 + c1 * c1 + v.cpuAfter * v.cpuAfter,
          m1: s.m1 - m0 - md0 + m1 + v.memAfter,
          m2: s.m2 - m0 * m0 - md0 * md0 + m1 * m1 + v.memAfter * v.memAfter,
        };
        const gain = now - imbalanceOf(t, w);
        const c: Candidate = { vm, p: { host: d, brokenShould: [], cpuAfter: v.cpuAfter, memAfter: v.memAfter, keyAfter: v.keyAfter }, gain };
        if (
          !best ||
          gain > best.gain + 1e-12 ||
          (Math.abs(gain - best.gain) <= 1e-12 &&
            (vm.costMiB < best.vm.costMiB ||
              (vm.costMiB === best.vm.costMiB && (vm.name < best.vm.name || (vm.name === best.vm.name && d.id < best.p.host.id)))))
        )
          best = c;
      }
    }
  }
  return best;
}
