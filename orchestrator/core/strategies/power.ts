// Power management (VMware DPM, oVirt's power saving): switch emptied hosts off, and back on
// before they are needed.
// Trigger: policy.power_management, after the other strategies of a cycle, on the working copy as
//          the plan's moves leave it (an evacuation plan only asks it for room).
// Goal:    on: a host for each need the powered hosts cannot meet, in this order: an evacuation's
//          VMs that fit nowhere (POWER_ON_EVACUATE), a hot spot's VMs that fit nowhere
//          (POWER_ON_HOTSPOT), a lost reserve (POWER_ON_RESERVE), a reserve the CPU rise predicted
//          boot_time ahead would consume (POWER_ON_DEMAND). Hosts already booting
//          count as capacity coming, so a need they cover wakes nobody. The host woken is the
//          smallest that covers the need (best fit: the least idle power for it), ties by id; when
//          none covers it alone, the one that covers most, and the next need counts it as coming.
//          off: hosts that held no VM (running or defined, nor any on its way) for
//          power_off_after, or that this plan's consolidation empties (power_off_emptied: switched
//          off once those moves succeed, POWER_OFF_EMPTIED, as DPM's standby mode evacuates and
//          powers off in one operation), and were on for min_on_time, smallest first (ties by id), each only if
//          the powered hosts keep standby_capacity without it: the largest empty hosts are the
//          ones kept for the reserve, because one large host covers a reserve that would take
//          several small ones, each drawing its own idle power. (The snapshot has no per-host
//          watts, so "least efficient" cannot be told apart from "smallest".)
// Stop:    max_power_ops operations at once, counting hosts booting or shutting down; nothing is
//          switched off while the cluster is unsettled (migrations in flight, a silent powered
//          agent, a host booting or shutting down) or while this plan switches a host on. Moves this
//          plan makes do not unsettle it: the reserve is judged on the working copy as they leave
//          it, and their sources and destinations hold VMs. (A busy cluster plans moves in most
//          cycles: on the PlanetLab replays in 277 of 287, so no emptied host was ever switched off.)
// Every host gets a verdict (explainHost reads them); the plan logs those that matter: actions,
// hosts that are empty or were about to be, switched-off hosts passed over for a need, and one
// cluster verdict (POWER_NOT_NEEDED, POWER_NO_HOST_TO_WAKE, POWER_UNSETTLED).

import type { Policy } from "../../../shared/config/policy.js";
import type { DecisionCode } from "../../../shared/schemas/decision-codes.js";
import type { Decision, Numbers, PlannedMove } from "../../../shared/schemas/plan.js";
import type { PowerAction, PowerCode, PowerState } from "../../../shared/schemas/power.js";
import type { ClusterSnapshot } from "../../../shared/schemas/snapshot.js";
import type { HostModel, VmModel } from "../cluster-model.js";
import { destinationRefusal } from "../compatibility.js";
import { ruleApplies } from "../constraints.js";
import type { PlanContext } from "../context.js";
import { f1, r2 } from "../format.js";
import { predictCpu } from "../prediction.js";
import { comingMember, demandVerdict, poweredMember, reserveVerdict, usableRoom, type Member, type Room } from "../standby.js";
import { hostSamples } from "../windows.js";
import { byName } from "./strategy.js";

export interface PowerArgs {
  offAfterMs: number;
  offEmptied: boolean;
  minOnMs: number;
  minOffMs: number;
  maxOps: number;
  /** 0: no cap. */
  maxCycles: number;
  offMaintenance: boolean;
  bootTimeS: number;
  predictWindowS: number;
}

/** Hosts per power operation at once when max_power_ops is unset: one in 20 switchable hosts. */
export const HOSTS_PER_POWER_OP = 20;

/** max_power_ops, or its default for `switchable` hosts with a power driver: one in 20, at least 1. */
export function maxPowerOps(p: Pick<Policy, "max_power_ops">, switchable: number): number {
  return p.max_power_ops ?? Math.max(1, Math.ceil(switchable / HOSTS_PER_POWER_OP));
}

export function powerArgs(p: Policy, switchable = 0): PowerArgs {
  return {
    offAfterMs: p.power_off_after * 1000,
    offEmptied: p.power_off_emptied,
    minOnMs: p.min_on_time * 1000,
    minOffMs: p.min_off_time * 1000,
    maxOps: maxPowerOps(p, switchable),
    maxCycles: p.max_power_cycles_per_day,
    offMaintenance: p.power_off_maintenance,
    bootTimeS: p.boot_time,
    predictWindowS: p.predict_window,
  };
}

