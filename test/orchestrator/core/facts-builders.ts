import type { HostCpu, HostFacts, VmCpu, VmDisk, VmFacts, VmInterface } from "../../../shared/schemas/facts.js";
import type { SnapshotHost, SnapshotVm } from "../../../shared/schemas/snapshot.js";

// Facts builders for planner scenarios (builders.ts style): realistic defaults of a Debian 12 host
// (libvirt 9.0, QEMU 7.2) on Intel CPUs of four generations, tweaked by the second argument.

/** CPU generations, oldest first, with the features each adds to the one before. */
export const GENERATIONS = [
  { model: "Haswell-noTSX-IBRS", adds: ["avx2", "bmi1", "bmi2", "fma", "invpcid", "movbe", "spec-ctrl"] },
  { model: "Skylake-Server-IBRS", adds: ["avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl", "clflushopt", "clwb", "pku"] },
  { model: "Cascadelake-Server", adds: ["arch-capabilities", "avx512vnni", "md-clear", "ssbd", "stibp"] },
  { model: "Icelake-Server", adds: ["avx512-vpopcntdq", "avx512bitalg", "avx512vbmi", "avx512vbmi2", "gfni", "la57", "vaes", "vmx-tsc-scaling", "vpclmulqdq"] },
] as const;

const BASE =
  "aes apic avx cmov cx16 cx8 f16c fpu fxsr lm mmx nx pae pat pcid pclmulqdq popcnt rdrand rdtscp sse sse2 sse4.1 sse4.2 ssse3 tsc vmx x2apic xsave".split(" ");
export const OLD_MODELS = ["Nehalem", "SandyBridge", "IvyBridge", "Westmere", "qemu64"];

/** Features of a host of generation `g` (0: Haswell .. 3: Icelake), sorted. */
export function featuresOf(g: number): string[] {
  const out = [...BASE];
  for (let i = 0; i <= g; i++) out.push(...GENERATIONS[i]!.adds);
  return out.sort();
}

export interface HostFactsOpts extends Partial<Omit<HostFacts, "cpu">> {
  /** CPU generation (default 3, Icelake). */
  gen?: number;
  cpu?: Partial<HostCpu>;
}

export function hostFacts(o: HostFactsOpts = {}): HostFacts {
  const g = o.gen ?? 3;
  const { gen: _gen, cpu, ...rest } = o;
  return {
    cpu: {
      arch: "x86_64",
      vendor: "Intel",
      model: GENERATIONS[g]!.model,
      features: featuresOf(g),
      usableModels: [...OLD_MODELS, ...GENERATIONS.slice(0, g + 1).map((x) => x.model)].sort(),
      ...cpu,
    },
    domainTypes: ["kvm", "qemu"],
    libvirtVersion: "9.0.0",
    qemuVersion: "7.2.0",
    machineTypes: ["pc", "pc-i440fx-6.2", "pc-i440fx-7.2", "pc-q35-6.2", "pc-q35-7.2", "q35"],
    networks: ["default"],
    bridges: ["br0"],
    sharedStorage: [{ path: "/var/lib/libvirt/images/shared", kind: "nfs4" }],
    hugepages: [],
    ...rest,
  };
}

export type VmFactsIn = Omit<VmFacts, "name">;

/** A disk on the shared NFS storage (default) or wherever `o` says. */
export function disk(o: Partial<VmDisk> = {}): VmDisk {
  return {
    target: "vda",
    device: "disk",
    type: "file",
    source: "/var/lib/libvirt/images/shared/vm.qcow2",
    format: "qcow2",
    cache: "none",
    readonly: false,
    shared: true,
    capacityBytes: 20 * 1024 ** 3,
    allocationBytes: 5 * 1024 ** 3,
    backingChain: false,
    ...o,
  };
}

/** A local qcow2 disk of `allocGiB` allocated. */
export function localDisk(allocGiB: number, o: Partial<VmDisk> = {}): VmDisk {
  return disk({ source: "/var/lib/libvirt/images/local.qcow2", shared: false, allocationBytes: allocGiB * 1024 ** 3, ...o });
}

export interface VmFactsOpts extends Partial<Omit<VmFacts, "name" | "cpu">> {
  /** Custom CPU of this generation (default 0, Haswell), requiring the first two features it adds. */
  gen?: number;
  cpu?: Partial<VmCpu>;
  bridges?: string[];
  networks?: string[];
}

export function vmFacts(o: VmFactsOpts = {}): VmFactsIn {
  const g = o.gen ?? 0;
  const { gen: _gen, cpu, bridges, networks, ...rest } = o;
  const ifaces: VmInterface[] = [
    ...(bridges ?? ["br0"]).map((b): VmInterface => ({ type: "bridge", source: b })),
    ...(networks ?? []).map((n): VmInterface => ({ type: "network", source: n })),
  ];
  return {
    domainType: "kvm",
    arch: "x86_64",
    machine: "pc-q35-6.2",
    cpu: { mode: "custom", model: GENERATIONS[g]!.model, required: GENERATIONS[g]!.adds.slice(0, 2), disabled: [], ...cpu },
    disks: [disk()],
    interfaces: ifaces,
    hostdevs: [],
    migratable: true,
    reasons: [],
    ...rest,
  };
}

export const withFacts = (h: SnapshotHost, f: HostFacts | undefined): SnapshotHost => (f ? { ...h, facts: f } : h);
export const withVmFacts = (v: SnapshotVm, f: VmFactsIn | undefined): SnapshotVm => (f ? { ...v, facts: f } : v);
