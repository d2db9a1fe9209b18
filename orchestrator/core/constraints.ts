import type { PlacementRule } from "../../shared/config/policy.js";
import type { DecisionCode } from "../../shared/schemas/decision-codes.js";
import type { HostModel, VmModel } from "./cluster-model.js";
import { destinationRefusal, localDisksFor, refusalNumbers } from "./compatibility.js";
import type { PlanContext } from "./context.js";
import type { Rejection } from "./explain.js";
import { f1, r2 } from "./format.js";
import { widened } from "./headroom.js";
import { cooldownOf } from "./vm-history.js";

// The ONE place where limits are enforced (descheduler's evictor). Strategies propose; these
// functions say yes, or no with a code and the numbers. Nothing else in the core re-checks a limit,
// and the shell's last check before a migration starts uses the same memory formula
// (exceedsPhysicalMemory).
//
// checkVm:          VM_EXCLUDED VM_PINNED VM_NOT_RUNNING VM_PINGPONG VM_FROZEN VM_MIGRATING
//                   VM_LISTED_TWICE VM_PLANNED SOURCE_EXCLUDED SOURCE_SILENT VM_COOLDOWN
//                   VM_NOT_MIGRATABLE VM_LOCAL_DISKS VM_FACTS_UNKNOWN (checkFacts), then
//                   checkCaps' codes
// checkCaps:        MOVES_PER_CYCLE (checkMoveCap) TOTAL_CONCURRENCY SOURCE_CONCURRENCY
// checkSource:      SOURCE_SENDING SOURCE_SETTLING
// checkDestination: DEST_IS_SOURCE DEST_EXCLUDED DEST_POWERED_OFF DEST_BOOTING DEST_SILENT
//                   DEST_UNHEALTHY DEST_MAINTENANCE
//                   DEST_CLOSING DEST_NO_ADDRESS DEST_EMPTY DEST_SETTLING DEST_PINGPONG
//                   DEST_CONCURRENCY DEST_TOO_MANY_VMS, then the facts (compatibility.ts):
//                   DEST_FACTS_UNKNOWN DEST_DOMAIN_TYPE DEST_CPU_INCOMPATIBLE DEST_MACHINE_MISSING
//                   DEST_VERSION_OLDER DEST_NETWORK_MISSING DEST_STORAGE_MISSING DEST_HUGEPAGES
//                   DEST_PINNING DEST_PAIR_INCOMPATIBLE, then RULE_MUST DEST_MEM DEST_CPU
// (DEST_UNKNOWN, for a destination not in the snapshot, is the manual strategy's: there is no host
// to check.) Each function checks in the order listed; the first failing check is the answer.
// Should rules never reject: a feasible destination reports the should rules it would break.
//
// Which caps are the plan's (ctx.caps, the automatic modes) and which only the dispatcher's:
// - max_moves_per_cycle is the policy's cap on one cycle's work: every automatic strategy stops at
//   it. Consolidation checks it before it starts emptying a host, and an emptying once started is
//   planned whole, past the cap (consolidate.ts says why).
// - The concurrency caps (max_concurrent_total, _per_source, _per_destination) limit migrations
//   RUNNING at once: the dispatcher enforces them and queues the rest. Hot-spot relief and
//   balancing still count them in the plan, with the migrations in flight (checkCaps,
//   DEST_CONCURRENCY): each of their moves is chosen on loads measured now, and a move that could
//   not start now is better chosen next cycle, on samples that show what the moves before it did
//   (a VM measured on a saturated host under-reports what it needs). Consolidation does not count
//   them: its unit is a whole host, all of whose moves the model proved together, and cutting it
//   at a dispatch limit moved VMs and saved nothing until a later cycle.

export interface DestOptions {
  /** Projected CPU must stay strictly under this, percent (max_load_candidate, consolidate_load). */
  cpuLimit: number;
  /** Projected memory must not exceed this, percent (max_mem_candidate). */
  memLimit: number;
  /** Hosts empty at the start may receive VMs (evacuation's use-empty flag; true elsewhere but consolidation). */
  allowEmpty: boolean;
  /** Apply the per-cycle caps (destination concurrency). */
  caps: boolean;
}

