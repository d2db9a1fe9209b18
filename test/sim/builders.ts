import type { DataCentreSpec, HostType, VmType } from "../../sim/model/datacentre.js";
import { HOST_G4, HOST_G5, CLOUDSIM_VM_TYPES } from "../../sim/model/datacentre.js";
import type { HostPowerView, SimHostView, SimView, SimVmView } from "../../sim/policies/policy.js";
import { INSTANT } from "../../sim/model/host-power.js";
import type { VmTrace } from "../../sim/traces/parse.js";

// Small builders for hand-made data-centre states (descheduler-style: defaults plus a tweak).

export interface VmSpec {
  host: number;
  type?: VmType;
  /** Current demand as a fraction of the VM's MIPS. */
  u?: number;
  history?: number[];
  inMigration?: boolean;
}

export interface HostSpec {
  type?: HostType;
  /** Measured utilisation fraction; default: sum of its VMs' demand / capacity. */
  util?: number;
  migratingIn?: number[];
  /** Power state; default on since 0, empty since 0 when it holds no VM. */
  power?: Partial<HostPowerView>;
}

export function buildView(hosts: HostSpec[], vms: VmSpec[], now = 300.1): SimView {
  const vmViews: SimVmView[] = vms.map((v, i) => {
    const type = v.type ?? CLOUDSIM_VM_TYPES[3]!;
    const u = v.u ?? 0.5;
    return {
      id: i,
      name: `vm${i}`,
      type,
      host: v.host,
      inMigration: v.inMigration ?? false,
      requestedMips: u * type.mips,
      memDemandMb: type.ramMb,
      history: v.history ?? [u],
      removed: false,
    };
  });
  const hostViews: SimHostView[] = hosts.map((h, id) => {
    const type = h.type ?? (id % 2 === 0 ? HOST_G4 : HOST_G5);
    const total = type.cores * type.mipsPerCore;
    const mine = vmViews.filter((v) => v.host === id || (h.migratingIn ?? []).includes(v.id)).map((v) => v.id);
    const req = mine.reduce((s, v) => s + vmViews[v]!.requestedMips, 0);
    return {
      id,
      type,
      totalMips: total,
      vms: mine,
      migratingIn: h.migratingIn ?? [],
      utilMips: h.util !== undefined ? h.util * total : req,
      requestedMips: req,
      memDemandMb: 0,
      power: { state: "on", since: 0, until: null, emptySince: mine.length === 0 ? 0 : null, powerOnsLastDay: 0, ...h.power },
    };
  });
  return { now, step: 1, interval: 300, power: INSTANT, hosts: hostViews, vms: vmViews, inFlight: [] };
}

/** A constant-utilisation trace of n samples. */
export function constTrace(name: string, u: number, n = 288, mem?: number): VmTrace {
  const cpu = new Float64Array(n).fill(u);
  return mem === undefined ? { name, cpu } : { name, cpu, mem: new Float64Array(n).fill(mem) };
}

// A 2-host data centre small enough to integrate by hand.
// Host: 1 core × 1000 MIPS, power 100 W + 100 W × utilisation (table 100, 110, ..., 200).
// VM: 500 MIPS, 625 MB -> migration 625 / 62.5 = 10 s at 1 Gbit/s.
const TINY_HOST: HostType = {
  name: "h",
  cores: 1,
  mipsPerCore: 1000,
  ramMb: 1000,
  bwKbit: 1_000_000,
  power: [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200],
};
const TINY_VM: VmType = { name: "v", mips: 500, ramMb: 625, bwKbit: 0 };
export const TINY_SPEC: DataCentreSpec = { hostCount: 2, hostTypes: [TINY_HOST], vmTypes: [TINY_VM] };
