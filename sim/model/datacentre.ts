import { POWER_G4, POWER_G5, validatePowerTable, type PowerTable } from "./power.js";

// The data-centre model of CloudSim's PlanetLab experiments, as plain data with documented
// defaults. Every number can be overridden through DataCentreSpec.

export interface HostType {
  readonly name: string;
  readonly cores: number;
  readonly mipsPerCore: number;
  readonly ramMb: number;
  /** Network bandwidth, kbit/s (CloudSim units: 1 Gbit/s = 1,000,000). */
  readonly bwKbit: number;
  readonly power: PowerTable;
}

export interface VmType {
  readonly name: string;
  /** MIPS of the VM's single core. */
  readonly mips: number;
  readonly ramMb: number;
  /** Bandwidth reserved per VM, kbit/s. */
  readonly bwKbit: number;
}

export interface DataCentreSpec {
  readonly hostCount: number;
  /** Host i has type hostTypes[i % hostTypes.length]. */
  readonly hostTypes: readonly HostType[];
  /** VM i has type vmTypes[floor(i / ceil(N / vmTypes.length))]. */
  readonly vmTypes: readonly VmType[];
  /** One type per VM, in VM order; overrides vmTypes when given (sizings derived from each VM's own trace). */
  readonly vmTypesPerVm?: readonly VmType[];
}

export const HOST_G4: HostType = { name: "HP ProLiant ML110 G4", cores: 2, mipsPerCore: 1860, ramMb: 4096, bwKbit: 1_000_000, power: POWER_G4 };
export const HOST_G5: HostType = { name: "HP ProLiant ML110 G5", cores: 2, mipsPerCore: 2660, ramMb: 4096, bwKbit: 1_000_000, power: POWER_G5 };

export const CLOUDSIM_VM_TYPES: readonly VmType[] = [
  { name: "high-cpu-medium", mips: 2500, ramMb: 870, bwKbit: 100_000 },
  { name: "extra-large", mips: 2000, ramMb: 1740, bwKbit: 100_000 },
  { name: "small", mips: 1000, ramMb: 1740, bwKbit: 100_000 },
  { name: "micro", mips: 500, ramMb: 613, bwKbit: 100_000 },
];

/** CloudSim 3.0.3's PlanetLab set-up: 800 hosts alternating G4/G5, four VM types. */
export const CLOUDSIM_DATACENTRE: DataCentreSpec = {
  hostCount: 800,
  hostTypes: [HOST_G4, HOST_G5],
  vmTypes: CLOUDSIM_VM_TYPES,
};

export class ModelError extends Error {
  override readonly name = "ModelError";
}

export function validateSpec(spec: DataCentreSpec): void {
  if (!Number.isInteger(spec.hostCount) || spec.hostCount <= 0) throw new ModelError(`hostCount must be a positive integer`);
  if (spec.hostTypes.length === 0) throw new ModelError("at least one host type is needed");
  if (spec.vmTypes.length === 0) throw new ModelError("at least one VM type is needed");
  for (const h of spec.hostTypes) {
    if (h.cores <= 0 || h.mipsPerCore <= 0 || h.ramMb <= 0 || h.bwKbit <= 0) throw new ModelError(`bad host type ${h.name}`);
    validatePowerTable(h.power);
  }
  for (const v of [...spec.vmTypes, ...(spec.vmTypesPerVm ?? [])])
    if (v.mips <= 0 || v.ramMb <= 0 || v.bwKbit < 0) throw new ModelError(`bad VM type ${v.name}`);
}

export function hostTypeOf(spec: DataCentreSpec, i: number): HostType {
  return spec.hostTypes[i % spec.hostTypes.length]!;
}

/** CloudSim's VM type assignment: VM i of n gets type floor(i / ceil(n / types)). */
export function vmTypeIndex(i: number, n: number, types: number): number {
  return Math.trunc(i / Math.ceil(n / types));
}

export function totalMips(h: HostType): number {
  return h.cores * h.mipsPerCore;
}

/**
 * Live-migration time, seconds: RAM over half the link (the other half carries VM traffic).
 * CloudSim: ram / (bw / (2 * 8000)) with bw in kbit/s, i.e. 870 MB -> 13.92 s at 1 Gbit/s.
 */
export function migrationTimeS(ramMb: number, bwKbit: number): number {
  return ramMb / (bwKbit / (2 * 8000));
}