/** A host's power fields with their defaults (absent: on, not managed). */
export interface PowerInfo {
  state: PowerState;
  since: number | null;
  switchable: boolean;
  emptySince: number | null;
  cyclesToday: number;
  bootDeadline: number | null;
  failed: string | null;
}

export function powerInfo(h: HostModel): PowerInfo {
  const p = h.source.power;
  if (!p) return { state: "on", since: null, switchable: false, emptySince: null, cyclesToday: 0, bootDeadline: null, failed: null };
  return {
    state: p.state,
    since: p.since,
    switchable: p.switchable,
    emptySince: p.emptySince ?? null,
    cyclesToday: p.cyclesToday ?? 0,
    bootDeadline: p.bootDeadline ?? null,
    failed: p.failed ?? null,
  };
}

export interface PowerInput {
  snapshot: ClusterSnapshot;
  mode: "cycle" | "evacuate";
  /** Evacuation: the VMs the plan found no destination for. */
  evacuationVms?: readonly string[];
}

export interface PowerResult {
  actions: PowerAction[];
  /** Every host's power verdict: its action's code, or why it is not switched. */
  verdicts: Map<string, Decision>;
}

type Need = "POWER_ON_EVACUATE" | "POWER_ON_HOTSPOT" | "POWER_ON_RESERVE" | "POWER_ON_DEMAND";

const EPS = 1e-9;
const sec = (ms: number): number => r2(ms / 1000);
/** Smaller first: CPU capacity, then memory, ties by id. */
const bySizeAsc = (a: HostModel, b: HostModel): number =>
  a.capacityCores - b.capacityCores || a.memTotalMiB - b.memTotalMiB || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

/** Plans the power actions of one plan on ctx (after its strategies) and logs their decisions. */
export function planPower(ctx: PlanContext, input: PowerInput): PowerResult {
  return new PowerPass(ctx, input).run();
}

class PowerPass {
  private readonly a: PowerArgs;
  private readonly info = new Map<string, PowerInfo>();
  private readonly actions: PowerAction[] = [];
  private readonly verdicts = new Map<string, Decision>();
  /** Snapshot VMs per host, any state (defined VMs hold a host too). */
  private readonly listed = new Map<string, number>();
  /** Hosts coming (booting, or switched on by this plan), with the room the VMs waiting for them take. */
  private readonly woken = new Map<string, Room>();
  private readonly switchedOff = new Set<string>();
  /** Hosts booting within their deadline: capacity coming. */
  private readonly booting: HostModel[] = [];
  private ongoing = 0;

  constructor(
    private readonly ctx: PlanContext,
    private readonly input: PowerInput,
  ) {
    for (const h of ctx.model.hosts) this.info.set(h.id, powerInfo(h));
    this.a = powerArgs(ctx.policy, [...this.info.values()].filter((p) => p.switchable).length);
    for (const v of input.snapshot.vms) this.listed.set(v.host, (this.listed.get(v.host) ?? 0) + 1);
    for (const v of input.snapshot.vms) for (const o of v.alsoListedOn ?? []) if (o !== v.host) this.listed.set(o, (this.listed.get(o) ?? 0) + 1);
  }

  run(): PowerResult {
    const { model } = this.ctx;
    for (const h of model.hosts) {
      const p = this.info.get(h.id)!;
      if (p.state === "shutting_down") this.ongoing += 1;
      if (p.state !== "booting") continue;
      if (p.bootDeadline !== null && this.ctx.now > p.bootDeadline) {
        this.log(
          h.id,
          "POWER_BOOT_OVERDUE",
          `host ${h.id} was switched on ${p.since !== null ? `${f1((this.ctx.now - p.since) / 1000)} s ago ` : ""}and its agent has not reported by its deadline (${f1((this.ctx.now - p.bootDeadline) / 1000)} s ago, power_on_deadline ${this.ctx.policy.power_on_deadline} s): reported failed, another host is tried`,
          { overdueSeconds: sec(this.ctx.now - p.bootDeadline), power_on_deadline: this.ctx.policy.power_on_deadline },
        );
        continue;
      }
      this.ongoing += 1;
      if (!h.excluded && !h.maintenance) this.booting.push(h);
      this.verdict(
        h.id,
        "DEST_BOOTING",
        `host ${h.id} is being switched on` + (p.bootDeadline !== null ? `; its agent must report within ${f1((p.bootDeadline - this.ctx.now) / 1000)} s` : ""),
        p.bootDeadline !== null ? { deadlineInSeconds: sec(p.bootDeadline - this.ctx.now) } : {},
      );
    }
    const needs = this.powerOn();
    if (this.input.mode === "cycle") this.powerOff();
    this.rest(needs);
    return { actions: this.actions, verdicts: this.verdicts };
  }

