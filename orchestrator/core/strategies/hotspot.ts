// Hot-spot relief.
// Trigger: a host whose CPU stayed over load_threshold (or memory over mem_threshold) in every
//          sample for at least max_over seconds (windows.ts). A silent host is not judged (the
//          plan names it HOST_STALE, and NO_HOTSPOT counts it).
// Goal:    bring it down to load_target / mem_target (hysteresis), choosing first a single VM whose
//          move ends the overload at the lowest migration cost, else the VM that covers most of
//          the excess; each to the destination with the lowest resulting weighted load. When the
//          cycle also consolidates (power saving), destinations are sought among hosts that run
//          VMs first, the most loaded that stays under max_load_candidate (best fit); an empty
//          (possibly powered-off) host is woken only when none of them fits, since consolidation
//          would otherwise empty it again at the next cycle (DRS with DPM). Best fit, not the least
//          loaded: the least loaded running hosts are the ones consolidation empties next, and a VM
//          put there (cooling down, and one more VM to move) kept them powered.
// Stop:    the host is at or below target, no VM of it can be placed, or the per-cycle caps are hit
//          (the concurrency caps too, counting migrations in flight: constraints.ts says why).
//          A host still sending VMs, or that took part in a migration within host_settle, is left
//          to a later cycle (checkSource): its samples do not yet show what the move changed.

import type { Policy } from "../../../shared/config/policy.js";
import type { HostModel, VmModel } from "../cluster-model.js";
import { FACTS_CODES } from "../compatibility.js";
import { checkDestination, checkSource, checkVm, type DestOptions } from "../constraints.js";
import type { PlanContext } from "../context.js";
import { widened } from "../headroom.js";
import { RejectionTally } from "../explain.js";
import { f1, r2 } from "../format.js";
import { findDestination, type Placement } from "../placement.js";
import { classifyHost, longEnough, type WindowVerdict } from "../windows.js";
import { byName, CAP_CODES, commitMove, type Strategy, type StrategyResult } from "./strategy.js";

export interface HotspotArgs {
  loadThreshold: number;
  loadTarget: number;
  memThreshold: number;
  memTarget: number;
  maxOverSeconds: number;
  staleAfterSeconds: number;
  /** Destination limits. */
  cpuLimit: number;
  memLimit: number;
  /** Prefer hosts that run VMs over empty ones as destinations (set when the cycle consolidates). */
  preferPowered: boolean;
}

const EPS = 1e-9;

