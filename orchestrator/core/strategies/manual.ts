// Manual move.
// Trigger: operator request (plan mode "manual").
// Goal:    move one VM to the host the operator named (judged by the same constraints as every
//          other move; a should rule the operator's choice breaks is reported, not refused), or,
//          without a host, to the destination with the lowest resulting weighted load.
// Stop:    after one move or one refusal with its reasons.
// Operator mode: cooldowns, settle times and per-cycle caps do not apply.

import type { Policy } from "../../../shared/config/policy.js";
import { checkDestination, checkVm } from "../constraints.js";
import type { PlanContext } from "../context.js";
import { RejectionTally } from "../explain.js";
import { f1, r2 } from "../format.js";
import { findDestination, type Placement } from "../placement.js";
import type { PlanRequest } from "../../../shared/schemas/plan.js";
import { commitMove, type Strategy, type StrategyResult } from "./strategy.js";

export interface ManualArgs {
  vm: string;
  destination?: string;
  cpuLimit: number;
  memLimit: number;
}

export const manual: Strategy<ManualArgs> = {
  name: "manual",
  defaults(p: Policy, request?: PlanRequest): ManualArgs {
    const r = request?.mode === "manual" ? request : undefined;
    return {
      vm: r ? r.vm : "",
      ...(r?.destination !== undefined ? { destination: r.destination } : {}),
      cpuLimit: p.max_load_candidate,
      memLimit: p.max_mem_candidate,
    };
  },
  validate(a) {
    return a.vm === "" ? ["manual needs a VM"] : [];
  },
  run(ctx: PlanContext, a: ManualArgs): StrategyResult {
    const { model } = ctx;
    const vm = model.vmByName.get(a.vm);
    if (!vm) {
      ctx.log.vm(a.vm, { code: "VM_UNKNOWN", message: `VM ${a.vm} is not in the snapshot`, numbers: {} }, "manual");
      return {};
    }
    const r = checkVm(ctx, vm, false);
    if (r) {
      ctx.log.vm(vm.name, r, "manual");
      return {};
    }
    const opts = { cpuLimit: a.cpuLimit, memLimit: a.memLimit, allowEmpty: true, caps: false };
    let p: Placement | null;
    if (a.destination !== undefined) {
      const d = model.hostById.get(a.destination);
      if (!d) {
        ctx.log.host(a.destination, { code: "DEST_UNKNOWN", message: `host ${a.destination} is not in the snapshot`, numbers: {} }, vm.name, "manual");
        return {};
      }
      const v = checkDestination(ctx, vm, d, opts);
      if (!v.ok) {
        ctx.log.host(d.id, v.rejection, vm.name, "manual");
        return {};
      }
      p = { host: d, brokenShould: v.brokenShould, cpuAfter: v.cpuAfter, memAfter: v.memAfter, keyAfter: v.keyAfter };
    } else {
      const tally = new RejectionTally();
      p = findDestination(ctx, vm, opts, "spread", tally);
      if (!p) {
        tally.flush(ctx.log, vm.name, model.hosts.length, "manual");
        return {};
      }
    }
    const cpuBefore = model.cpuLoad(p.host);
    commitMove(
      ctx,
      vm,
      p,
      "manual",
      "MANUAL",
      `operator request: ${vm.name} ${vm.host} → ${p.host.id}${a.destination === undefined ? " (best host)" : ""}, CPU ${f1(cpuBefore)} % → ${f1(p.cpuAfter)} %, memory → ${f1(p.memAfter)} %` +
        (p.brokenShould.length > 0 ? `; breaks should rule(s) ${p.brokenShould.join(", ")}` : ""),
      {
        requestedDestination: a.destination ?? null,
        destCpuBefore: r2(cpuBefore),
        destCpuAfter: r2(p.cpuAfter),
        destMemAfter: r2(p.memAfter),
        cpuAssumed: vm.cpuAssumed,
      },
    );
    return {};
  },
};