  // ---- switching on -------------------------------------------------------------------------

  /** Returns whether some need arose. */
  private powerOn(): boolean {
    let needed = false;
    if (this.input.mode === "evacuate") {
      const vms = (this.input.evacuationVms ?? []).map((n) => this.ctx.model.vmByName.get(n)).filter((v): v is VmModel => v !== undefined && !v.planned);
      if (vms.length > 0) needed = this.wakeFor("POWER_ON_EVACUATE", vms, "the evacuation") || needed;
      return needed;
    }
    const hot = this.hotspotVms();
    if (hot.vms.length > 0)
      needed = this.wakeFor("POWER_ON_HOTSPOT", hot.vms, `the hot spot${hot.hosts.length > 1 ? "s" : ""} on ${hot.hosts.join(", ")}`) || needed;
    needed = this.wakeForRoom("POWER_ON_RESERVE") || needed;
    if (this.a.predictWindowS > 0) needed = this.wakeForRoom("POWER_ON_DEMAND") || needed;
    return needed;
  }

  /**
   * The VMs of hot spots that hot-spot relief could not place (NO_DESTINATION on a host it left
   * HOTSPOT_UNRESOLVED), as many as bring each host to its targets: the cheapest that suffices
   * alone, else those relieving most first.
   */
  private hotspotVms(): { vms: VmModel[]; hosts: string[] } {
    const { model } = this.ctx;
    const unresolved = new Map<string, Decision>();
    const noDest = new Set<string>();
    for (const d of this.ctx.log.all()) {
      if (d.strategy !== "hotspot") continue;
      if (d.code === "HOTSPOT_UNRESOLVED" && d.kind === "host" && d.vm === undefined) unresolved.set(d.subject, d);
      else if (d.code === "NO_DESTINATION" && d.kind === "vm") noDest.add(d.subject);
    }
    const out: VmModel[] = [];
    const hosts: string[] = [];
    for (const id of [...unresolved.keys()].sort()) {
      const h = model.hostById.get(id);
      if (!h) continue;
      const d = unresolved.get(id)!;
      const loadTarget = typeof d.numbers["load_target"] === "number" ? d.numbers["load_target"] : this.ctx.policy.load_target;
      const memTarget = typeof d.numbers["mem_target"] === "number" ? d.numbers["mem_target"] : this.ctx.policy.mem_target;
      const needCores = Math.max(0, h.usedCores - (loadTarget / 100) * h.capacityCores);
      const needMiB = Math.max(0, h.memUsedMiB - (memTarget / 100) * h.memTotalMiB);
      const vms = h.vms.filter((v) => noDest.has(v.name) && !v.planned).sort(byName);
      if (vms.length === 0 || (needCores <= EPS && needMiB <= EPS)) continue;
      const cheap = (x: VmModel, y: VmModel): number => x.costMiB - y.costMiB || byName(x, y);
      const alone = vms.filter((v) => v.reliefCores >= needCores - EPS && v.memMiB >= needMiB - EPS).sort(cheap);
      let chosen: VmModel[];
      if (alone.length > 0) chosen = [alone[0]!];
      else {
        const covers = (v: VmModel): number => (needCores > EPS ? v.reliefCores / needCores : 0) + (needMiB > EPS ? v.memMiB / needMiB : 0);
        chosen = [];
        let c = 0;
        let m = 0;
        for (const v of [...vms].sort((x, y) => covers(y) - covers(x) || cheap(x, y))) {
          if (c >= needCores - EPS && m >= needMiB - EPS) break;
          chosen.push(v);
          c += v.reliefCores;
          m += v.memMiB;
        }
      }
      out.push(...chosen);
      hosts.push(id);
    }
    return { vms: out, hosts };
  }

