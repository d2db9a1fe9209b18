import { powerAt, type PowerTable } from "../../model/power.js";
import { allocate, CLOUDSIM_SHARES, type MigrationShares, type SchedEntry } from "../../model/scheduler.js";
import type { SimView } from "../policy.js";
import type { HostLoad } from "./detectors.js";
import { countNonZeroBeginning } from "./stats.js";

// A scratch copy of the data centre on which a CloudSim policy plans a round: VMs are tentatively
// removed from and created on hosts exactly like CloudSim's vmDestroy / vmCreate do during
// optimizeAllocation, while the engine's state stays untouched (CloudSim restores its allocation
// afterwards; here the copy is simply dropped).

export interface TentativeVm {
  readonly id: number;
  readonly mips: number;
  readonly ramMb: number;
  readonly bwKbit: number;
  /**
   * RAM and bandwidth the VM holds on a host, MB / kbit/s. In CloudSim a VM reserves its full RAM
   * and bandwidth only while being created (t = 0); afterwards its workload requests neither
   * (the PlanetLab cloudlets use a null RAM/BW model), so later placements ignore memory.
   */
  ramHeldMb: number;
  bwHeldKbit: number;
  /** CPU demand used by overload checks and suitability, MIPS. */
  request: number;
  /** Demand the host's CPU scheduler holds for the VM (differs from `request` only at t = 0). */
  schedRequest: number;
  readonly inMigration: boolean;
  /** Utilisation history, newest first. */
  readonly history: readonly number[];
}

interface Cache {
  alloc: Float64Array;
  available: number;
  allocatedUtilMips: number;
  requested: number;
  maxRam: number;
  hist: Float64Array | null;
  histLen: number;
}

export class TentativeHost implements HostLoad {
  readonly vms: number[];
  ramUsed = 0;
  bwUsed = 0;
  private cache: Cache | null = null;
  constructor(
    private readonly model: TentativeModel,
    readonly id: number,
    readonly totalMips: number,
    readonly peMips: number,
    readonly ramMb: number,
    readonly bwKbit: number,
    readonly power: PowerTable,
    readonly migratingIn: ReadonlySet<number>,
    /** Measured CPU use at the last update, MIPS (CloudSim's host.getUtilizationOfCpuMips()). */
    readonly measuredUtilMips: number,
    vms: readonly number[],
    /** Hosts with equal typeKey have the same type (capacity, memory, power model). */
    readonly typeKey: number,
  ) {
    this.vms = [...vms];
    const u = this.measuredUtil;
    this.measuredPower = powerAt(power, u > 1 ? 1 : u);
    for (const v of vms) {
      const vm = model.vms[v]!;
      this.ramUsed += vm.ramHeldMb;
      this.bwUsed += vm.bwHeldKbit;
    }
  }

  /** Power at the measured utilisation, W (CloudSim's host.getPower()). */
  readonly measuredPower: number;

  /** Measured utilisation fraction, clamped like CloudSim's getUtilizationOfCpu. */
  get measuredUtil(): number {
    const u = this.measuredUtilMips / this.totalMips;
    return u > 1 && u < 1.01 ? 1 : u;
  }

  invalidate(): void {
    this.cache = null;
  }