export const hotspot: Strategy<HotspotArgs> = {
  name: "hotspot",
  defaults: (p: Policy): HotspotArgs => ({
    loadThreshold: p.load_threshold,
    loadTarget: p.load_target,
    memThreshold: p.mem_threshold,
    memTarget: p.mem_target,
    maxOverSeconds: p.max_over,
    staleAfterSeconds: p.stale_after,
    cpuLimit: p.max_load_candidate,
    memLimit: p.max_mem_candidate,
    preferPowered: p.strategies.includes("consolidate"),
  }),
  validate(a) {
    const e: string[] = [];
    if (a.loadTarget > a.loadThreshold) e.push(`load_target ${a.loadTarget} exceeds load_threshold ${a.loadThreshold}`);
    if (a.memTarget > a.memThreshold) e.push(`mem_target ${a.memTarget} exceeds mem_threshold ${a.memThreshold}`);
    if (a.maxOverSeconds < 0) e.push("max_over must be >= 0");
    return e;
  },
  run(ctx, a): StrategyResult {
    const { model } = ctx;
    const hot: { h: HostModel; w: WindowVerdict; excess: number; a: HotspotArgs }[] = [];
    const clusterWindow = {
      stale_after: a.staleAfterSeconds,
      max_over: a.maxOverSeconds,
      load_threshold: a.loadThreshold,
      mem_threshold: a.memThreshold,
      mem_reserve_mib: ctx.policy.mem_reserve_mib,
      interval: ctx.policy.interval,
    };
    let stale = 0;
    let dormant = 0;
    for (const h of model.hosts) {
      if (h.excluded) continue;
      // Switched off or booting (power management): nothing to relieve, and not silent either.
      if (h.dormant) {
        dormant += 1;
        continue;
      }
      // A host burstier than the cluster triggers and sheds at its own, lower CPU levels (headroom.ts).
      const scale = ctx.headroomScale.get(h.id);
      const ha = scale === undefined ? a : { ...a, loadThreshold: widened(a.loadThreshold, scale), loadTarget: widened(a.loadTarget, scale) };
      const w = classifyHost(h.source, ha === a ? clusterWindow : { ...clusterWindow, load_threshold: ha.loadThreshold }, ctx.now, ctx.memRise);
      if (!w.fresh) stale += 1;
      if (!w.fresh || (!w.cpu.over && !w.mem.over)) continue;
      if (!w.source) {
        const s = w.metric === "mem" ? w.mem : w.cpu;
        const thr = w.metric === "mem" ? a.memThreshold : r2(ha.loadThreshold);
        ctx.log.host(
          h.id,
          {
            code: "OVERLOAD_TOO_SHORT",
            message: `host ${h.id} ${w.metric === "mem" ? "memory" : "CPU"} ${f1(s.value)} % > ${thr} % for ${f1(s.overMs / 1000)} s, not yet max_over ${a.maxOverSeconds} s`,
            numbers: { metric: w.metric, valuePercent: r2(s.value), thresholdPercent: thr, overSeconds: r2(s.overMs / 1000), max_over: a.maxOverSeconds },
          },
          undefined,
          "hotspot",
        );
        continue;
      }
      const excess = Math.max(w.cpu.over ? w.cpu.value - ha.loadThreshold : 0, w.mem.over ? w.mem.value - a.memThreshold : 0);
      hot.push({ h, w, excess, a: ha });
    }
    hot.sort((x, y) => y.excess - x.excess || (x.h.id < y.h.id ? -1 : 1));
    if (hot.length === 0) {
      ctx.log.cluster(
        {
          code: "NO_HOTSPOT",
          // Silent hosts are not judged (each has its HOST_STALE): say so rather than call them cool.
          message:
            `no host over its thresholds for max_over ${a.maxOverSeconds} s` +
            (stale > 0 ? ` (${stale} of ${model.hosts.length} hosts silent, not judged: HOST_STALE)` : "") +
            (dormant > 0 ? ` (${dormant} of ${model.hosts.length} hosts switched off or booting)` : ""),
          numbers: { hosts: model.hosts.length, ...(stale > 0 ? { staleHosts: stale } : {}), ...(dormant > 0 ? { dormantHosts: dormant } : {}) },
        },
        "hotspot",
      );
      return {};
    }
    const frontier: NoFit[] = [];
    const woken: HostModel[] = [];
    for (const { h, w, a: ha } of hot) relieve(ctx, ha, h, w, frontier, woken);
    return {};
  },
};

/**
 * A VM that fitted nowhere (no must rule involved, full scan). Until the next move changes the
 * model, a VM needing at least as much CPU and memory fits nowhere either, except possibly on the
 * first VM's own host, which is checked on its own: this keeps saturated clusters O(hosts) per
 * distinct VM size instead of O(hosts) per VM. A VM refused anywhere by a must rule or by the facts
 * (compatibility.ts) is not entered: those refusals say what the VM is, not how large.
 */
interface NoFit {
  cores: number;
  mem: number;
  source: string;
  vm: string;
  movesAt: number;
  numbers: Record<string, number | string>;
}
const MAX_FRONTIER = 32;

/**
 * The most loaded of the empty hosts this plan already woke that takes `vm` (best fit), or null.
 * A VM that fits no running host goes there before another host is woken: each woken host is a
 * powered host more until consolidation can empty it again.
 */
function packWoken(ctx: PlanContext, vm: VmModel, opts: DestOptions, woken: readonly HostModel[]): Placement | null {
  let best: Placement | null = null;
  for (const host of woken) {
    const v = checkDestination(ctx, vm, host, opts, false);
    if (!v.ok) continue;
    const c: Placement = { host, brokenShould: v.brokenShould, cpuAfter: v.cpuAfter, memAfter: v.memAfter, keyAfter: v.keyAfter };
    if (
      !best ||
      c.brokenShould.length < best.brokenShould.length ||
      (c.brokenShould.length === best.brokenShould.length && (c.keyAfter > best.keyAfter || (c.keyAfter === best.keyAfter && host.id < best.host.id)))
    )
      best = c;
  }
  return best;
}

