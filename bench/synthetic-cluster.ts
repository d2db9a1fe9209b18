import type { HostFacts } from "../shared/schemas/facts.js";
import type { ClusterSnapshot, SnapshotHost, SnapshotVm } from "../shared/schemas/snapshot.js";

// Deterministic synthetic clusters for benchmarks: a seeded PRNG, hosts of mixed sizes, VMs
// of mixed shapes, a share of hosts over the threshold long enough to be sources, loads that swing.

export { seededRandom as mulberry32 } from "../shared/seeded-random.js";
import { seededRandom as mulberry32 } from "../shared/seeded-random.js";

export interface SyntheticOptions {
  hosts: number;
  vmsPerHost: number;
  seed?: number;
  /** Share of hosts made hot (over the CPU threshold for the whole window). */
  hotShare?: number;
  now?: number;
  intervalS?: number;
  windowSamples?: number;
  /**
   * CPU points a host's older samples jump by (every other one is cpu + swing, capped at 100):
   * bursty loads like PlanetLab's (about 10 points per sample), so the CPU levels stay as
   * configured (orchestrator/core/headroom.ts) and hot hosts stay over the threshold. Default 12.
   */
  swing?: number;
  /**
   * Give hosts and VMs migratability facts, as a mixed cluster's agents report them: four CPU
   * generations, the oldest on an older libvirt/QEMU, a few networks and bridges present on some
   * racks only, shared storage on every host plus a Ceph mount on some, huge pages on some hosts;
   * VMs with a CPU model of their host's generation or older, a few on host-passthrough, a few
   * with local disks, a few not migratable at all.
   */
  facts?: boolean;
}

/** CPU generations, oldest first: model, features it adds, libvirt/QEMU of hosts of that generation. */
const GENERATIONS = [
  { model: "Haswell-noTSX-IBRS", adds: ["avx2", "bmi1", "bmi2", "fma", "movbe", "invpcid", "spec-ctrl"], libvirt: "8.0.0", qemu: "6.2.0" },
  {
    model: "Skylake-Server-IBRS",
    adds: ["avx512f", "avx512dq", "avx512cd", "avx512bw", "avx512vl", "clflushopt", "clwb", "pku", "xsavec"],
    libvirt: "9.0.0",
    qemu: "7.2.0",
  },
  { model: "Cascadelake-Server", adds: ["avx512vnni", "arch-capabilities", "md-clear", "stibp", "ssbd"], libvirt: "9.0.0", qemu: "7.2.0" },
  {
    model: "Icelake-Server",
    adds: ["avx512vbmi", "avx512vbmi2", "gfni", "vaes", "vpclmulqdq", "avx512bitalg", "avx512-vpopcntdq", "la57", "vmx-tsc-scaling"],
    libvirt: "9.0.0",
    qemu: "7.2.0",
  },
] as const;
/** Features every generation has (about the size of a real host's list with the ones above). */
const BASE_FEATURES = [
  ..."fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ss ht syscall nx pdpe1gb rdtscp lm".split(" "),
  ..."pni pclmulqdq vmx ssse3 cx16 pcid sse4.1 sse4.2 x2apic popcnt tsc-deadline aes xsave avx f16c rdrand hypervisor arat tsc-adjust".split(" "),
  ..."erms xsaveopt abm 3dnowprefetch ibpb ibrs amd-stibp amd-ssbd skip-l1dfl-vmentry pschange-mc-no lahf-lm umip fsgsbase smep smap".split(" "),
  ...Array.from({ length: 40 }, (_, i) => `vmx-f${String(i).padStart(2, "0")}`),
];
const OLD_MODELS = ["qemu64", "kvm64", "Nehalem", "Westmere", "SandyBridge", "IvyBridge"];

function generationFeatures(g: number): string[] {
  const out = [...BASE_FEATURES];
  for (let i = 0; i <= g; i++) out.push(...GENERATIONS[i]!.adds);
  return out.sort();
}

function hostFacts(g: number, h: number, rnd: () => number): HostFacts {
  const gen = GENERATIONS[g]!;
  const qemuMinor = gen.qemu.startsWith("7") ? ["6.2", "7.0", "7.1", "7.2"] : ["5.2", "6.0", "6.1", "6.2"];
  const rack = h % 4;
  return {
    cpu: {
      arch: "x86_64",
      vendor: "Intel",
      model: gen.model,
      // Every agent sends its own lists: no sharing between hosts, as in the orchestrator.
      features: generationFeatures(g),
      usableModels: [...OLD_MODELS, ...GENERATIONS.slice(0, g + 1).map((x) => x.model)].sort(),
    },
    domainTypes: ["kvm", "qemu"],
    libvirtVersion: gen.libvirt,
    qemuVersion: gen.qemu,
    machineTypes: qemuMinor
      .flatMap((v) => [`pc-i440fx-${v}`, `pc-q35-${v}`])
      .concat(["pc", "q35"])
      .sort(),
    // Every host has the default network and br0; br-db on racks 0 and 1, ext-net on rack 0.
    networks: rack === 0 ? ["default", "ext-net"] : ["default"],
    bridges: rack <= 1 ? ["br-db", "br0"] : ["br0"],
    sharedStorage: [...(rack !== 3 ? [{ path: "/mnt/ceph", kind: "ceph" as const }] : []), { path: "/var/lib/libvirt/images/shared", kind: "nfs4" as const }],
    hugepages: rnd() < 0.2 ? [{ sizeKiB: 2048, free: 8192 }] : [],
  };
}

