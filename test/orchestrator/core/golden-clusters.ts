import type { PlacementRule } from "../../../shared/config/policy.js";
import type { PolicyInput } from "../../../shared/config/policy.js";
import { seededRandom } from "../../../shared/seeded-random.js";
import type { ClusterSnapshot, InFlightMigration, PastMove, SnapshotHost, SnapshotVm } from "../../../shared/schemas/snapshot.js";
import { flight, host, NOW, past, snapshot, vm } from "./builders.js";

// Seeded clusters that exercise every corner the planner has (silent, unhealthy and maintenance
// hosts, hosts without an address, paused and shut-off VMs, unmeasured CPU, in-flight and past
// moves, frozen VMs, duplicate listings, rules of every kind, mixed core speeds, steady loads that
// adapt the CPU headroom). planner.golden.test.ts pins the plans made on them: a refactoring of the
// core must leave every one byte-identical.

export interface GoldenCase {
  name: string;
  snapshot: ClusterSnapshot;
  policy: PolicyInput;
}

const POLICIES: [string, PolicyInput][] = [
  ["default", {}],
  ["all-strategies", { strategies: ["hotspot", "balance", "consolidate"], spare_hosts: 0 }],
  ["balance-consolidate", { strategies: ["balance", "consolidate"], balance_threshold: 2, min_gain: 0.5, consolidate_load: 75 }],
  [
    "tight",
    {
      strategies: ["hotspot", "consolidate"],
      max_moves_per_cycle: 2,
      max_concurrent_total: 3,
      max_concurrent_per_source: 1,
      max_concurrent_per_destination: 1,
      predict_window: 0,
      headroom_min_share: 1,
    },
  ],
  ["operator-friendly", { strategies: ["hotspot", "balance"], host_settle: 0, vm_cooldown: 0, max_over: 0, mem_overcommit: 1.5, max_vm_per_host: 6 }],
];

export function goldenCases(count: number, seed: number): GoldenCase[] {
  const rnd = seededRandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: GoldenCase[] = [];
  for (let c = 0; c < count; c++) {
    const steady = c % 5 === 4; // adapts the CPU headroom: at least 5 busy hosts with small swings
    const nHosts = steady ? int(6, 10) : int(2, 9);
    const hosts: SnapshotHost[] = [];
    for (let i = 0; i < nHosts; i++) {
      const cpu = int(0, 100);
      const mem = int(5, 95);
      const swing = steady ? rnd() * 2 : rnd() * 15;
      const overFor = pick([0, 30, 60, 120, 300]);
      const samples = [];
      for (let t = overFor + 60, k = 0; t >= 0; t -= 10, k++)
        samples.push({ ts: NOW - t * 1000, cpu: Math.max(0, Math.min(100, t > overFor ? cpu - 30 : cpu + (k % 2 === 0 ? swing : -swing))), mem });
      const h = host(`h${i}`, {
        cpus: pick([4, 8, 16, 32]),
        memGiB: pick([16, 32, 64, 128]),
        cpu,
        mem,
        samples,
        lastSeenAgo: rnd() < 0.08 ? 100 : 0,
        maintenance: rnd() < 0.08,
        ...(rnd() < 0.06 ? { address: null } : {}),
        ...(rnd() < 0.05 ? { collectError: "virsh domstats: cannot connect to libvirtd" } : {}),
      });
      if (rnd() < 0.2) h.cpuSpeed = pick([0.8, 1.25, 1.5]);
      hosts.push(h);
    }
    const vms: SnapshotVm[] = [];
    const nVms = int(0, nHosts * 4);
    for (let i = 0; i < nVms; i++) {
      const state = pick(["running", "running", "running", "running", "running", "paused", "shutoff"] as const);
      const v = vm(`v${i}`, `h${int(0, nHosts - 1)}`, {
        mem: int(256, 12_288),
        cpu: rnd() < 0.15 ? null : int(0, 400),
        vcpus: int(1, 8),
        state,
        ...(rnd() < 0.2 ? { dirty: int(0, 300) } : {}),
      });
      vms.push(v);
    }
    if (vms.length > 0 && rnd() < 0.1) vms.push({ ...vms[0]!, host: `h${(Number(vms[0]!.host.slice(1)) + 1) % nHosts}`, state: "paused" });
    const inFlight: InFlightMigration[] = [];
    for (const v of vms.slice(0, int(0, 2))) {
      const dest = `h${(Number(v.host.slice(1)) + 1) % nHosts}`;
      if (dest !== v.host) inFlight.push(flight(v.name, v.host, dest, { mem: v.memMiB, cpu: v.cpuPercent ?? 0 }));
    }
    const history: PastMove[] = [];
    for (let k = int(0, 4); k > 0 && vms.length > 0; k--) {
      const v = pick(vms);
      history.push(past(v.name, `h${int(0, nHosts - 1)}`, v.host, int(1, 5000), pick(["succeeded", "succeeded", "failed", "aborted"] as const)));
    }
    const rules: PlacementRule[] = [];
    for (let k = int(0, 3); k > 0 && vms.length >= 2; k--) {
      const type = pick(["affinity", "anti-affinity", "vm-host", "vm-not-host"] as const);
      const strength = pick(["must", "must", "should"] as const);
      const a = pick(vms).name;
      let b = pick(vms).name;
      if (b === a) b = vms.find((x) => x.name !== a)?.name ?? `${a}-peer`;
      const name = `r${k}`;
      if (type === "vm-host" || type === "vm-not-host") rules.push({ name, type, strength, vms: [a, b], hosts: [`h${int(0, nHosts - 1)}`] });
      else rules.push({ name, type, strength, vms: [a, b] });
    }
    const frozenVms = vms.length > 3 && rnd() < 0.15 ? [vms[3]!.name] : [];
    const [pname, pol] = POLICIES[c % POLICIES.length]!;
    out.push({
      name: `c${c}-${pname}${steady ? "-steady" : ""}`,
      snapshot: snapshot(hosts, vms, { inFlight, history, frozenVms }),
      policy: { ...pol, rules, pinned_vms: vms.length > 5 && rnd() < 0.2 ? [vms[5]!.name] : [], excluded_hosts: nHosts > 3 && rnd() < 0.1 ? ["h3"] : [] },
    });
  }
  return out;
}