  /** Wake hosts for VMs that fit nowhere powered; hosts booting take what they can first. */
  private wakeFor(code: Need, vms: VmModel[], what: string): boolean {
    let rest = vms;
    const coming: string[] = [];
    for (const h of [...this.booting].sort(bySizeAsc)) {
      if (rest.length === 0) break;
      const taken = this.place(h, rest, this.woken.get(h.id) ?? { cores: 0, mib: 0 });
      if (taken.vms.length === 0) continue;
      this.woken.set(h.id, taken.room);
      coming.push(`${h.id} (${names(taken.vms)})`);
      const took = new Set(taken.vms);
      rest = rest.filter((v) => !took.has(v));
    }
    if (rest.length === 0) {
      this.ctx.log.cluster({
        code: "POWER_NOT_NEEDED",
        message: `${what}: the VMs that fit no powered host wait for hosts already booting: ${coming.join("; ")}`,
        numbers: { need: code, vms: vms.length, bootingHosts: coming.length },
      });
      return true;
    }
    while (rest.length > 0) {
      const cands = this.wakeable(code);
      let best: { h: HostModel; vms: VmModel[]; room: Room } | null = null;
      for (const h of cands) {
        const t = this.place(h, rest, { cores: 0, mib: 0 });
        if (t.vms.length === 0) continue;
        if (best === null || t.vms.length > best.vms.length) best = { h, vms: t.vms, room: t.room };
        if (t.vms.length === rest.length) break; // smallest first: the first to take them all is the best fit
      }
      if (best === null) {
        this.noHost(code, `${what}: ${rest.length} VM(s) fit no powered host (${names(rest)}), and no switched-off host can be switched on to take them`, {
          vms: rest.length,
        });
        return true;
      }
      if (this.capped(best.h, code)) return true;
      const all = best.vms.length === rest.length;
      this.act(
        best.h,
        "on",
        code,
        `${what}: ${names(best.vms)} fit no powered host; ${best.h.id} (${f1(best.h.capacityCores)} cores, ${f1(best.h.memTotalMiB)} MiB) takes ${all ? "them" : `${best.vms.length} of ${rest.length}`} (${f1(best.room.cores)} cores, ${f1(best.room.mib)} MiB) once its agent reports`,
        {
          vms: best.vms.length,
          needCores: r2(best.room.cores),
          needMiB: r2(best.room.mib),
          hostCores: r2(best.h.capacityCores),
          hostMemMiB: best.h.memTotalMiB,
        },
        best.vms.map((v) => v.name),
      );
      this.woken.set(best.h.id, best.room);
      const took = new Set(best.vms);
      rest = rest.filter((v) => !took.has(v));
    }
    return true;
  }

  /** Wake hosts until the reserve (or the predicted demand) holds. */
  private wakeForRoom(code: "POWER_ON_RESERVE" | "POWER_ON_DEMAND"): boolean {
    const rise = code === "POWER_ON_DEMAND" ? this.predictedRise() : 0;
    const judge = (ms: readonly Member[]) =>
      code === "POWER_ON_RESERVE" ? reserveVerdict(this.ctx.policy, ms) : demandVerdict(this.ctx.policy, ms, rise, this.a.bootTimeS);
    const withoutComing = judge(this.servingMembers());
    let members = this.members();
    let v = judge(members);
    if (v.holds) {
      if (!withoutComing.holds)
        this.ctx.log.cluster({
          code: "POWER_NOT_NEEDED",
          message: `${code === "POWER_ON_RESERVE" ? "the reserve" : "the predicted demand"} is covered once the hosts switched on report (${this.comingIds().join(", ")}): ${v.text}`,
          numbers: { need: code, ...v.numbers },
        });
      return !withoutComing.holds;
    }
    const what = code === "POWER_ON_RESERVE" ? "the powered hosts no longer keep standby_capacity" : `demand predicted boot_time ${this.a.bootTimeS} s ahead`;
    while (!v.holds) {
      const cands = this.wakeable(code);
      if (cands.length === 0) {
        this.noHost(code, `${what}: ${v.text}; no switched-off host can be switched on`, { need: code, ...v.numbers });
        return true;
      }
      let pick: HostModel | null = null;
      for (const h of cands)
        if (judge([...members, comingMember(this.ctx, h)]).holds) {
          pick = h;
          break;
        }
      // None covers it alone: the largest adds most (cands are smallest first, ties by id).
      if (pick === null) pick = largestOf(cands);
      if (this.capped(pick, code)) return true;
      const after = judge([...members, comingMember(this.ctx, pick)]);
      this.act(
        pick,
        "on",
        code,
        `${what}: ${v.text}; switching ${pick.id} on ${after.holds ? "restores it" : "is the largest step towards it"}: ${after.text}`,
        {
          ...v.numbers,
          holdsAfter: after.holds,
          hostCores: r2(pick.capacityCores),
          hostMemMiB: pick.memTotalMiB,
        },
      );
      this.woken.set(pick.id, { cores: 0, mib: 0 });
      members = this.members();
      v = judge(members);
    }
    return true;
  }