export type DestVerdict = { ok: true; brokenShould: string[]; cpuAfter: number; memAfter: number; keyAfter: number } | { ok: false; rejection: Rejection };

const NO_NUMBERS: Rejection["numbers"] = Object.freeze({}) as Rejection["numbers"];
const reject = (code: DecisionCode, message: string, numbers: Rejection["numbers"] = {}): Rejection => ({ code, message, numbers });

/**
 * VM-level checks: may this VM move at all now? `caps` adds the per-cycle caps; `cooldown` false
 * skips VM_COOLDOWN (consolidation's emptyings: consolidate.ts says why).
 */
export function checkVm(ctx: PlanContext, vm: VmModel, caps = ctx.caps, cooldown = true): Rejection | null {
  const { model, policy, now } = ctx;
  const n = vm.name;
  if (ctx.excludedVms.has(n)) return reject("VM_EXCLUDED", `${n} is in excluded_vms`);
  if (ctx.pinned.has(n)) return reject("VM_PINNED", `${n} is pinned (pinned_vms)`);
  if (!vm.live) return reject("VM_NOT_RUNNING", `${n} is ${vm.state}, only running or paused VMs are live-migrated`, { state: vm.state });
  if (ctx.pingpong.has(n))
    return reject("VM_PINGPONG", `${n} moved back and forth within ${policy.pingpong_window} s and is frozen`, { pingpong_window: policy.pingpong_window });
  if (ctx.frozen.has(n)) return reject("VM_FROZEN", `${n} is frozen after ping-pong until an operator releases it`);
  if (vm.inFlightTo !== null) return reject("VM_MIGRATING", `${n} is already migrating to ${vm.inFlightTo}`, { destination: vm.inFlightTo });
  // After VM_MIGRATING: a migration the orchestrator tracks is listed by both its ends until it
  // ends, and is explained by VM_MIGRATING alone. Listed twice without one, the VM may run (or be
  // about to run) on either host: moving it from one could lose the other.
  if (vm.alsoListedOn.length > 0)
    return reject(
      "VM_LISTED_TWICE",
      `${n} is listed running or paused by ${[vm.host, ...vm.alsoListedOn].join(" and ")} (a migration Ballast does not track, or split brain): not moved until one host lists it`,
      { host: vm.host, alsoListedOn: vm.alsoListedOn.join(","), hosts: 1 + vm.alsoListedOn.length },
    );
  if (vm.planned) return reject("VM_PLANNED", `${n} already moves earlier in this plan`);
  const src = model.hostById.get(vm.host)!;
  if (src.excluded) return reject("SOURCE_EXCLUDED", `${n} runs on ${src.id}, which is in excluded_hosts`, { host: src.id });
  if (!src.fresh)
    return reject("SOURCE_SILENT", `${n} runs on ${src.id}, silent for ${f1((now - src.lastSeen) / 1000)} s > stale_after ${policy.stale_after} s`, {
      host: src.id,
      silentSeconds: r2((now - src.lastSeen) / 1000),
      stale_after: policy.stale_after,
    });
  if (!ctx.operator && cooldown) {
    const cd = cooldownOf(model.historyByVm.get(n), policy, now);
    if (cd.remainingMs > 0)
      return reject("VM_COOLDOWN", `${n} moved ${cd.recentMoves} time(s) recently; cooldown ${cd.cooldownSeconds} s, ${f1(cd.remainingMs / 1000)} s left`, {
        recentMoves: cd.recentMoves,
        cooldownSeconds: cd.cooldownSeconds,
        remainingSeconds: r2(cd.remainingMs / 1000),
        vm_cooldown: policy.vm_cooldown,
        vm_cooldown_max: policy.vm_cooldown_max,
      });
  }
  const facts = checkFacts(ctx, vm);
  if (facts) return facts;
  return caps ? checkCaps(ctx, vm) : null;
}

