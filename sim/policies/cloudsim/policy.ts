import type { ConsolidationPolicy, MigrationRequest, SimView } from "../policy.js";
import { makeDetector, type DetectorName, type OverloadDetector } from "./detectors.js";
import { selectMmt } from "./mmt.js";
import { findHostForVm, sortByDemandDesc, type CloudSimVariant } from "./pabfd.js";
import { TentativeModel, type TentativeHost } from "./tentative.js";

// CloudSim's dynamic consolidation (PowerVmAllocationPolicyMigrationAbstract.optimizeAllocation)
// with MMT VM selection, re-implemented from the CCPE 2012 description and CloudSim 3.0.3's
// observable behaviour:
// 1. overloaded hosts = hosts whose detector fires (host order);
// 2. from each, take MMT VMs until it no longer fires;
// 3. place those VMs by PABFD (by demand, descending), overloaded hosts excluded;
// 4. underload: repeatedly take the least-utilised (measured) host that is not overloaded, not
//    switched off and not yet a target of an underload move, and move ALL its VMs by PABFD, or
//    none if one does not fit (targets of step 3 are, as in CloudSim, not excluded).

export interface CloudSimPolicyOptions {
  detector: DetectorName;
  /** THR threshold, or the safety parameter of LR / IQR / MAD. */
  parameter: number;
  variant: CloudSimVariant;
  /** Scheduling interval, for LR's migration horizon. Default 300. */
  interval?: number;
  /** Fallback THR threshold of the adaptive detectors. Default 0.7. */
  fallbackThreshold?: number;
  /**
   * Keep VMs' RAM and bandwidth reserved after creation, so placements respect host memory.
   * Default false, which is what CloudSim 3.0.3 does with the PlanetLab workload (RAM only
   * constrains the initial placement).
   */
  reserveMemory?: boolean;
  /**
   * Two-resource THR (for traces with memory, e.g. GCD): a host is also overloaded when its VMs'
   * memory demand exceeds this fraction of its RAM, and placements keep every host at or under
   * it (MMT and PABFD otherwise unchanged). Undefined: CPU only, as CloudSim.
   */
  memoryThreshold?: number;
}

export const CLOUDSIM_BASELINES: Readonly<Record<string, { detector: DetectorName; parameter: number }>> = {
  "thr-mmt-0.8": { detector: "thr", parameter: 0.8 },
  "lr-mmt-1.2": { detector: "lr", parameter: 1.2 },
  "iqr-mmt-1.5": { detector: "iqr", parameter: 1.5 },
  "mad-mmt-2.5": { detector: "mad", parameter: 2.5 },
};

export class CloudSimPolicy implements ConsolidationPolicy {
  readonly name: string;
  private readonly detector: OverloadDetector;
  private readonly variant: CloudSimVariant;
  private readonly reserveMemory: boolean;
  private readonly memoryThreshold: number | undefined;

  constructor(opts: CloudSimPolicyOptions) {
    this.variant = opts.variant;
    this.reserveMemory = opts.reserveMemory ?? false;
    this.memoryThreshold = opts.memoryThreshold;
    const cpu = makeDetector(opts.detector, opts.parameter, opts.interval ?? 300, opts.fallbackThreshold ?? 0.7);
    // With memoryThreshold, TentativeHost.ramUsed is the demand scaled by 1/threshold (tentative.ts).
    this.detector =
      opts.memoryThreshold === undefined
        ? cpu
        : (l) => cpu(l) || ((l as Partial<TentativeHost>).ramUsed ?? 0) > ((l as Partial<TentativeHost>).ramMb ?? Infinity);
    this.name = `${opts.detector.toUpperCase()}-MMT-${opts.parameter}${opts.memoryThreshold !== undefined ? `+MEM-${opts.memoryThreshold}` : ""} (${opts.variant === "303" ? "3.0.3" : "pre-fix"})`;
  }

