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
    let usedCores = 0;
    let usedMem = 0;
    for (let v = 0; v < o.vmsPerHost; v++) {
      const s = shapes[Math.floor(rnd() * shapes.length)]!;
      const util = hot ? 0.5 + rnd() * 0.5 : rnd() * 0.35;
      const cpuPercent = Math.round(s.vcpus * 100 * util * 10) / 10;
      usedCores += cpuPercent / 100;
      usedMem += s.mem;
      vms.push({ name: `vm-${h}-${v}`, host: id, state: "running", vcpus: s.vcpus, memMiB: s.mem, cpuPercent, tags: [] });
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
    });
  }
  return { v: 1, takenAt: now, hosts, vms, inFlight: [], history: [], frozenVms: [] };
}
