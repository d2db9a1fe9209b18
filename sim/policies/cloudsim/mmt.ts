import type { TentativeHost, TentativeModel } from "./tentative.js";

/**
 * Minimum Migration Time selection: the VM with the least RAM among the host's VMs that are not
 * migrating (first in the host's list on ties). -1 when there is none.
 */
export function selectMmt(model: TentativeModel, host: TentativeHost): number {
  let best = -1;
  let min = Number.MAX_VALUE;
  for (const v of host.vms) {
    const vm = model.vms[v]!;
    if (vm.inMigration) continue;
    if (vm.ramMb < min) {
      min = vm.ramMb;
      best = v;
    }
  }
  return best;
}
