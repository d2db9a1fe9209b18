import { powerAt } from "../../model/power.js";
import type { OverloadDetector } from "./detectors.js";
import type { TentativeHost, TentativeModel, TentativeVm } from "./tentative.js";

// Power-Aware Best Fit Decreasing, one VM at a time (CloudSim's findHostForVm): among hosts not
// excluded that can take the VM and are not overloaded afterwards, the one whose power grows
// least. The two variants differ in what "the host's utilisation" means:
// - "303" (CloudSim 3.0.3, after the Issue 37 fix): the MIPS allocated on the host now, which
//   includes VMs tentatively placed earlier in the same round;
// - "prefix" (before the fix): the utilisation measured at the last update, so tentative
//   placements of this round are invisible to the power estimate and to the "is the host in use"
//   gate of the overload check.

export type CloudSimVariant = "303" | "prefix";

function clamp01(u: number): number {
  return u > 1 ? 1 : u < 0 ? 0 : u;
}

/** The host's CPU use PABFD adds the VM to, MIPS (see the variants above). */
export function hostUtilMipsForPlacement(h: TentativeHost, variant: CloudSimVariant): number {
  if (variant === "303") return h.allocatedUtilMips;
  let mips = h.measuredUtilMips;
  for (const v of h.vms) if (h.migratingIn.has(v)) mips += (h.allocatedFor(v) * 0.9) / 0.1;
  return mips;
}

export function findHostForVm(
  model: TentativeModel,
  vm: TentativeVm,
  excluded: ReadonlySet<number>,
  detector: OverloadDetector,
  variant: CloudSimVariant,
): TentativeHost | null {
  let minPower = Number.MAX_VALUE;
  let best: TentativeHost | null = null;
  // Empty, switched-off hosts of one type all score the same, and ties keep the first host, so
  // only the first such host of each type needs evaluating (a large saving with 800 hosts).
  const pristineSeen = new Set<number>();
  for (const h of model.hosts) {
    if (excluded.has(h.id)) continue;
    if (h.vms.length === 0 && h.measuredUtilMips === 0 && h.ramUsed === 0 && h.bwUsed === 0) {
      if (pristineSeen.has(h.typeKey)) continue;
      pristineSeen.add(h.typeKey);
    }
    if (!model.isSuitable(h, vm)) continue;
    const gate = variant === "303" ? h.allocatedUtilMips : h.measuredUtilMips;
    if (gate !== 0 && detector(h.withVm(vm))) continue;
    const after = clamp01((hostUtilMipsForPlacement(h, variant) + vm.request) / h.totalMips);
    const diff = powerAt(h.power, after) - h.measuredPower;
    if (diff < minPower) {
      minPower = diff;
      best = h;
    }
  }
  return best;
}

/** Sorts VM ids by current CPU demand, descending; stable like Java's Collections.sort. */
export function sortByDemandDesc(model: TentativeModel, vms: number[]): number[] {
  return vms
    .map((v, i) => ({ v, i, d: model.vms[v]!.request }))
    .sort((a, b) => (b.d !== a.d ? (b.d > a.d ? 1 : -1) : a.i - b.i))
    .map((x) => x.v);
}
