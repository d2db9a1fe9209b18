import type { PlacementRule, PolicyInput } from "../../../shared/config/policy.js";
import type { HostPower } from "../../../shared/schemas/power.js";
import { seededRandom } from "../../../shared/seeded-random.js";
import type { ClusterSnapshot, InFlightMigration, SnapshotHost, SnapshotVm } from "../../../shared/schemas/snapshot.js";
import { flight, host, NOW, snapshot, vm } from "./builders.js";
import { HOUR, idle, off, powered, rising } from "./power-builders.js";

// Seeded clusters with power management on: hosts on, empty for a while, off, booting (in time or
// overdue), shutting down, of unknown state, without a driver, failed or capped; hot spots, rising
// loads and rules over the empty hosts. planner.golden.test.ts pins their plans (power actions
// included) and decision-codes.test.ts counts the codes they produce. Kept apart from
// golden-clusters.ts so those clusters, and their pinned plans, stay as they are.

export interface PowerCase {
  name: string;
  snapshot: ClusterSnapshot;
  policy: PolicyInput;
  /** A host to evacuate in this case's evacuation plan (the busiest). */
  evacuate: string;
}

const POLICIES: [string, PolicyInput][] = [
  ["power", {}],
  ["power-ops2-hosts1", { max_power_ops: 2, standby_capacity: { hosts: 1 } }],
  ["power-percent", { standby_capacity: { cpu_percent: 15, mem_percent: 15 }, strategies: ["hotspot", "consolidate"], spare_hosts: 0 }],
  ["power-maintenance", { power_off_maintenance: true, power_off_after: 600, min_on_time: 600, max_power_cycles_per_day: 2 }],
  ["power-noprediction", { predict_window: 0, strategies: ["hotspot", "balance"], max_power_ops: 3 }],
];

type Kind = "busy" | "hot" | "idle" | "off" | "booting" | "shutting_down" | "unknown";
const KINDS: readonly Kind[] = ["busy", "busy", "busy", "hot", "idle", "idle", "off", "off", "booting", "shutting_down", "unknown"];

/** Hand-made clusters for the needs random ones rarely meet: hot spots, rising demand, rule groups. */
function scenarios(): PowerCase[] {
  const hot = snapshot(
    [powered(host("a", { cpu: 95, overFor: 600 })), powered(host("b", { cpu: 75 })), off("g"), off("big", { cpus: 32, memGiB: 256 })],
    [vm("a1", "a", { cpu: 400, vcpus: 4, mem: 8192 }), vm("a2", "a", { cpu: 300, vcpus: 4 }), vm("b1", "b", { cpu: 600, vcpus: 8 })],
  );
  const demand = (offSince: number): ClusterSnapshot =>
    snapshot(
      [...["a", "b", "c"].map((id) => powered(host(id, { cpu: 45, samples: rising(5, 45) }))), off("g", {}, { since: NOW - offSince })],
      [vm("a1", "a"), vm("b1", "b"), vm("c1", "c")],
    );
  const group = snapshot(
    [powered(host("a", { cpus: 32, cpu: 10, memGiB: 256 })), powered(host("b", { cpus: 32, cpu: 10, memGiB: 256 })), idle("e"), idle("f")],
    [vm("a1", "a"), vm("b1", "b")],
  );
  // Consolidation empties b and c onto a: b is switched off with its moves (POWER_OFF_EMPTIED).
  const packable = snapshot(
    [powered(host("a", { cpu: 30 })), powered(host("b", { cpu: 30 })), powered(host("c", { cpu: 5 }))],
    [vm("a1", "a"), vm("b1", "b"), vm("c1", "c", { cpu: 40 })],
  );
  return [
    {
      name: "s-consolidate",
      snapshot: packable,
      policy: { power_management: true, headroom_min_share: 1, strategies: ["hotspot", "consolidate"], max_power_ops: 2 },
      evacuate: "a",
    },
    { name: "s-hotspot", snapshot: hot, policy: { power_management: true, headroom_min_share: 1 }, evacuate: "a" },
    { name: "s-demand", snapshot: demand(2 * HOUR), policy: { power_management: true, headroom_min_share: 1 }, evacuate: "a" },
    { name: "s-demand-min-off", snapshot: demand(600_000), policy: { power_management: true, headroom_min_share: 1 }, evacuate: "a" },
    {
      name: "s-group",
      snapshot: group,
      policy: { power_management: true, max_power_ops: 2, rules: [{ name: "pool", type: "vm-host", strength: "must", vms: ["a1"], hosts: ["e", "f"] }] },
      evacuate: "a",
    },
  ];
}