function vmFacts(host: HostFacts, g: number, rnd: () => number): NonNullable<SnapshotVm["facts"]> {
  const r = rnd();
  const vg = Math.floor(rnd() * (g + 1)); // its generation or older
  const model = GENERATIONS[vg]!.model;
  const machine = rnd() < 0.5 ? "pc-q35-6.2" : host.machineTypes.includes("pc-q35-7.2") ? "pc-q35-7.2" : "pc-q35-6.2";
  const local = r < 0.05;
  const onCeph = host.sharedStorage.some((s) => s.path === "/mnt/ceph") && rnd() < 0.3;
  const bridges = ["br0", ...(host.bridges.includes("br-db") && rnd() < 0.2 ? ["br-db"] : [])];
  return {
    domainType: "kvm",
    arch: "x86_64",
    machine,
    cpu:
      r > 0.98
        ? { mode: "host-passthrough", required: [], disabled: [] }
        : { mode: "custom", model, required: [...GENERATIONS[vg]!.adds].slice(0, 2).sort(), disabled: [] },
    disks: [
      {
        target: "vda",
        device: "disk",
        type: "file",
        source: local
          ? `/var/lib/libvirt/images/local-${Math.floor(rnd() * 1e9)}.qcow2`
          : `${onCeph ? "/mnt/ceph" : "/var/lib/libvirt/images/shared"}/d-${Math.floor(rnd() * 1e9)}.qcow2`,
        format: "qcow2",
        cache: "none",
        readonly: false,
        shared: !local,
        capacityBytes: 40 * 1024 ** 3,
        allocationBytes: Math.floor((5 + rnd() * 30) * 1024 ** 3),
        backingChain: false,
      },
    ],
    interfaces: [
      ...bridges.map((b) => ({ type: "bridge" as const, source: b })),
      ...(host.networks.includes("ext-net") && rnd() < 0.1 ? [{ type: "network" as const, source: "ext-net" }] : []),
    ],
    hostdevs: r > 0.97 && r <= 0.98 ? ["pci 0000:3b:00.0"] : [],
    ...(rnd() < 0.02 && host.hugepages.length > 0 ? { hugepageKiB: 2048 } : {}),
    migratable: !(r > 0.97 && r <= 0.98),
    reasons: r > 0.97 && r <= 0.98 ? [{ code: "HOSTDEV", detail: "pci 0000:3b:00.0" }] : [],
  };
}

export function syntheticCluster(o: SyntheticOptions): ClusterSnapshot {
  const rnd = mulberry32(o.seed ?? 42);
  const now = o.now ?? 1_700_000_000_000;
  const interval = (o.intervalS ?? 10) * 1000;
  const windowSamples = o.windowSamples ?? 8;
  const hosts: SnapshotHost[] = [];
  const vms: SnapshotVm[] = [];
  const shapes = [
    { vcpus: 1, mem: 1024 },
    { vcpus: 2, mem: 4096 },
    { vcpus: 4, mem: 8192 },
    { vcpus: 8, mem: 16384 },
  ];
  for (let h = 0; h < o.hosts; h++) {
    const id = `hv-${String(h).padStart(5, "0")}`;
    const big = rnd() < 0.5;
    const cpus = big ? 64 : 32;
    const memTotal = big ? 512 * 1024 : 256 * 1024;
    const hot = rnd() < (o.hotShare ?? 0.05);
    // Separate generator for facts, so a cluster with facts has the same loads as one without.
    const frnd = o.facts ? mulberry32(((o.seed ?? 42) * 7919 + h) >>> 0) : null;
    const gen = frnd ? Math.floor(frnd() * GENERATIONS.length) : 0;
    const hf = frnd ? hostFacts(gen, h, frnd) : undefined;
    let usedCores = 0;
    let usedMem = 0;
    for (let v = 0; v < o.vmsPerHost; v++) {
      const s = shapes[Math.floor(rnd() * shapes.length)]!;
      const util = hot ? 0.5 + rnd() * 0.5 : rnd() * 0.35;
      const cpuPercent = Math.round(s.vcpus * 100 * util * 10) / 10;
      usedCores += cpuPercent / 100;
      usedMem += s.mem;
      vms.push({
        name: `vm-${h}-${v}`,
        host: id,
        state: "running",
        vcpus: s.vcpus,
        memMiB: s.mem,
        cpuPercent,
        tags: [],
        ...(hf && frnd ? { facts: vmFacts(hf, gen, frnd) } : {}),
      });
    }
    const cpu = Math.min(100, (100 * usedCores) / cpus);
    const mem = Math.min(100, (100 * (usedMem + 4096)) / memTotal);
    const swing = o.swing ?? 12;
    const samples = Array.from({ length: windowSamples }, (_, i) => {
      const age = windowSamples - 1 - i;
      return { ts: now - age * interval, cpu: age % 2 === 1 ? Math.min(100, cpu + swing) : cpu, mem };
    });
    hosts.push({
      id,
      cpus,
      memTotalMiB: memTotal,
      memAvailableMiB: Math.max(0, memTotal - usedMem - 4096),
      cpuPercent: cpu,
      lastSeen: now - 1000,
      samples,
      address: `10.${(h >> 16) & 255}.${(h >> 8) & 255}.${h & 255}`,
      maintenance: false,
      tags: [],
      ...(hf ? { facts: hf } : {}),
    });
  }
  return { v: 1, takenAt: now, hosts, vms, inFlight: [], history: [], frozenVms: [], incompatible: [] };
}
