// Evacuation (maintenance drain; vmca's `clean HOST`).
// Trigger: operator request (plan mode "evacuate", or preflightEvacuation for "can it drain now?").
// Goal:    move every live VM off the host, largest first; "stripe" spreads them to the least loaded
//          hosts, "pack" fills the most loaded hosts that still fit. Hosts empty at the start are
//          used only with useEmptyHosts. The host counts as maintenance (closed to new VMs).
// Stop:    every VM placed, or the VMs that cannot be placed are reported, each with its reason
//          and the rejections of the best hosts (the others are still placed).
// Result:  the blockers, every decision that keeps the host from draining now (preflightEvacuation),
//          and EVACUATE_INCOMPLETE counting them as operators do: the VMs that cannot leave and the
//          conditions of the host, not the rejections listed under each VM.
// Operator mode: cooldowns, settle times and per-cycle caps do not apply (the dispatcher queues the
// moves under the concurrency limits); capacity, rules, pins, exclusions and freezes do.

import type { Policy } from "../../../shared/config/policy.js";
import { checkVm } from "../constraints.js";
import type { PlanContext } from "../context.js";
import { RejectionTally, type Rejection } from "../explain.js";
import { f1, r2 } from "../format.js";
import type { Decision, PlanRequest } from "../../../shared/schemas/plan.js";
import { findDestination } from "../placement.js";
import { byName, commitMove, type Strategy, type StrategyResult } from "./strategy.js";

export interface EvacuateArgs {
  host: string;
  placement: "stripe" | "pack";
  useEmptyHosts: boolean;
  cpuLimit: number;
  memLimit: number;
}

export const evacuate: Strategy<EvacuateArgs> = {
  name: "evacuate",
  defaults(p: Policy, request?: PlanRequest): EvacuateArgs {
    const r = request?.mode === "evacuate" ? request : undefined;
    return {
      host: r ? r.host : "",
      // An offline caller may pass the request unparsed, without the schema's defaults.
      placement: r?.placement ?? "stripe",
      useEmptyHosts: r?.useEmptyHosts ?? false,
      cpuLimit: p.max_load_candidate,
      memLimit: p.max_mem_candidate,
    };
  },
  validate(a) {
    const e: string[] = [];
    if (a.host === "") e.push("evacuate needs a host");
    if (a.placement !== "stripe" && a.placement !== "pack") e.push(`placement must be stripe or pack, not ${String(a.placement)}`);
    return e;
  },
  run: drain,
};

function drain(ctx: PlanContext, a: EvacuateArgs): StrategyResult {
  const { model } = ctx;
  const blockers: Decision[] = [];
  const block = (d: Decision): void => {
    blockers.push(d);
    ctx.log.add(d);
  };
  const h = model.hostById.get(a.host);
  if (!h) {
    block({ kind: "host", subject: a.host, code: "HOST_UNKNOWN", message: `host ${a.host} is not in the snapshot`, numbers: {}, strategy: "evacuate" });
    return { blockers };
  }
  h.maintenance = true;
  ctx.closing.add(h.id);
  if (h.inFlightIn > 0)
    block({
      kind: "host",
      subject: h.id,
      code: "HOST_RECEIVING",
      message: `host ${h.id} still receives ${h.inFlightIn} migration(s) in flight`,
      numbers: { inFlightIn: h.inFlightIn },
      strategy: "evacuate",
    });
  const live = [...h.vms].sort((x, y) => y.memMiB - x.memMiB || y.loadCores - x.loadCores || byName(x, y));
  const opts = { cpuLimit: a.cpuLimit, memLimit: a.memLimit, allowEmpty: a.useEmptyHosts, caps: false };
  for (const vm of live) {
    const r = checkVm(ctx, vm, false);
    if (r) {
      const d: Decision = { kind: "vm", subject: vm.name, code: r.code, message: r.message, numbers: r.numbers, strategy: "evacuate" };
      if (r.code === "VM_MIGRATING" && vm.inFlightTo !== null)
        ctx.log.add(d); // already leaving
      else block(d);
      continue;
    }
    const tally = new RejectionTally();
    const p = findDestination(ctx, vm, opts, a.placement === "pack" ? "pack" : "spread", tally);
    if (!p) {
      blockers.push(...tally.flush(ctx.log, vm.name, model.hosts.length, "evacuate", `cannot evacuate ${vm.name} from ${h.id}: no destination`));
      continue;
    }
    const cpuBefore = model.cpuLoad(p.host);
    commitMove(
      ctx,
      vm,
      p,
      "evacuate",
      "EVACUATE",
      `evacuating ${h.id} (${a.placement}${a.useEmptyHosts ? ", empty hosts allowed" : ""}): ${vm.name} → ${p.host.id}, CPU ${f1(cpuBefore)} % → ${f1(p.cpuAfter)} %, memory → ${f1(p.memAfter)} %` +
        (p.brokenShould.length > 0 ? `; breaks should rule(s) ${p.brokenShould.join(", ")} because nothing else fits` : ""),
      {
        placement: a.placement,
        useEmptyHosts: a.useEmptyHosts,
        destCpuBefore: r2(cpuBefore),
        destCpuAfter: r2(p.cpuAfter),
        destMemAfter: r2(p.memAfter),
        cpuAssumed: vm.cpuAssumed,
      },
    );
  }
  // VMs that are not live (shut off, crashed, saved) hold no resources and do not block the drain.
  for (const vm of model.vms) {
    if (vm.origHost === h.id && !vm.live)
      ctx.log.vm(
        vm.name,
        { code: "VM_NOT_RUNNING", message: `${vm.name} is ${vm.state}: not migrated, does not block the drain`, numbers: { state: vm.state } },
        "evacuate",
      );
  }
  if (blockers.length > 0) ctx.log.cluster(incomplete(h.id, blockers, live.length), "evacuate");
  return { blockers };
}

/** VMs named in full in EVACUATE_INCOMPLETE's message; the count covers all of them. */
const NAMED_VMS = 5;

/**
 * The verdict on a drain that cannot complete, counting what blocks it: VMs that cannot leave, and
 * conditions of the host itself. The best hosts' rejections of a VM are the detail of that one
 * VM's NO_DESTINATION, not blockers of their own (one VM that fits nowhere is one blocking VM).
 */
function incomplete(host: string, blockers: readonly Decision[], liveVms: number): Rejection {
  const vms = [...new Set(blockers.filter((d) => d.kind === "vm").map((d) => d.subject))];
  const conditions = blockers.filter((d) => d.kind !== "vm" && d.vm === undefined);
  const parts: string[] = [];
  if (vms.length > 0) {
    const named = vms.slice(0, NAMED_VMS).join(", ") + (vms.length > NAMED_VMS ? ` and ${vms.length - NAMED_VMS} more` : "");
    parts.push(`${vms.length} of ${liveVms} live VM(s) cannot leave (${named})`);
  }
  if (conditions.length > 0) parts.push(`${conditions.length} host condition(s) (${conditions.map((d) => d.code).join(", ")})`);
  return {
    code: "EVACUATE_INCOMPLETE",
    message: `host ${host} cannot be drained now: ${parts.join("; ")}`,
    numbers: { blockingVms: vms.length, hostConditions: conditions.length, vms: liveVms },
  };
}