  /**
   * The powered hosts' predicted CPU rise over boot_time, reference cores: the net of their own
   * trends. Falling hosts count against rising ones, as the verdict that uses it weighs the
   * cluster's total demand against its total room; a sum of the rises alone grows with the number
   * of noisy hosts, not with demand (on the PlanetLab replays it woke a host in most steps, each
   * then idle for min_on_time).
   */
  private predictedRise(): number {
    let rise = 0;
    for (const h of this.servingHosts()) {
      const since = h.lastMoveAt ?? -Infinity;
      const pred = predictCpu(
        hostSamples(h.source).filter((x) => x.ts > since),
        this.a.predictWindowS,
        this.a.bootTimeS,
      );
      if (pred === null) continue;
      rise += ((pred - Math.max(0, h.source.cpuPercent)) / 100) * h.capacityCores;
    }
    return Math.max(0, rise);
  }

  /** Switched-off hosts that may be switched on for `code`, smallest first; the others get their reason. */
  private wakeable(code: Need): HostModel[] {
    const out: HostModel[] = [];
    const { now } = this.ctx;
    for (const h of this.ctx.model.hosts) {
      const p = this.info.get(h.id)!;
      if (p.state !== "off" || h.excluded || this.woken.has(h.id)) continue;
      if (!p.switchable) this.log(h.id, "POWER_NO_DRIVER", `host ${h.id} is off and has no power driver: Ballast cannot switch it on`, {});
      else if (p.failed !== null)
        this.log(
          h.id,
          "POWER_HOST_FAILED",
          `host ${h.id} is not switched on automatically: its last power operation failed (${p.failed}); ballast power on clears it`,
          {},
        );
      else if (h.maintenance) this.log(h.id, "POWER_MAINTENANCE", `host ${h.id} is off and in maintenance: it is not switched on to take VMs`, {});
      else if (this.a.maxCycles > 0 && p.cyclesToday >= this.a.maxCycles)
        this.log(
          h.id,
          "POWER_CYCLE_CAP",
          `host ${h.id} was switched on ${p.cyclesToday} time(s) within 24 hours (max_power_cycles_per_day ${this.a.maxCycles}): not cycled again today`,
          { cyclesToday: p.cyclesToday, max_power_cycles_per_day: this.a.maxCycles },
        );
      else if (code === "POWER_ON_DEMAND" && p.since !== null && now - p.since < this.a.minOffMs)
        this.log(
          h.id,
          "POWER_MIN_OFF",
          `host ${h.id} has been off for ${f1((now - p.since) / 1000)} s < min_off_time ${this.ctx.policy.min_off_time} s: not switched on for predicted demand yet`,
          { offSeconds: sec(now - p.since), min_off_time: this.ctx.policy.min_off_time },
        );
      else out.push(h);
    }
    return out.sort(bySizeAsc);
  }

  /** Which of `vms` the empty host `h` would take on its last known capacity, beyond `taken`. */
  private place(h: HostModel, vms: readonly VmModel[], taken: Room): { vms: VmModel[]; room: Room } {
    const room = usableRoom(this.ctx, h);
    const got: VmModel[] = [];
    let cores = taken.cores;
    let mib = taken.mib;
    for (const vm of vms) {
      const c = vm.loadCores;
      const m = vm.memMiB + vm.memGrowthMiB;
      if (cores + c > room.cores + EPS || mib + m > room.mib + EPS) continue;
      if (destinationRefusal(this.ctx.model.compat, vm, h)) continue;
      if (!this.mustRulesAllow(vm, h, got)) continue;
      got.push(vm);
      cores += c;
      mib += m;
    }
    return { vms: got, room: { cores, mib } };
  }

  /** Must rules on an empty host: its only VMs are those placed with `vm`. */
  private mustRulesAllow(vm: VmModel, h: HostModel, with_: readonly VmModel[]): boolean {
    for (const rule of this.ctx.rulesByVm.get(vm.name) ?? []) {
      if (rule.strength !== "must" || !ruleApplies(rule, vm, h.id)) continue;
      const others = rule.vms.filter((n) => n !== vm.name);
      const here = (n: string): boolean => with_.some((v) => v.name === n);
      if (rule.type === "vm-host" && !rule.hosts.includes(h.id)) return false;
      if (rule.type === "vm-not-host" && rule.hosts.includes(h.id)) return false;
      if (rule.type === "anti-affinity" && others.some(here)) return false;
      if (rule.type === "affinity" && others.some((n) => this.ctx.model.vmByName.get(n)?.live === true && !here(n))) return false;
    }
    return true;
  }

  /** Whether max_power_ops keeps `h` from being switched now (then it is logged). */
  private capped(h: HostModel, code: PowerCode): boolean {
    const ops = this.ongoing + this.actions.length;
    if (ops < this.a.maxOps) return false;
    this.log(
      h.id,
      "POWER_OPS_CAP",
      `host ${h.id} would be switched ${code === "POWER_OFF_IDLE" || code === "POWER_OFF_EMPTIED" ? "off" : "on"} (${code}), but ${this.ongoing} host(s) are being switched and ${this.actions.length} planned ≥ max_power_ops ${this.a.maxOps}: it waits`,
      { for: code, ongoing: this.ongoing, planned: this.actions.length, max_power_ops: this.a.maxOps },
    );
    return true;
  }