/** What the facts say of the VM whatever the destination (null: nothing against it, or no facts at all). */
export function checkFacts(ctx: PlanContext, vm: VmModel): Rejection | null {
  const c = vm.compat;
  if (c === null) return null;
  const n = vm.name;
  if (c.req === null)
    return reject("VM_FACTS_UNKNOWN", `${n}: its host ${vm.origHost} publishes migratability facts, but none for ${n} yet; not moved until they arrive`, {
      host: vm.origHost,
    });
  if (c.unmigratable !== null) return reject("VM_NOT_MIGRATABLE", `${n} is not migratable: ${c.unmigratable}`, { reasons: c.reasonCodes });
  if (c.localDisks > 0 && localDisksFor(ctx.policy, n) === "skip")
    return reject(
      "VM_LOCAL_DISKS",
      `${n} has ${c.localDisks} local disk(s) (${c.localDiskList}, ${f1(c.localDiskMiB)} MiB) and local_disks is skip${ctx.policy.local_disks_vms[n] !== undefined ? " for it (local_disks_vms)" : ""}`,
      { localDisks: c.localDisks, localDiskMiB: r2(c.localDiskMiB) },
    );
  return null;
}

/** The cap on moves per plan: once reached, no further move can be planned this cycle. */
export function checkMoveCap(ctx: PlanContext): Rejection | null {
  const { model, policy } = ctx;
  if (model.plannedTotal < policy.max_moves_per_cycle) return null;
  return reject("MOVES_PER_CYCLE", `${model.plannedTotal} moves already planned this cycle (max_moves_per_cycle ${policy.max_moves_per_cycle})`, {
    planned: model.plannedTotal,
    max_moves_per_cycle: policy.max_moves_per_cycle,
  });
}

/** The per-cycle caps, counting migrations already in flight. */
export function checkCaps(ctx: PlanContext, vm: VmModel): Rejection | null {
  const { model, policy } = ctx;
  const moves = checkMoveCap(ctx);
  if (moves) return moves;
  const total = model.inFlightTotal + model.plannedTotal;
  if (total >= policy.max_concurrent_total)
    return reject(
      "TOTAL_CONCURRENCY",
      `${model.inFlightTotal} in flight + ${model.plannedTotal} planned = ${total} ≥ max_concurrent_total ${policy.max_concurrent_total}`,
      {
        inFlight: model.inFlightTotal,
        planned: model.plannedTotal,
        max_concurrent_total: policy.max_concurrent_total,
      },
    );
  const src = model.hostById.get(vm.host)!;
  const out = src.inFlightOut + src.plannedOut;
  if (out >= policy.max_concurrent_per_source)
    return reject(
      "SOURCE_CONCURRENCY",
      `${src.id} already sends ${src.inFlightOut} in flight + ${src.plannedOut} planned ≥ max_concurrent_per_source ${policy.max_concurrent_per_source}`,
      {
        host: src.id,
        inFlight: src.inFlightOut,
        planned: src.plannedOut,
        max_concurrent_per_source: policy.max_concurrent_per_source,
      },
    );
  return null;
}

/**
 * May load be shed from the overloaded host `h` now? Only while its samples show what a move will
 * change: not while it still sends VMs, nor right after a migration. Operator modes skip it, as
 * they skip settle times everywhere.
 */
export function checkSource(ctx: PlanContext, h: HostModel): Rejection | null {
  if (ctx.operator) return null;
  const { model, policy, now } = ctx;
  // A source already sending VMs still carries their load until they land: shedding more now
  // would over-correct (oVirt skips such hosts too). Its next samples after the move decide.
  if (h.inFlightOut > 0)
    return reject("SOURCE_SENDING", `host ${h.id} is over its threshold but already sends ${h.inFlightOut} VM(s); waiting for their effect`, {
      inFlightOut: h.inFlightOut,
      cpuPercent: r2(model.cpuLoad(h)),
      memPercent: r2(model.memLoad(h)),
    });
  // A source that just sent or received a VM still shows the old load in its samples: let it settle.
  if (h.lastMoveAt !== null && now - h.lastMoveAt < policy.host_settle * 1000)
    return reject(
      "SOURCE_SETTLING",
      `host ${h.id} took part in a migration ${f1((now - h.lastMoveAt) / 1000)} s ago < host_settle ${policy.host_settle} s; its samples may predate it`,
      { sinceSeconds: r2((now - h.lastMoveAt) / 1000), host_settle: policy.host_settle },
    );
  return null;
}