  private c(): Cache {
    if (this.cache) return this.cache;
    const vms = this.model.vms;
    const entries: SchedEntry[] = this.vms.map((v) => {
      const vm = vms[v]!;
      const migIn = this.migratingIn.has(v);
      return { request: vm.schedRequest, migratingIn: migIn, migratingOut: vm.inMigration && !migIn };
    });
    const a = allocate(entries, this.peMips, this.totalMips, this.model.shares);
    let allocatedUtilMips = 0;
    let requested = 0;
    let maxRam = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < this.vms.length; i++) {
      const v = this.vms[i]!;
      const vm = vms[v]!;
      const al = a.alloc[i]!;
      if (this.migratingIn.has(v)) allocatedUtilMips += (al * 0.9) / 0.1;
      allocatedUtilMips += al;
      requested += vm.request;
      if (vm.ramMb > maxRam) maxRam = vm.ramMb;
    }
    this.cache = { alloc: a.alloc, available: a.available, allocatedUtilMips, requested, maxRam, hist: null, histLen: 0 };
    return this.cache;
  }

  get available(): number {
    return this.c().available;
  }
  /** CloudSim 3.0.3's getUtilizationOfCpuMips(host): allocated MIPS incl. tentative VMs. */
  get allocatedUtilMips(): number {
    return this.c().allocatedUtilMips;
  }
  get requestedMips(): number {
    return this.c().requested;
  }
  get maxVmRamMb(): number {
    return this.c().maxRam;
  }
  allocatedFor(vmId: number): number {
    const i = this.vms.indexOf(vmId);
    return i < 0 ? 0 : this.c().alloc[i]!;
  }

  /** Untrimmed 30-slot history sum (Σ vm.history[i] · vm.mips / host MIPS, in list order). */
  historySums(): Float64Array {
    const c = this.c();
    if (c.hist) return c.hist;
    const h = new Float64Array(this.model.historyLength);
    for (const v of this.vms) {
      const vm = this.model.vms[v]!;
      const n = Math.min(vm.history.length, h.length);
      for (let i = 0; i < n; i++) h[i]! += (vm.history[i]! * vm.mips) / this.totalMips;
    }
    c.hist = h;
    c.histLen = countNonZeroBeginning(h);
    return h;
  }

  historyLength(): number {
    this.historySums();
    return this.c().histLen;
  }

  historyAt(i: number): number {
    return this.historySums()[i]!;
  }

  /** The load this host would have with `vm` appended (CloudSim: vmCreate, check, vmDestroy). */
  withVm(vm: TentativeVm): HostLoad {
    const base = this.historySums();
    const baseLen = this.c().histLen;
    const total = this.totalMips;
    const vmLen = Math.min(countNonZeroBeginning(vm.history), base.length);
    const len = Math.max(baseLen, vmLen);
    return {
      totalMips: total,
      requestedMips: this.requestedMips + vm.request,
      maxVmRamMb: Math.max(this.maxVmRamMb, vm.ramMb),
      bwKbit: this.bwKbit,
      historyLength: () => len,
      historyAt: (i) => (i < vm.history.length ? base[i]! + (vm.history[i]! * vm.mips) / total : base[i]!),
    };
  }
}

export class TentativeModel {
  readonly vms: TentativeVm[];
  readonly hosts: TentativeHost[];
  constructor(
    view: SimView,
    /** Whether running VMs hold their RAM and bandwidth (CloudSim: no, only at creation). */
    readonly reserveResources = false,
    readonly historyLength = 30,
    readonly shares: MigrationShares = CLOUDSIM_SHARES,
    /**
     * Two-resource variant: RAM each VM holds = its current memory demand / this fraction, so a
     * host is "full" when its summed demand reaches this fraction of its RAM (THR on memory).
     */
    memDemandThreshold?: number,
  ) {
    this.vms = view.vms.map((v) => ({
      id: v.id,
      mips: v.type.mips,
      ramMb: v.type.ramMb,
      bwKbit: v.type.bwKbit,
      ramHeldMb: memDemandThreshold !== undefined ? v.memDemandMb / memDemandThreshold : reserveResources ? v.type.ramMb : 0,
      bwHeldKbit: reserveResources ? v.type.bwKbit : 0,
      request: v.requestedMips,
      schedRequest: v.requestedMips,
      inMigration: v.inMigration,
      history: v.history,
    }));
    const typeKeys = new Map<unknown, number>();
    const keyOf = (t: unknown): number => {
      let k = typeKeys.get(t);
      if (k === undefined) typeKeys.set(t, (k = typeKeys.size));
      return k;
    };
    this.hosts = view.hosts.map(
      (h) =>
        new TentativeHost(
          this,
          h.id,
          h.totalMips,
          h.type.mipsPerCore,
          h.type.ramMb,
          h.type.bwKbit,
          h.type.power,
          new Set(h.migratingIn),
          h.utilMips,
          h.vms,
          keyOf(h.type),
        ),
    );
  }

  /** CloudSim's Host.isSuitableForVm: one core fits the demand, MIPS available, RAM and bandwidth free. */
  isSuitable(h: TentativeHost, vm: TentativeVm): boolean {
    return h.peMips >= vm.request && h.available >= vm.request && h.ramMb - h.ramUsed >= vm.ramHeldMb && h.bwKbit - h.bwUsed >= vm.bwHeldKbit;
  }

  /** Host.vmCreate: appends the VM (RAM and bandwidth permitting). */
  create(h: TentativeHost, vm: TentativeVm): boolean {
    if (h.ramMb - h.ramUsed < vm.ramHeldMb || h.bwKbit - h.bwUsed < vm.bwHeldKbit) return false;
    h.vms.push(vm.id);
    h.ramUsed += vm.ramHeldMb;
    h.bwUsed += vm.bwHeldKbit;
    h.invalidate();
    return true;
  }

  /** Host.vmDestroy. */
  destroy(h: TentativeHost, vm: TentativeVm): void {
    const i = h.vms.indexOf(vm.id);
    if (i < 0) return;
    h.vms.splice(i, 1);
    h.ramUsed -= vm.ramHeldMb;
    h.bwUsed -= vm.bwHeldKbit;
    h.invalidate();
  }
}