  private noHost(code: Need, message: string, numbers: Numbers): void {
    this.ctx.log.cluster({ code: "POWER_NO_HOST_TO_WAKE", message, numbers: { need: code, ...numbers } });
  }

  // ---- switching off ------------------------------------------------------------------------

  private powerOff(): void {
    const { model, now } = this.ctx;
    const eligible: HostModel[] = [];
    /** Hosts this plan's consolidation empties, with the seqs of the moves that empty them. */
    const emptiedBy = new Map<string, number[]>();
    const movesFrom = new Map<string, PlannedMove[]>();
    for (const m of this.ctx.moves) movesFrom.set(m.source, [...(movesFrom.get(m.source) ?? []), m]);
    for (const h of model.hosts) {
      const p = this.info.get(h.id)!;
      if (p.state !== "on" || h.excluded) continue;
      const emptying = this.a.offEmptied ? this.emptiedByPlan(h, movesFrom.get(h.id) ?? []) : null;
      if (emptying !== null) emptiedBy.set(h.id, emptying);
      const held = emptying !== null ? 0 : this.holds(h);
      const emptyLooking = h.emptyAtStart || p.emptySince !== null || this.ctx.closing.has(h.id);
      if (held > 0) {
        // Named in the plan where it was (or looked) empty: a VM appeared, or is defined there, or
        // this plan is emptying it; a host running VMs has the verdict for explainHost only.
        const message = `host ${h.id} holds ${held} VM(s) (running or defined, or on their way to it): it stays on`;
        const numbers = { vms: held, ...(p.emptySince !== null ? { emptySince: p.emptySince } : {}) };
        if (emptyLooking) this.log(h.id, "POWER_HOLDS_VMS", message, numbers);
        else this.verdict(h.id, "POWER_HOLDS_VMS", message, numbers);
        continue;
      }
      if (h.collectError !== undefined) {
        this.log(h.id, "POWER_UNSETTLED", `host ${h.id} cannot read its hypervisor (${h.collectError}): whether it is empty is not known, it stays on`, {});
        continue;
      }
      if (!h.fresh) continue; // silent: its verdict is the cluster's POWER_UNSETTLED
      if (!p.switchable) {
        this.log(h.id, "POWER_NO_DRIVER", `host ${h.id} is empty but has no power driver: Ballast cannot switch it off`, {});
        continue;
      }
      if (p.failed !== null) {
        this.log(h.id, "POWER_HOST_FAILED", `host ${h.id} is empty, but its last power operation failed (${p.failed}): left for an operator`, {});
        continue;
      }
      if (h.maintenance && !this.a.offMaintenance) {
        this.log(h.id, "POWER_MAINTENANCE", `host ${h.id} is empty and in maintenance, and power_off_maintenance is off: it is left as it is`, {});
        continue;
      }
      const emptyFor = p.emptySince === null ? 0 : now - p.emptySince;
      if (emptying === null && (p.emptySince === null || emptyFor < this.a.offAfterMs)) {
        this.log(h.id, "POWER_OFF_WAIT", `host ${h.id} has been empty for ${f1(emptyFor / 1000)} s < power_off_after ${this.ctx.policy.power_off_after} s`, {
          emptySeconds: sec(emptyFor),
          power_off_after: this.ctx.policy.power_off_after,
        });
        continue;
      }
      if (p.since !== null && now - p.since < this.a.minOnMs) {
        this.log(h.id, "POWER_MIN_ON", `host ${h.id} has been on for ${f1((now - p.since) / 1000)} s < min_on_time ${this.ctx.policy.min_on_time} s`, {
          onSeconds: sec(now - p.since),
          min_on_time: this.ctx.policy.min_on_time,
        });
        continue;
      }
      eligible.push(h);
    }
    if (eligible.length === 0) return;
    eligible.sort(bySizeAsc);

    const unsettled = this.unsettled();
    if (unsettled !== null) {
      this.ctx.log.cluster({
        code: "POWER_UNSETTLED",
        message: `no host is switched off now: ${unsettled.text} (${eligible.length} host(s) empty long enough: ${eligible.map((h) => h.id).join(", ")})`,
        numbers: { ...unsettled.numbers, candidates: eligible.length },
      });
      for (const h of eligible) this.verdict(h.id, "POWER_UNSETTLED", `host ${h.id} could be switched off, but ${unsettled.text}`, unsettled.numbers);
      return;
    }
    for (const h of eligible) {
      const rule = this.lastInGroup(h);
      if (rule !== null) {
        this.log(h.id, "POWER_LAST_IN_GROUP", `host ${h.id} is the last powered host vm-host rule "${rule}" allows: it stays on`, { rule });
        continue;
      }
      if (this.capped(h, emptiedBy.has(h.id) ? "POWER_OFF_EMPTIED" : "POWER_OFF_IDLE")) continue;
      const members = this.servingMembers().filter((m) => m.id !== h.id);
      const v = reserveVerdict(this.ctx.policy, members);
      if (!v.holds) {
        this.log(h.id, "POWER_KEEP_RESERVE", `host ${h.id} stays on for the reserve: without it, ${v.text}`, v.numbers);
        continue;
      }
      const p = this.info.get(h.id)!;
      const moves = emptiedBy.get(h.id);
      if (moves !== undefined) {
        this.act(
          h,
          "off",
          "POWER_OFF_EMPTIED",
          `host ${h.id} is emptied by this plan (${moves.length} move(s)): it is switched off once they have succeeded and its agent reports it empty (power_off_emptied), and without it ${v.text}`,
          { moves: moves.length, ...v.numbers },
          [],
          moves,
        );
        this.switchedOff.add(h.id);
        continue;
      }
      this.act(
        h,
        "off",
        "POWER_OFF_IDLE",
        `host ${h.id} has held no VM for ${f1((now - p.emptySince!) / 1000)} s ≥ power_off_after ${this.ctx.policy.power_off_after} s, and without it ${v.text}`,
        { emptySeconds: sec(now - p.emptySince!), power_off_after: this.ctx.policy.power_off_after, ...v.numbers },
      );
      this.switchedOff.add(h.id);
    }
  }