/** `count` seeded clusters, then the hand-made scenarios. */
export function powerCases(count: number, seed: number): PowerCase[] {
  return [...seededCases(count, seed), ...scenarios()];
}

function seededCases(count: number, seed: number): PowerCase[] {
  const rnd = seededRandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const out: PowerCase[] = [];
  for (let c = 0; c < count; c++) {
    const nHosts = int(3, 8);
    const hosts: SnapshotHost[] = [];
    const vms: SnapshotVm[] = [];
    const idleIds: string[] = [];
    let busiest = "h0";
    let busiestCpu = -1;
    for (let i = 0; i < nHosts; i++) {
      const id = `h${i}`;
      const kind = i === 0 ? "busy" : pick(KINDS);
      const dormant = kind === "off" || kind === "booting" || kind === "shutting_down";
      const cpu = kind === "hot" ? int(85, 98) : kind === "busy" ? int(10, 75) : int(0, 3);
      const shape = { cpus: pick([4, 8, 16, 32]), memGiB: pick([32, 64, 128]), cpu, mem: kind === "busy" || kind === "hot" ? int(20, 80) : int(2, 6) };
      const risingLoad = kind === "busy" && rnd() < 0.3;
      const h = host(id, {
        ...shape,
        ...(kind === "hot" ? { overFor: 600 } : {}),
        ...(risingLoad ? { samples: rising(Math.max(0, cpu - int(10, 30)), cpu) } : {}),
        ...(dormant ? { lastSeenAgo: int(120, 20_000) } : {}),
        maintenance: rnd() < 0.08,
      });
      const failed = rnd() < 0.1 ? pick(["ipmitool: Unable to establish IPMI v2 / RMCP+ session", "redfish: 401 Unauthorized"]) : null;
      const p: Partial<HostPower> = {
        state: kind === "busy" || kind === "hot" || kind === "idle" ? "on" : kind,
        since: NOW - pick([0.05, 0.3, 0.8, 3, 30]) * HOUR,
        switchable: rnd() < 0.85,
        emptySince: kind === "idle" ? NOW - pick([0.05, 0.4, 1, 4]) * HOUR : null,
        cyclesToday: int(0, 3),
        bootDeadline: kind === "booting" ? NOW + pick([-1, 1]) * int(60, 900) * 1000 : null,
        failed,
      };
      hosts.push(rnd() < 0.1 && kind !== "off" && kind !== "booting" ? h : powered(h, p));
      if (kind === "busy" || kind === "hot") {
        for (let k = int(1, 4); k > 0; k--)
          vms.push(vm(`v${vms.length}`, id, { cpu: int(20, (shape.cpus * 100 * cpu) / 100 / 2 + 20), vcpus: int(1, 4), mem: int(512, 8192) }));
        if (cpu > busiestCpu) {
          busiest = id;
          busiestCpu = cpu;
        }
      }
      if (kind === "idle") {
        idleIds.push(id);
        if (rnd() < 0.15) vms.push(vm(`v${vms.length}`, id, { state: "shutoff", cpu: 0 }));
      }
    }
    const inFlight: InFlightMigration[] = [];
    if (rnd() < 0.1 && vms.length > 0 && idleIds.length > 0) inFlight.push(flight(vms[0]!.name, vms[0]!.host, idleIds[0]!));
    const rules: PlacementRule[] = [];
    if (idleIds.length >= 1 && vms.length > 0 && rnd() < 0.25)
      rules.push({ name: "pool", type: "vm-host", strength: pick(["must", "should"] as const), vms: [vms[0]!.name], hosts: idleIds.slice(0, 2) });
    const [pname, pol] = POLICIES[c % POLICIES.length]!;
    out.push({
      name: `p${c}-${pname}`,
      snapshot: snapshot(hosts, vms, { inFlight }),
      policy: { power_management: true, ...pol, rules },
      evacuate: busiest,
    });
  }
  return out;
}