/**
 * Whether `addMiB` more on a host using `usedMiB` of `totalMiB` would eat into the `reserveMiB`
 * kept for the hypervisor itself. The planner asks it of the working copy (used memory plus
 * reservations); the dispatcher asks it right before a migration starts, with what the host reports
 * then and the migrations already on their way to it.
 */
export function exceedsPhysicalMemory(usedMiB: number, addMiB: number, totalMiB: number, reserveMiB: number): boolean {
  return usedMiB + addMiB > totalMiB - reserveMiB;
}

/** May `vm` go to `h`? Checks in a fixed order; the first failing check is the answer. */
export function checkDestination(ctx: PlanContext, vm: VmModel, h: HostModel, o: DestOptions, detail = true): DestVerdict {
  const { model, policy, now } = ctx;
  // Messages are built only when asked for: a search over 10,000 hosts keeps a few in full.
  const no = (code: DecisionCode, build: () => Rejection): DestVerdict => ({
    ok: false,
    rejection: detail ? build() : { code, message: code, numbers: NO_NUMBERS },
  });
  const id = h.id;
  if (vm.host === id) return no("DEST_IS_SOURCE", () => reject("DEST_IS_SOURCE", `${vm.name} already runs on ${id}`));
  if (h.excluded) return no("DEST_EXCLUDED", () => reject("DEST_EXCLUDED", `host ${id} is in excluded_hosts`));
  // Before DEST_SILENT: a host switched off or booting is silent on purpose, and says so.
  if (h.dormant) return no(h.power === "booting" ? "DEST_BOOTING" : "DEST_POWERED_OFF", () => dormantRejection(ctx, h));
  if (!h.fresh)
    return no("DEST_SILENT", () =>
      reject("DEST_SILENT", `host ${id} silent for ${f1((now - h.lastSeen) / 1000)} s > stale_after ${policy.stale_after} s`, {
        silentSeconds: r2((now - h.lastSeen) / 1000),
        stale_after: policy.stale_after,
      }),
    );
  if (h.collectError !== undefined) return no("DEST_UNHEALTHY", () => reject("DEST_UNHEALTHY", `host ${id} cannot read its hypervisor: ${h.collectError}`));
  if (h.maintenance) return no("DEST_MAINTENANCE", () => reject("DEST_MAINTENANCE", `host ${id} is in maintenance (closed to new VMs)`));
  if (ctx.closing.has(id)) return no("DEST_CLOSING", () => reject("DEST_CLOSING", `host ${id} is being emptied by this plan`));
  if (h.address === undefined || h.address === "")
    return no("DEST_NO_ADDRESS", () => reject("DEST_NO_ADDRESS", `host ${id} has no migration address (host_mapping)`));
  if (!o.allowEmpty && h.emptyAtStart) return no("DEST_EMPTY", () => reject("DEST_EMPTY", `host ${id} is empty and empty hosts are not used here`));
  const since = h.lastMoveAt === null ? Infinity : now - h.lastMoveAt;
  if (!ctx.operator && since < policy.host_settle * 1000)
    return no("DEST_SETTLING", () =>
      reject("DEST_SETTLING", `host ${id} took part in a migration ${f1(since / 1000)} s ago < host_settle ${policy.host_settle} s`, {
        sinceSeconds: r2(since / 1000),
        host_settle: policy.host_settle,
      }),
    );
  // Going back where it came from within pingpong_window would complete an A→B→A, which the next
  // cycle freezes: refuse it here instead. Operator moves do not count towards a ping-pong.
  const back = vm.arrival;
  if (!ctx.operator && back !== null && back.source === id && vm.host === back.destination)
    return no("DEST_PINGPONG", () =>
      reject(
        "DEST_PINGPONG",
        `${vm.name} came from ${id} to ${back.destination} ${f1((now - back.finishedAt) / 1000)} s ago; moving it back within pingpong_window ${policy.pingpong_window} s would be a ping-pong`,
        {
          from: id,
          to: back.destination,
          arrivedAt: back.finishedAt,
          sinceSeconds: r2((now - back.finishedAt) / 1000),
          pingpong_window: policy.pingpong_window,
        },
      ),
    );
  if (o.caps) {
    const inc = h.inFlightIn + h.plannedIn;
    if (inc >= policy.max_concurrent_per_destination)
      return no("DEST_CONCURRENCY", () =>
        reject(
          "DEST_CONCURRENCY",
          `host ${id} already receives ${h.inFlightIn} in flight + ${h.plannedIn} planned ≥ max_concurrent_per_destination ${policy.max_concurrent_per_destination}`,
          {
            inFlight: h.inFlightIn,
            planned: h.plannedIn,
            max_concurrent_per_destination: policy.max_concurrent_per_destination,
          },
        ),
      );
  }
  if (h.vmCount >= policy.max_vm_per_host)
    return no("DEST_TOO_MANY_VMS", () =>
      reject("DEST_TOO_MANY_VMS", `host ${id} has ${h.vmCount} VMs, max_vm_per_host ${policy.max_vm_per_host}`, {
        vms: h.vmCount,
        max_vm_per_host: policy.max_vm_per_host,
      }),
    );

  // What libvirt would refuse (compatibility.ts): one cached verdict per class, then per-host facts.
  const compat = destinationRefusal(model.compat, vm, h);
  if (compat)
    return {
      ok: false,
      rejection: detail
        ? reject(compat.code, compat.message(id, vm.name), refusalNumbers(compat))
        : { code: compat.code, message: compat.code, numbers: refusalNumbers(compat) },
    };

  const brokenShould: string[] = [];
  const rules = ctx.rulesByVm.get(vm.name);
  if (rules) {
    for (const rule of rules) {
      if (!ruleApplies(rule, vm, id)) continue;
      if (!ruleHolds(ctx, rule, vm, id)) {
        if (rule.strength === "must")
          return no("RULE_MUST", () =>
            reject("RULE_MUST", `placing ${vm.name} on ${id} breaks must rule "${rule.name}" (${rule.type})`, { rule: rule.name, type: rule.type }),
          );
        brokenShould.push(rule.name);
      }
    }
  }

  // Memory is judged while the moves run: VMs this plan sends away still hold theirs (memLeavingMiB).
  const memPeak = model.memLoadDuringMoves(h, vm.memMiB);
  const memNow = model.memLoadDuringMoves(h);
  const memCap = policy.mem_overcommit * h.memTotalMiB - policy.mem_reserve_mib;
  if (memPeak > o.memLimit)
    return no("DEST_MEM", () =>
      reject(
        "DEST_MEM",
        `host ${id} memory ${f1(memNow)} % + ${f1(memPeak - memNow)} % = ${f1(memPeak)} % > ${f1(o.memLimit)} %` +
          (h.memLeavingMiB > 0 ? ` (incl. ${f1(h.memLeavingMiB)} MiB of VMs still leaving it)` : ""),
        {
          memPercent: r2(memNow),
          vmMemPercent: r2(memPeak - memNow),
          projectedMemPercent: r2(memPeak),
          limitPercent: o.memLimit,
          ...(h.memLeavingMiB > 0 ? { leavingMemMiB: r2(h.memLeavingMiB) } : {}),
        },
      ),
    );
  if (h.committedMiB + vm.memMiB > memCap)
    return no("DEST_MEM", () =>
      reject(
        "DEST_MEM",
        `host ${id} committed VM memory ${f1(h.committedMiB)} + ${f1(vm.memMiB)} MiB > ${f1(memCap)} MiB (mem_overcommit ${policy.mem_overcommit} × ${f1(h.memTotalMiB)} − reserve ${policy.mem_reserve_mib})`,
        {
          committedMiB: r2(h.committedMiB),
          vmMemMiB: r2(vm.memMiB),
          limitMiB: r2(memCap),
        },
      ),
    );
  // The hard limit: physical memory less the reserve must hold even if the VM and those already
  // there grow back to their peaks (memGrowthMiB) while the moves run.
  const growth = h.memGrowthMiB + vm.memGrowthMiB;
  if (exceedsPhysicalMemory(h.memUsedMiB + h.memLeavingMiB + h.memGrowthMiB, vm.memMiB + vm.memGrowthMiB, h.memTotalMiB, policy.mem_reserve_mib))
    return no("DEST_MEM", () =>
      reject(
        "DEST_MEM",
        `host ${id} memory used ${f1(h.memUsedMiB + h.memLeavingMiB)} + ${f1(vm.memMiB)} MiB` +
          (growth > 0 ? ` + ${f1(growth)} MiB of growth back to recent peaks` : "") +
          ` > ${f1(h.memTotalMiB)} − reserve ${policy.mem_reserve_mib} MiB`,
        {
          memUsedMiB: r2(h.memUsedMiB + h.memLeavingMiB),
          vmMemMiB: r2(vm.memMiB),
          ...(growth > 0 ? { growthMiB: r2(growth) } : {}),
          limitMiB: r2(h.memTotalMiB - policy.mem_reserve_mib),
        },
      ),
    );

  const cpuNow = model.cpuLoad(h);
  // The destination's predicted rise counts too (0 without prediction or on a falling trend).
  const cpuAfter = model.cpuLoad(h, vm.loadCores + h.trendCores);
  // A host burstier than the cluster keeps the wider headroom its own swing needs.
  const cpuLimit = widened(o.cpuLimit, ctx.headroomScale.get(id));
  if (cpuAfter >= cpuLimit) {
    const assumed = vm.cpuAssumed ? ` (CPU of ${vm.name} not measured: ${vm.vcpus} vCPUs counted as busy)` : "";
    const rise = model.cpuLoad(h, h.trendCores) - cpuNow;
    const trend = rise > 0 ? ` (incl. a predicted rise of ${f1(rise)} % in ${policy.predict_ahead} s)` : "";
    return no("DEST_CPU", () =>
      reject("DEST_CPU", `host ${id} ${f1(cpuNow)} % + ${f1(cpuAfter - cpuNow)} % = ${f1(cpuAfter)} % ≥ ${f1(cpuLimit)} %${trend}${assumed}`, {
        cpuPercent: r2(cpuNow),
        vmCpuPercent: r2(cpuAfter - cpuNow - rise),
        predictedRisePercent: r2(rise),
        projectedCpuPercent: r2(cpuAfter),
        limitPercent: r2(cpuLimit),
        cpuAssumed: vm.cpuAssumed,
      }),
    );
  }
  return { ok: true, brokenShould, cpuAfter, memAfter: model.memLoad(h, vm.memMiB), keyAfter: model.weighted(h, vm.loadCores, vm.memMiB) };
}