  /**
   * The seqs of this plan's consolidation moves that leave the host empty, or null: the host is
   * being emptied (closing), every VM listed there in any state moves away in this plan (a
   * defined VM, which no live migration moves, keeps it), none arrives, and no copy stays.
   */
  private emptiedByPlan(h: HostModel, away: readonly PlannedMove[]): number[] | null {
    if (!this.ctx.closing.has(h.id) || h.vms.length > 0 || h.copies > 0 || h.inFlightIn > 0) return null;
    if (away.length === 0 || away.length !== (this.listed.get(h.id) ?? 0) || away.some((m) => m.strategy !== "consolidate")) return null;
    return away.map((m) => m.seq).sort((a, b) => a - b);
  }

  /**
   * VMs the host holds: listed there in any state (those this plan moves away included), live
   * copies, VMs this plan moves to it (in h.vms), and migrations in flight to it.
   */
  private holds(h: HostModel): number {
    return Math.max(this.listed.get(h.id) ?? 0, h.vms.length + h.copies) + h.inFlightIn;
  }

  private unsettled(): { text: string; numbers: Numbers } | null {
    const { model } = this.ctx;
    const parts: string[] = [];
    const numbers: Numbers = {};
    if (model.inFlightTotal > 0) {
      parts.push(`${model.inFlightTotal} migration(s) in flight`);
      numbers["inFlight"] = model.inFlightTotal;
    }
    const silent = model.hosts.filter((h) => !h.dormant && !h.fresh && !h.excluded).map((h) => h.id);
    if (silent.length > 0) {
      parts.push(`${silent.length} powered host(s) silent (${silent.slice(0, 5).join(", ")})`);
      numbers["silentHosts"] = silent.length;
    }
    const switching = model.hosts.filter((h) => h.power === "booting" || h.power === "shutting_down").map((h) => h.id);
    if (switching.length > 0) {
      parts.push(`${switching.length} host(s) booting or shutting down (${switching.slice(0, 5).join(", ")})`);
      numbers["switchingHosts"] = switching.length;
    }
    const on = this.actions.filter((x) => x.action === "on").map((x) => x.host);
    if (on.length > 0) {
      parts.push(`this plan switches ${on.join(", ")} on`);
      numbers["switchingOn"] = on.length;
    }
    return parts.length === 0 ? null : { text: parts.join(", "), numbers };
  }

  /** The vm-host rule (of VMs in the cluster) for which `h` is the last powered allowed host, or null. */
  private lastInGroup(h: HostModel): string | null {
    const { model } = this.ctx;
    for (const rule of this.ctx.policy.rules) {
      if (rule.type !== "vm-host" || !rule.hosts.includes(h.id)) continue;
      if (!rule.vms.some((n) => model.vmByName.has(n))) continue;
      const powered = rule.hosts.filter((id) => {
        const x = model.hostById.get(id);
        return x !== undefined && !x.dormant && !this.switchedOff.has(id);
      });
      if (powered.length <= 1) return rule.name;
    }
    return null;
  }