  initialPlacement(view: SimView): number[] {
    // CloudSim places VMs one by one, in order, at t = 0 with findHostForVm. A VM being created
    // asks for its full MIPS; once created its demand reads 0 (no workload yet) while the CPU
    // scheduler keeps its full MIPS allocated. Measured utilisation is 0 everywhere.
    const model = new TentativeModel(view, true);
    const out: number[] = [];
    for (const vm of model.vms) {
      vm.request = vm.mips;
      vm.schedRequest = vm.mips;
    }
    const none = new Set<number>();
    for (const vm of model.vms) {
      const h = findHostForVm(model, vm, none, this.detector, this.variant);
      if (!h) {
        out.push(-1);
        continue;
      }
      model.create(h, vm);
      vm.request = 0;
      h.invalidate();
      out.push(h.id);
    }
    return out;
  }

  decide(view: SimView): MigrationRequest[] {
    const model = new TentativeModel(view, this.reserveMemory, 30, undefined, this.memoryThreshold);
    const det = this.detector;
    const overloaded: number[] = [];
    for (const h of model.hosts) if (det(h)) overloaded.push(h.id);

    const toMigrate: number[] = [];
    for (const id of overloaded) {
      const h = model.hosts[id]!;
      for (;;) {
        const v = selectMmt(model, h);
        if (v < 0) break;
        toMigrate.push(v);
        model.destroy(h, model.vms[v]!);
        if (!det(h)) break;
      }
    }

    const map: MigrationRequest[] = [];
    const excludedOver = new Set(overloaded);
    for (const v of sortByDemandDesc(model, toMigrate)) {
      const vm = model.vms[v]!;
      const target = findHostForVm(model, vm, excludedOver, det, this.variant);
      if (target) {
        model.create(target, vm);
        map.push({ vm: v, host: target.id });
      }
    }

    // underload consolidation
    const exclUnder = new Set(overloaded);
    const exclPlace = new Set(overloaded);
    for (const h of model.hosts) {
      if (h.measuredUtil === 0) {
        exclUnder.add(h.id);
        exclPlace.add(h.id);
      }
    }
    const nHosts = model.hosts.length;
    while (exclUnder.size < nHosts) {
      let under = -1;
      let minU = 1;
      for (const h of model.hosts) {
        if (exclUnder.has(h.id)) continue;
        const u = h.measuredUtil;
        if (u > 0 && u < minU && !allMigratingOutOrAnyIn(model, h.id)) {
          minU = u;
          under = h.id;
        }
      }
      if (under < 0) break;
      exclUnder.add(under);
      exclPlace.add(under);
      const uh = model.hosts[under]!;
      const vms = uh.vms.filter((v) => !model.vms[v]!.inMigration);
      if (vms.length === 0) continue;
      const placed: MigrationRequest[] = [];
      let ok = true;
      for (const v of sortByDemandDesc(model, vms)) {
        const vm = model.vms[v]!;
        const target = findHostForVm(model, vm, exclPlace, det, this.variant);
        if (!target) {
          ok = false;
          break;
        }
        model.create(target, vm);
        placed.push({ vm: v, host: target.id });
      }
      if (!ok) {
        for (const p of placed) model.destroy(model.hosts[p.host]!, model.vms[p.vm]!);
        continue;
      }
      for (const p of placed) exclUnder.add(p.host);
      map.push(...placed);
    }
    return map;
  }
}

function allMigratingOutOrAnyIn(model: TentativeModel, hostId: number): boolean {
  const h = model.hosts[hostId]!;
  for (const v of h.vms) {
    if (!model.vms[v]!.inMigration) return false;
    if (h.migratingIn.has(v)) return true;
  }
  return true;
}

export function cloudSimPolicy(name: string, variant: CloudSimVariant): CloudSimPolicy {
  const base = CLOUDSIM_BASELINES[name.toLowerCase()];
  if (!base) throw new Error(`unknown CloudSim baseline ${name}; known: ${Object.keys(CLOUDSIM_BASELINES).join(", ")}`);
  return new CloudSimPolicy({ ...base, variant });
}