function relieve(ctx: PlanContext, a: HotspotArgs, h: HostModel, w: WindowVerdict, frontier: NoFit[], woken: HostModel[]): void {
  const { model, policy } = ctx;
  const window = { max_over: a.maxOverSeconds, interval: policy.interval };
  const cpuHot = w.cpu.over && longEnough(w.cpu.overMs, window);
  const memHot = w.mem.over && (w.memUrgent || longEnough(w.mem.overMs, window));
  const overSeconds = r2(Math.max(cpuHot ? w.cpu.overMs : 0, memHot ? w.mem.overMs : 0) / 1000);
  const unresolved = (why: string, extra: Record<string, number | string> = {}): void =>
    ctx.log.host(
      h.id,
      {
        code: "HOTSPOT_UNRESOLVED",
        message: `host ${h.id} stays at CPU ${f1(model.cpuLoad(h))} % / memory ${f1(model.memLoad(h))} % (targets ${a.loadTarget} % / ${a.memTarget} %): ${why}`,
        numbers: {
          cpuPercent: r2(model.cpuLoad(h)),
          memPercent: r2(model.memLoad(h)),
          load_target: a.loadTarget,
          mem_target: a.memTarget,
          overSeconds,
          ...extra,
        },
      },
      undefined,
      "hotspot",
    );
  const busy = checkSource(ctx, h);
  if (busy) {
    ctx.log.host(h.id, busy, undefined, "hotspot");
    return;
  }
  const failed = new Set<string>();
  for (;;) {
    const needCores = cpuHot ? Math.max(0, h.usedCores - (a.loadTarget / 100) * h.capacityCores) : 0;
    const needMiB = memHot ? Math.max(0, h.memUsedMiB - (a.memTarget / 100) * h.memTotalMiB) : 0;
    if (needCores <= EPS && needMiB <= EPS) return;

    const candidates: VmModel[] = [];
    for (const vm of [...h.vms].sort(byName)) {
      if (failed.has(vm.name)) continue;
      const r = checkVm(ctx, vm);
      if (r) {
        if (CAP_CODES.has(r.code) || r.code === "SOURCE_CONCURRENCY") {
          unresolved(r.message, { blockedBy: r.code });
          return;
        }
        ctx.log.vm(vm.name, r, "hotspot");
        failed.add(vm.name);
        continue;
      }
      if ((cpuHot && vm.reliefCores > 0) || (memHot && vm.memMiB > 0)) candidates.push(vm);
      else failed.add(vm.name);
    }
    const covers = (vm: VmModel): number =>
      (cpuHot && needCores > EPS ? Math.min(vm.reliefCores / needCores, 1) : 0) + (memHot && needMiB > EPS ? Math.min(vm.memMiB / needMiB, 1) : 0);
    const sufficient = (vm: VmModel): boolean => vm.reliefCores >= needCores - EPS && vm.memMiB >= needMiB - EPS;
    const cheap = (x: VmModel, y: VmModel): number => x.costMiB - y.costMiB || byName(x, y);
    const ordered = [
      ...candidates.filter(sufficient).sort(cheap),
      ...candidates.filter((v) => !sufficient(v)).sort((x, y) => covers(y) - covers(x) || cheap(x, y)),
    ];
    let moved = false;
    for (const vm of ordered) {
      const opts = { cpuLimit: a.cpuLimit, memLimit: a.memLimit, allowEmpty: true, caps: ctx.caps };
      const dom = frontier.find((f) => f.movesAt === ctx.moves.length && vm.loadCores >= f.cores && vm.memMiB >= f.mem);
      let p: Placement | null;
      if (dom) {
        const only = model.hostById.get(dom.source)!;
        const v = only.id === vm.host ? null : checkDestination(ctx, vm, only, opts);
        if (v && v.ok) p = { host: only, brokenShould: v.brokenShould, cpuAfter: v.cpuAfter, memAfter: v.memAfter, keyAfter: v.keyAfter };
        else {
          ctx.log.vm(
            vm.name,
            {
              code: "NO_DESTINATION",
              message: `no destination while relieving ${h.id} for ${vm.name}: no host takes ${dom.vm}, which needs no more CPU and memory`,
              numbers: { ...dom.numbers, sameAs: dom.vm },
            },
            "hotspot",
          );
          failed.add(vm.name);
          continue;
        }
      } else {
        const tally = new RejectionTally();
        p =
          (a.preferPowered ? (findDestination(ctx, vm, { ...opts, allowEmpty: false }, "pack") ?? packWoken(ctx, vm, opts, woken)) : null) ??
          findDestination(ctx, vm, opts, "spread", tally);
        if (p && a.preferPowered && p.host.emptyAtStart && !woken.includes(p.host)) woken.push(p.host);
        if (!p) {
          tally.flush(ctx.log, vm.name, model.hosts.length, "hotspot", `no destination while relieving ${h.id}`);
          failed.add(vm.name);
          if (ctx.budgetExhausted) break;
          // Refusals by rules or facts depend on what the VM is, not how large: they prove nothing of a larger VM.
          if (!tally.counts.has("RULE_MUST") && !refusedByFacts(tally) && frontier.length < MAX_FRONTIER)
            frontier.push({
              cores: vm.loadCores,
              mem: vm.memMiB,
              source: vm.host,
              vm: vm.name,
              movesAt: ctx.moves.length,
              numbers: { hostsEvaluated: tally.evaluated, ...(tally.countNumbers() as Record<string, number>) },
            });
          continue;
        }
      }
      const srcCpu = model.cpuLoad(h);
      const srcMem = model.memLoad(h);
      const dstCpu = model.cpuLoad(p.host);
      const srcCpuAfter = (Math.max(0, h.usedCores - vm.reliefCores) / h.capacityCores) * 100;
      const srcMemAfter = (Math.max(0, h.memUsedMiB - vm.memMiB) / h.memTotalMiB) * 100;
      const what = cpuHot
        ? `CPU ${f1(srcCpu)} % > ${a.loadThreshold} %`
        : `memory ${f1(srcMem)} % > ${a.memThreshold} %` +
          (w.memUrgent && !longEnough(w.mem.overMs, window) ? ` and may reach ${f1(w.memProjected)} % (capacity) before max_over: relieved at once,` : "");
      const reason =
        `host ${h.id} ${what} for ${f1(overSeconds)} s: moving ${vm.name} (cost ${f1(vm.costMiB)} MiB) to ${p.host.id} ` +
        `brings ${h.id} to CPU ${f1(srcCpuAfter)} % / memory ${f1(srcMemAfter)} % (targets ${a.loadTarget} % / ${a.memTarget} %); ` +
        `${p.host.id} CPU ${f1(dstCpu)} % → ${f1(p.cpuAfter)} %` +
        (p.brokenShould.length > 0 ? `; breaks should rule(s) ${p.brokenShould.join(", ")} because nothing else fits` : "");
      commitMove(ctx, vm, p, "hotspot", "HOST_OVERLOADED", reason, {
        metric: cpuHot ? "cpu" : "mem",
        overSeconds,
        ...(w.memUrgent ? { memProjectedPercent: r2(w.memProjected) } : {}),
        sourceCpuBefore: r2(srcCpu),
        sourceCpuAfter: r2(srcCpuAfter),
        sourceMemBefore: r2(srcMem),
        sourceMemAfter: r2(srcMemAfter),
        destCpuBefore: r2(dstCpu),
        destCpuAfter: r2(p.cpuAfter),
        destMemAfter: r2(p.memAfter),
        load_threshold: a.loadThreshold,
        load_target: a.loadTarget,
        vmCpuPercent: vm.cpuPercent,
        cpuAssumed: vm.cpuAssumed,
        vmMemMiB: vm.memMiB,
        sufficient: sufficient(vm),
      });
      moved = true;
      break;
    }
    if (!moved) {
      unresolved(ctx.budgetExhausted ? "search budget exhausted" : "no VM of it can be placed elsewhere", { vmsTried: failed.size });
      return;
    }
  }
}

function refusedByFacts(t: RejectionTally): boolean {
  for (const code of t.counts.keys()) if (FACTS_CODES.has(code)) return true;
  return false;
}