  // ---- shared -------------------------------------------------------------------------------

  /** Powered hosts that take VMs: fresh, not excluded, not in maintenance, readable, not switched off here. */
  private servingHosts(): HostModel[] {
    return this.ctx.model.hosts.filter((h) => h.fresh && !h.excluded && !h.maintenance && h.collectError === undefined && !this.switchedOff.has(h.id));
  }

  private servingMembers(): Member[] {
    return this.servingHosts().map((h) => poweredMember(this.ctx, h));
  }

  /** Serving hosts, plus hosts booting and woken by this plan (empty but for the VMs that wait for them). */
  private members(): Member[] {
    const out = this.servingMembers();
    for (const id of this.comingIds()) out.push(comingMember(this.ctx, this.ctx.model.hostById.get(id)!, this.woken.get(id)));
    return out;
  }

  private comingIds(): string[] {
    return [...new Set([...this.booting.map((h) => h.id), ...this.woken.keys()])].sort();
  }

  private act(h: HostModel, action: "on" | "off", code: PowerCode, reason: string, numbers: Numbers, forVms: string[] = [], afterMoves: number[] = []): void {
    const a: PowerAction = { seq: this.actions.length, host: h.id, action, code, reason, numbers, forVms, afterMoves };
    this.actions.push(a);
    this.log(h.id, code, reason, { ...numbers, ...(forVms.length > 0 ? { forVms: forVms.join(",") } : {}) });
  }

  /** Logs a host decision in the plan and keeps it as the host's verdict (the first one stays). */
  private log(host: string, code: DecisionCode, message: string, numbers: Numbers): void {
    this.ctx.log.host(host, { code, message, numbers });
    this.verdict(host, code, message, numbers);
  }

  /** Keeps a host's verdict without logging it (explainHost reads it). */
  private verdict(host: string, code: DecisionCode, message: string, numbers: Numbers): void {
    if (!this.verdicts.has(host)) this.verdicts.set(host, { kind: "host", subject: host, code, message, numbers });
  }

  /** Verdicts for the hosts nothing above judged, and the cluster verdict when nothing was needed. */
  private rest(needed: boolean): void {
    const { model } = this.ctx;
    for (const h of model.hosts) {
      if (this.verdicts.has(h.id)) continue;
      const p = this.info.get(h.id)!;
      if (h.excluded) this.verdict(h.id, "DEST_EXCLUDED", `host ${h.id} is in excluded_hosts: power management leaves it alone`, {});
      else if (p.state === "off")
        this.verdict(
          h.id,
          "POWER_NOT_NEEDED",
          needed
            ? `host ${h.id} stays off: another host covers the need`
            : `host ${h.id} stays off: the powered hosts keep the reserve and no demand is predicted`,
          {},
        );
      else if (p.state === "shutting_down") this.verdict(h.id, "DEST_POWERED_OFF", `host ${h.id} is shutting down`, {});
      else if (p.state === "unknown")
        this.verdict(
          h.id,
          p.failed !== null ? "POWER_HOST_FAILED" : "POWER_UNSETTLED",
          `host ${h.id}'s power state is unknown${p.failed !== null ? `: ${p.failed}` : " (no driver answer yet)"}`,
          {},
        );
      else if (!h.fresh) this.verdict(h.id, "POWER_UNSETTLED", `host ${h.id} is silent: it is not switched while its agent does not report`, {});
    }
    if (!needed && this.input.mode === "cycle") {
      const v = reserveVerdict(this.ctx.policy, this.members());
      this.ctx.log.cluster({
        code: "POWER_NOT_NEEDED",
        message: `no host is switched on: ${v.text}${this.a.predictWindowS > 0 ? `, and no demand is predicted over boot_time ${this.a.bootTimeS} s` : ""}`,
        numbers: v.numbers,
      });
    }
  }
}

function names(vms: readonly VmModel[]): string {
  return vms.length <= 5
    ? vms.map((v) => v.name).join(", ")
    : `${vms
        .slice(0, 5)
        .map((v) => v.name)
        .join(", ")} and ${vms.length - 5} more`;
}

/** The largest host (CPU, then memory), ties by the smaller id. */
function largestOf(hs: readonly HostModel[]): HostModel {
  let best = hs[0]!;
  for (const h of hs) if (h.capacityCores > best.capacityCores || (h.capacityCores === best.capacityCores && h.memTotalMiB > best.memTotalMiB)) best = h;
  return best;
}
