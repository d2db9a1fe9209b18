import type { Policy } from "../../shared/config/policy.js";
import type { Decision } from "../../shared/schemas/plan.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { checkDestination, checkVm } from "./constraints.js";
import { createContext } from "./context.js";
import { f1, r2 } from "./format.js";
import { effectivePolicy } from "./headroom.js";
import { findDestination } from "./placement.js";

// One VM, every host: why it would or would not move there. A plan keeps only a few rejected hosts
// per VM (explain.ts); this gives the full list on demand, judged by the same constraints and
// CPU levels as a plan made at the same instant.

export interface VmExplanation {
  vm: string;
  /** Where the VM runs. */
  host: string | null;
  /** Whether the VM itself may move (VM-level constraints, without per-cycle caps), and if not why. */
  movable: boolean;
  vmDecision: Decision | null;
  /** Every host's verdict for this VM: a rejection code, or DEST_OK with the projected loads. */
  hosts: Decision[];
  /** Where the VM would go now (lowest resulting weighted load), or null. */
  best: string | null;
}

/** Why a VM would or would not move, host by host (O(hosts): for one VM on demand). */
export function explainVm(snapshot: ClusterSnapshot, configured: Policy, now: number, vmName: string, opts: { operator?: boolean } = {}): VmExplanation {
  const { policy, hostScale } = effectivePolicy(snapshot, configured, now);
  const ctx = createContext(snapshot, policy, now, opts.operator ? "manual" : "cycle", {}, hostScale);
  const vm = ctx.model.vmByName.get(vmName);
  if (!vm)
    return {
      vm: vmName,
      host: null,
      movable: false,
      vmDecision: { kind: "vm", subject: vmName, code: "VM_UNKNOWN", message: `VM ${vmName} is not in the snapshot`, numbers: {} },
      hosts: [],
      best: null,
    };
  const r = checkVm(ctx, vm, false);
  const dopts = { cpuLimit: policy.max_load_candidate, memLimit: policy.max_mem_candidate, allowEmpty: true, caps: false };
  const hosts: Decision[] = [];
  for (const h of ctx.model.hosts) {
    if (h.id === vm.host) continue;
    const v = checkDestination(ctx, vm, h, dopts);
    hosts.push(
      v.ok
        ? {
            kind: "host",
            subject: h.id,
            code: "DEST_OK",
            message: `host ${h.id} can take ${vm.name}: CPU → ${f1(v.cpuAfter)} %, memory → ${f1(v.memAfter)} %${v.brokenShould.length ? `, breaks should rule(s) ${v.brokenShould.join(", ")}` : ""}`,
            numbers: {
              projectedCpuPercent: r2(v.cpuAfter),
              projectedMemPercent: r2(v.memAfter),
              weightedAfter: r2(v.keyAfter),
              brokenShouldRules: v.brokenShould.join(","),
            },
            vm: vm.name,
          }
        : { kind: "host", subject: h.id, code: v.rejection.code, message: v.rejection.message, numbers: v.rejection.numbers, vm: vm.name },
    );
  }
  const best = findDestination(ctx, vm, dopts, "spread");
  return {
    vm: vm.name,
    host: vm.host,
    movable: r === null,
    vmDecision: r ? { kind: "vm", subject: vm.name, code: r.code, message: r.message, numbers: r.numbers } : null,
    hosts,
    best: best ? best.host.id : null,
  };
}