/** Why a host that is off, shutting down or booting takes no VM. */
function dormantRejection(ctx: PlanContext, h: HostModel): Rejection {
  const since = h.source.power?.since ?? null;
  const numbers = { powerState: h.power, ...(since !== null ? { sinceSeconds: r2((ctx.now - since) / 1000) } : {}) };
  if (h.power === "booting") return reject("DEST_BOOTING", `host ${h.id} is being switched on and its agent has not reported yet: moves to it wait`, numbers);
  return reject("DEST_POWERED_OFF", `host ${h.id} is ${h.power === "off" ? "switched off" : "shutting down"} (power management)`, numbers);
}

/** Whether the rule's filters make it relevant to moving `vm` (from where it is now) onto `dest`. */
export function ruleApplies(rule: PlacementRule, vm: { host: string }, dest: string): boolean {
  if (rule.source_hosts && !rule.source_hosts.includes(vm.host)) return false;
  if (rule.target_hosts && !rule.target_hosts.includes(dest)) return false;
  return true;
}

/** Whether `vm` on `dest` satisfies the rule, given where the other VMs are (in-flight counts at both ends). */
export function ruleHolds(ctx: PlanContext, rule: PlacementRule, vm: VmModel, dest: string): boolean {
  switch (rule.type) {
    case "vm-host":
      return rule.hosts.includes(dest);
    case "vm-not-host":
      return !rule.hosts.includes(dest);
    case "anti-affinity":
      for (const other of rule.vms) {
        if (other === vm.name) continue;
        const o = ctx.model.vmByName.get(other);
        if (o && o.live && (o.host === dest || o.inFlightTo === dest)) return false;
      }
      return true;
    case "affinity":
      for (const other of rule.vms) {
        if (other === vm.name) continue;
        const o = ctx.model.vmByName.get(other);
        if (o && o.live && o.host !== dest && o.inFlightTo !== dest) return false;
      }
      return true;
  }
}
