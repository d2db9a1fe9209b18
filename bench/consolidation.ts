import { readdirSync, readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { plan } from "../orchestrator/core/index.js";
import type { PlannedMove } from "../shared/schemas/plan.js";
import type { ClusterSnapshot, SnapshotHost, SnapshotVm } from "../shared/schemas/snapshot.js";
import { Policy } from "../shared/config/policy.js";
import { figure, type Figure } from "./figures.js";
import { mulberry32 } from "./synthetic-cluster.js";
import { sharedDataDir } from "../shared/repo-root.js";

// Consolidation quality at scale: plan in mode "consolidate", apply the moves to the snapshot,
// plan again, until a plan has no move (bounded). Hosts still carrying VMs are compared with the
// bin-packing lower bound computed from the same limits the planner enforces.

export interface HostShape {
  id: string;
  cpus: number;
  memTotalMiB: number;
}
export interface VmShape {
  name: string;
  host: string;
  vcpus: number;
  memMiB: number;
  /** Percent of ONE core. */
  cpuPercent: number;
}

const NOW = 1_700_000_000_000;

/** A snapshot whose host figures are exactly the sum of their VMs (no hypervisor overhead: the policy's mem_reserve_mib stands for it). */
export function buildSnapshot(hosts: readonly HostShape[], vms: readonly VmShape[], now = NOW): ClusterSnapshot {
  const cores = new Map<string, number>();
  const mem = new Map<string, number>();
  for (const v of vms) {
    cores.set(v.host, (cores.get(v.host) ?? 0) + v.cpuPercent / 100);
    mem.set(v.host, (mem.get(v.host) ?? 0) + v.memMiB);
  }
  const snapHosts: SnapshotHost[] = hosts.map((h, i) => {
    const cpu = (100 * (cores.get(h.id) ?? 0)) / h.cpus;
    const memUsed = mem.get(h.id) ?? 0;
    return {
      id: h.id,
      cpus: h.cpus,
      memTotalMiB: h.memTotalMiB,
      memAvailableMiB: Math.max(0, h.memTotalMiB - memUsed),
      cpuPercent: cpu,
      lastSeen: now - 1000,
      samples: [{ ts: now - 1000, cpu, mem: (100 * memUsed) / h.memTotalMiB }],
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      maintenance: false,
      tags: [],
    };
  });
  const snapVms: SnapshotVm[] = vms.map((v) => ({
    name: v.name,
    host: v.host,
    state: "running",
    vcpus: v.vcpus,
    memMiB: v.memMiB,
    cpuPercent: v.cpuPercent,
    tags: [],
  }));
  return { v: 1, takenAt: now, hosts: snapHosts, vms: snapVms, inFlight: [], history: [], frozenVms: [], incompatible: [] };
}

/** Per-host capacity under the policy: CPU cores, memory MiB (the planner's three memory checks). */
export function hostCapacity(h: HostShape, p: Policy): { cores: number; memMiB: number } {
  const cpuShare = Math.min(p.consolidate_load, p.max_load_candidate) / 100;
  const memMiB = Math.min((p.max_mem_candidate / 100) * h.memTotalMiB, p.mem_overcommit * h.memTotalMiB - p.mem_reserve_mib, h.memTotalMiB - p.mem_reserve_mib);
  return { cores: h.cpus * cpuShare, memMiB: Math.max(0, memMiB) };
}

/** Fewest hosts (largest first) whose capacities add up to `demand`. */
function fewestCovering(caps: number[], demand: number): number {
  const sorted = [...caps].sort((a, b) => b - a);
  let sum = 0;
  for (let k = 0; k < sorted.length; k++) {
    if (sum >= demand - 1e-9) return k;
    sum += sorted[k]!;
  }
  return sum >= demand - 1e-9 ? sorted.length : Infinity;
}

export interface LowerBound {
  hosts: number;
  byCpu: number;
  byMem: number;
  byCount: number;
  binding: "cpu" | "mem" | "count";
}

/** Bin-packing lower bound, per resource (rounded up), max over resources. */
export function lowerBound(hosts: readonly HostShape[], vms: readonly VmShape[], p: Policy): LowerBound {
  const caps = hosts.map((h) => hostCapacity(h, p));
  const byCpu = fewestCovering(
    caps.map((c) => c.cores),
    vms.reduce((s, v) => s + v.cpuPercent / 100, 0),
  );
  const byMem = fewestCovering(
    caps.map((c) => c.memMiB),
    vms.reduce((s, v) => s + v.memMiB, 0),
  );
  const byCount = Math.ceil(vms.length / p.max_vm_per_host);
  const hostsLb = Math.max(byCpu, byMem, byCount);
  return { hosts: hostsLb, byCpu, byMem, byCount, binding: hostsLb === byCpu ? "cpu" : hostsLb === byMem ? "mem" : "count" };
}

/** The snapshot after the plan's moves have completed. */
export function applyMoves(s: ClusterSnapshot, moves: readonly Pick<PlannedMove, "vm" | "destination">[]): ClusterSnapshot {
  const dest = new Map(moves.map((m) => [m.vm, m.destination]));
  const vms = s.vms.map((v) => (dest.has(v.name) ? { ...v, host: dest.get(v.name)! } : v));
  const byId = new Map(s.hosts.map((h) => [h.id, { cpus: h.cpus, memTotalMiB: h.memTotalMiB, id: h.id }]));
  const rebuilt = buildSnapshot(
    [...byId.values()],
    vms.map((v) => ({ name: v.name, host: v.host, vcpus: v.vcpus, memMiB: v.memMiB, cpuPercent: v.cpuPercent ?? 0 })),
    s.takenAt,
  );
  return { ...rebuilt, hosts: rebuilt.hosts.map((h, i) => ({ ...h, address: s.hosts[i]!.address })) };
}

export const usedHosts = (s: ClusterSnapshot): number => new Set(s.vms.filter((v) => v.state === "running" || v.state === "paused").map((v) => v.host)).size;

export interface ConsolidationRun {
  before: number;
  after: number;
  plans: number;
  moves: number;
  ms: number;
  stoppedBy: "no-moves" | "max-plans" | "time";
  /** Decision codes of the last plan that moved nothing (why it stopped). */
  lastCodes: Record<string, number>;
}

export function consolidateUntilStable(start: ClusterSnapshot, policy: Policy, maxPlans: number, maxMs: number): ConsolidationRun {
  let s = start;
  const t0 = performance.now();
  let plans = 0;
  let moves = 0;
  let stoppedBy: ConsolidationRun["stoppedBy"] = "max-plans";
  let lastCodes: Record<string, number> = {};
  while (plans < maxPlans) {
    if (performance.now() - t0 > maxMs) {
      stoppedBy = "time";
      break;
    }
    const p = plan(s, policy, s.takenAt, { mode: "consolidate" });
    plans += 1;
    if (p.moves.length === 0) {
      stoppedBy = "no-moves";
      lastCodes = {};
      for (const d of p.decisions) lastCodes[d.code] = (lastCodes[d.code] ?? 0) + 1;
      break;
    }
    moves += p.moves.length;
    // Time passes between plans (the moves finished); cooldowns are not what is measured here.
    s = applyMoves(s, p.moves);
  }
  return { before: usedHosts(start), after: usedHosts(s), plans, moves, ms: performance.now() - t0, stoppedBy, lastCodes };
}

// --- clusters -------------------------------------------------------------------------------

/** Random: mixed hosts (32 cores/256 GiB, 64/512; `uniform`: all 64/512), 4..16 VMs each of mixed shapes, low CPU. */
export function randomCluster(nHosts: number, seed: number, uniform = false): { hosts: HostShape[]; vms: VmShape[] } {
  const rnd = mulberry32(seed);
  const shapes = [
    { vcpus: 1, mem: 2048 },
    { vcpus: 2, mem: 4096 },
    { vcpus: 4, mem: 8192 },
    { vcpus: 8, mem: 16384 },
  ];
  const hosts: HostShape[] = [];
  const vms: VmShape[] = [];
  for (let h = 0; h < nHosts; h++) {
    const big = rnd() < 0.5 || uniform;
    const host = { id: `hv-${String(h).padStart(5, "0")}`, cpus: big ? 64 : 32, memTotalMiB: (big ? 512 : 256) * 1024 };
    hosts.push(host);
    const n = 4 + Math.floor(rnd() * 13);
    for (let v = 0; v < n; v++) {
      const s = shapes[Math.floor(rnd() * shapes.length)]!;
      vms.push({ name: `vm-${h}-${v}`, host: host.id, vcpus: s.vcpus, memMiB: s.mem, cpuPercent: Math.round(s.vcpus * 100 * rnd() * 0.5 * 10) / 10 });
    }
  }
  return { hosts, vms };
}

export const PLANETLAB_DIR = join(sharedDataDir(), "planetlab");

/**
 * Trace-shaped (CloudSim's PlanetLab set-up, shared/notes/cloudsim.md): one VM per trace file of a
 * day (sorted names), 1 vCPU, type floor(i / ceil(N/4)) of 2500/870, 2000/1740, 1000/1740,
 * 500/613 (MIPS/MB). CPU = trace value at sample `at` (percent of the VM's MIPS), in cores of
 * 2660 MIPS, capped at one core. Hosts: 2 cores, 4096 MB (CloudSim's G4/G5, both counted at the
 * G5's 2660 MIPS per core). Initial placement: random (seeded) on N / `vmsPerHost` hosts, within
 * `memCapMiB` per host. (Round-robin pairs deadlock any emptying strategy: every host then holds a
 * 1740 MB VM that fits nowhere.)
 */
export function traceCluster(
  day: string,
  at: number,
  vmsPerHost: number,
  memCapMiB: number,
  seed = 1,
  dir = PLANETLAB_DIR,
): { hosts: HostShape[]; vms: VmShape[] } {
  const files = readdirSync(join(dir, day)).sort();
  const n = files.length;
  const types = [
    { mips: 2500, mem: 870 },
    { mips: 2000, mem: 1740 },
    { mips: 1000, mem: 1740 },
    { mips: 500, mem: 613 },
  ];
  const per = Math.ceil(n / 4);
  const nHosts = Math.ceil(n / vmsPerHost);
  const hosts: HostShape[] = Array.from({ length: nHosts }, (_, h) => ({ id: `pl-${String(h).padStart(4, "0")}`, cpus: 2, memTotalMiB: 4096 }));
  const rnd = mulberry32(seed);
  const memUsed = new Array<number>(nHosts).fill(0);
  const place = (mem: number): string => {
    for (let k = 0; k < 50; k++) {
      const h = Math.floor(rnd() * nHosts);
      if (memUsed[h]! + mem <= memCapMiB) return ((memUsed[h]! += mem), hosts[h]!.id);
    }
    const h = memUsed.findIndex((u) => u + mem <= memCapMiB);
    if (h < 0) throw new Error(`traceCluster: ${n} VMs do not fit on ${nHosts} hosts`);
    return ((memUsed[h]! += mem), hosts[h]!.id);
  };
  const vms: VmShape[] = files.map((f, i) => {
    const values = readFileSync(join(dir, day, f), "utf8")
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
    const util = (values[Math.min(at, values.length - 1)] ?? 0) / 100;
    const t = types[Math.min(3, Math.floor(i / per))]!;
    const cores = Math.min(1, (util * t.mips) / 2660);
    return { name: `pl-vm-${i}`, host: place(t.mem), vcpus: 1, memMiB: t.mem, cpuPercent: Math.round(cores * 1000) / 10 };
  });
  return { hosts, vms };
}

// --- the benchmark --------------------------------------------------------------------------

/** Caps that let a plan express all it found (quality, not pacing, is measured). */
const quality = (extra: Record<string, unknown> = {}): Policy =>
  Policy.parse({
    strategies: ["consolidate"],
    max_moves_per_cycle: 100_000,
    max_concurrent_total: 100_000,
    max_concurrent_per_source: 1000,
    max_concurrent_per_destination: 1000,
    max_vm_per_host: 60,
    ...extra,
  });

export async function consolidationQuality(log: (s: string) => void): Promise<Figure[]> {
  const figures: Figure[] = [];
  const cases: { name: string; hosts: HostShape[]; vms: VmShape[]; policy: Policy }[] = [];
  cases.push({ name: "random_mixed_1000_hosts", ...randomCluster(1000, 7), policy: quality() });
  cases.push({ name: "random_uniform_1000_hosts", ...randomCluster(1000, 7, true), policy: quality() });
  const days = existsSync(PLANETLAB_DIR) ? readdirSync(PLANETLAB_DIR).sort() : [];
  if (days.length > 0) {
    // 4 GB hosts: the default 1 GiB reserve would be a quarter of the host; 256 MiB stands for the hypervisor.
    const policy = quality({ mem_reserve_mib: 256 });
    for (const day of days.slice(0, 2)) {
      const t = traceCluster(day, 144, 2, hostCapacity({ id: "x", cpus: 2, memTotalMiB: 4096 }, policy).memMiB);
      cases.push({ name: `planetlab_${day}_noon`, ...t, policy });
    }
  } else log(`  trace-shaped case skipped: ${PLANETLAB_DIR} not readable`);
  for (const c of cases) {
    const lb = lowerBound(c.hosts, c.vms, c.policy);
    const run = consolidateUntilStable(buildSnapshot(c.hosts, c.vms), c.policy, 200, 60_000);
    const codes = Object.entries(run.lastCodes)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, n]) => `${k}×${n}`)
      .join(" ");
    log(
      `  ${c.name}: ${c.vms.length} VMs on ${run.before} hosts -> ${run.after} hosts in ${run.plans} plans, ${run.moves} moves, ${run.ms.toFixed(0)} ms (${run.stoppedBy}); bound ${lb.hosts} (cpu ${lb.byCpu}, mem ${lb.byMem}, count ${lb.byCount}); last plan: ${codes}`,
    );
    figures.push(
      figure(
        `consolidate.${c.name}.hosts_used_vs_bound`,
        run.after / lb.hosts,
        "x",
        { kind: "limit", label: "lower bound + 5 %", value: 1.05 },
        "lower",
        `${run.after} hosts used, lower bound ${lb.hosts} (${lb.binding}-bound), from ${run.before}; ${run.plans} plans, ${run.moves} moves`,
      ),
    );
  }
  return figures;
}
