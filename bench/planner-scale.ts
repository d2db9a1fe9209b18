import { performance } from "node:perf_hooks";
import { plan } from "../orchestrator/core/index.js";
import { Policy } from "../shared/config/policy.js";
import type { ClusterSnapshot } from "../shared/schemas/snapshot.js";
import { figure, type Figure } from "./figures.js";
import { collectGarbage, sleep } from "./support.js";
import { syntheticCluster } from "./synthetic-cluster.js";

// Planner scale: every strategy with rules, on 100 .. 10,000 hosts at 20 VMs per host.
// The floor is one pass that only reads the snapshot (what any planner must at least do).
// Each size runs twice, side by side: without facts, and with the migratability facts of a mixed
// cluster (synthetic-cluster.ts: four CPU generations, networks on some racks, shared storage,
// local disks, a few unmovable VMs), the same loads. Both must stay under 2 s at 10,000 hosts and
// grow no faster than n log n.

const SIZES = [100, 1000, 5000, 10000];
const GC_SETTLE_MS = 50;

function readOnlyPass(s: ClusterSnapshot): number {
  let acc = 0;
  const perHost = new Map<string, number>();
  for (const h of s.hosts) {
    acc += h.cpuPercent + h.memAvailableMiB;
    for (const x of h.samples) acc += x.cpu;
    perHost.set(h.id, 0);
  }
  for (const v of s.vms) {
    acc += (v.cpuPercent ?? 0) + v.memMiB;
    perHost.set(v.host, (perHost.get(v.host) ?? 0) + 1);
  }
  return acc + perHost.size;
}

function policyWithRules(s: ClusterSnapshot): Policy {
  const rules = [];
  for (let i = 0; i + 1 < Math.min(s.vms.length, 400); i += 2)
    rules.push({ name: `spread-${i}`, type: "anti-affinity" as const, strength: "must" as const, vms: [s.vms[i]!.name, s.vms[i + 1]!.name] });
  for (let i = 0; i < Math.min(s.vms.length, 200); i += 10)
    rules.push({
      name: `pin-${i}`,
      type: "vm-not-host" as const,
      strength: "should" as const,
      vms: [s.vms[i]!.name],
      hosts: [s.hosts[(i * 7) % s.hosts.length]!.id],
    });
  return Policy.parse({
    strategies: ["hotspot", "balance", "consolidate"],
    max_moves_per_cycle: 1000,
    max_concurrent_total: 1000,
    max_concurrent_per_source: 10,
    max_concurrent_per_destination: 10,
    rules,
  });
}

/** Best of `runs` timings of each job, run round-robin with a full GC before each timing. */
async function timeInterleaved(jobs: (() => unknown)[], runs: number): Promise<number[]> {
  const best = jobs.map(() => Infinity);
  for (let r = 0; r < runs; r++)
    for (let j = 0; j < jobs.length; j++) {
      collectGarbage();
      // V8 finishes sweeping on helper threads after a full GC; on 2 cores they would compete.
      await sleep(GC_SETTLE_MS);
      const t0 = performance.now();
      jobs[j]!();
      best[j] = Math.min(best[j]!, performance.now() - t0);
    }
  return best;
}

export async function plannerScale(log: (s: string) => void): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const facts of [false, true]) figures.push(...(await scale(log, facts)));
  return figures;
}

async function scale(log: (s: string) => void, facts: boolean): Promise<Figure[]> {
  const figures: Figure[] = [];
  const tag = facts ? "_facts" : "";
  const cases = SIZES.map((n) => {
    const snap = syntheticCluster({ hosts: n, vmsPerHost: 20, seed: n, facts });
    return { n, snap, policy: policyWithRules(snap), moves: 0 };
  });
  // The machine is shared and noisy: best of 5, and the sizes take turns, so that a busy spell
  // slows all of them rather than skewing the growth exponent.
  const runs = 5;
  const floors = await timeInterleaved(
    cases.map((c) => () => readOnlyPass(c.snap)),
    runs,
  );
  const cycles = await timeInterleaved(
    cases.map((c) => () => {
      c.moves = plan(c.snap, c.policy, c.snap.takenAt, { mode: "cycle" }).moves.length;
    }),
    runs,
  );
  const evacs = await timeInterleaved(
    cases.map((c) => () => plan(c.snap, c.policy, c.snap.takenAt, { mode: "evacuate", host: c.snap.hosts[0]!.id, placement: "stripe", useEmptyHosts: false })),
    runs,
  );
  const times: { n: number; ms: number }[] = [];
  cases.forEach(({ n, moves }, i) => {
    const ms = cycles[i]!;
    times.push({ n, ms });
    const limit =
      n === 10000 ? { kind: "limit" as const, label: "2 s", value: 2000 } : n === 1000 ? { kind: "limit" as const, label: "1 s", value: 1000 } : undefined;
    figures.push(figure(`planner.cycle${tag}.${n}_hosts_${n * 20}_vms`, ms, "ms", limit, "lower", `${moves} moves`));
    figures.push(figure(`planner.vs_read_only${tag}.${n}_hosts`, ms, "ms", { kind: "peer", label: "read-only pass", value: Math.max(floors[i]!, 0.001) }));
    figures.push(figure(`planner.evacuate${tag}.${n}_hosts`, evacs[i]!, "ms"));
    log(`  planned ${n} hosts / ${n * 20} VMs${facts ? " with facts" : ""} in ${ms.toFixed(1)} ms (${moves} moves), evacuation ${evacs[i]!.toFixed(1)} ms`);
  });
  for (let i = 1; i < times.length; i++) {
    const a = times[i - 1]!;
    const b = times[i]!;
    const exp = Math.log(b.ms / a.ms) / Math.log(b.n / a.n);
    // n log n between the two sizes, as an exponent of n.
    const nlogn = Math.log((b.n * Math.log(b.n)) / (a.n * Math.log(a.n))) / Math.log(b.n / a.n);
    figures.push(figure(`planner.growth_exponent${tag}.${a.n}_to_${b.n}`, exp, "", { kind: "limit", label: "n log n", value: nlogn }));
  }
  return figures;
}
