import { describe, expect, it } from "vitest";
import { plan } from "../../../orchestrator/core/planner.js";
import type { PolicyInput } from "../../../shared/config/policy.js";
import type { HostFacts } from "../../../shared/schemas/facts.js";
import type { PlanRequest } from "../../../shared/schemas/plan.js";
import { seededRandom } from "../../../shared/seeded-random.js";
import type { ClusterSnapshot, IncompatiblePair, SnapshotHost, SnapshotVm } from "../../../shared/schemas/snapshot.js";
import { host, NOW, policy, snapshot, vm } from "./builders.js";
import { disk, featuresOf, GENERATIONS, hostFacts, localDisk, vmFacts, type VmFactsIn } from "./facts-builders.js";

// Property: on random clusters with random facts, no plan of any strategy ever moves a VM to a
// destination its facts rule out. The check below is an independent, plain re-reading of the
// rules (no classes, no requirement keys, no cache): per move, the VM's facts against the
// destination's as the snapshot gives them, huge pages counted over the plan's moves in order.

const CLUSTERS = 300;

function randomCluster(seed: number): { s: ClusterSnapshot; p: PolicyInput } {
  const rnd = seededRandom(seed);
  const int = (lo: number, hi: number): number => lo + Math.floor(rnd() * (hi - lo + 1));
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const maybe = (p: number): boolean => rnd() < p;
  const nHosts = int(3, 8);
  const hosts: SnapshotHost[] = [];
  for (let i = 0; i < nHosts; i++) {
    const base = host(`h${i}`, { cpus: pick([4, 8, 16]), memGiB: pick([32, 64]), cpu: int(0, 100), mem: int(5, 90), overFor: pick([0, 120, 300]) });
    if (maybe(0.1)) {
      hosts.push(base);
      continue;
    }
    const gen = int(0, 3);
    const f = hostFacts({
      gen,
      domainTypes: maybe(0.1) ? ["qemu"] : ["kvm", "qemu"],
      libvirtVersion: pick(["8.0.0", "9.0.0", "9.0.0"]),
      qemuVersion: pick(["6.2.0", "7.2.0", "7.2.0"]),
      machineTypes: maybe(0.2) ? ["pc-q35-6.2"] : ["pc-q35-6.2", "pc-q35-7.2"],
      networks: maybe(0.5) ? ["default", "ext-net"] : ["default"],
      bridges: maybe(0.6) ? ["br-db", "br0"] : ["br0"],
      sharedStorage: [
        ...(maybe(0.6) ? [{ path: "/mnt/ceph", kind: "ceph" as const }] : []),
        ...(maybe(0.9) ? [{ path: "/var/lib/libvirt/images/shared", kind: "nfs4" as const }] : []),
      ],
      hugepages: maybe(0.4) ? [{ sizeKiB: 2048, free: int(0, 4096) }] : [],
      cpu: maybe(0.15) ? { features: featuresOf(gen).filter(() => maybe(0.95)) } : {},
    });
    hosts.push({ ...base, facts: f });
  }
  const vms: SnapshotVm[] = [];
  const nVms = int(4, 20);
  for (let i = 0; i < nVms; i++) {
    const h = pick(hosts);
    const base = vm(`v${String(i).padStart(2, "0")}`, h.id, { mem: pick([1024, 2048, 4096]), cpu: maybe(0.1) ? null : int(0, 400), vcpus: int(1, 4) });
    const known = h.facts !== undefined ? !maybe(0.05) : maybe(0.3);
    if (!known) {
      vms.push(base);
      continue;
    }
    const gen = h.facts
      ? int(
          0,
          GENERATIONS.findIndex((g) => g.model === h.facts!.cpu.model),
        )
      : int(0, 3);
    const r = rnd();
    const f: VmFactsIn = vmFacts({
      gen,
      machine: maybe(0.3) ? "pc-q35-7.2" : "pc-q35-6.2",
      domainType: maybe(0.1) ? "qemu" : "kvm",
      bridges: maybe(0.3) ? ["br0", "br-db"] : ["br0"],
      networks: maybe(0.2) ? ["ext-net"] : [],
      disks: [
        r < 0.15
          ? localDisk(int(1, 40))
          : r < 0.3
            ? disk({ type: "network", source: "rbd:pool/x" })
            : disk({ source: maybe(0.4) ? "/mnt/ceph/x.raw" : "/var/lib/libvirt/images/shared/x.qcow2" }),
      ],
      ...(maybe(0.1) ? { cpu: { mode: "host-passthrough" as const, model: undefined, required: [] } } : {}),
      ...(maybe(0.1) ? { hugepageKiB: 2048 } : {}),
      ...(maybe(0.1) ? { pinnedCpus: pick([4, 8, 12]) } : {}),
      ...(maybe(0.05) ? { migratable: false, reasons: [{ code: "HOSTDEV" as const, detail: "pci 0000:3b:00.0" }] } : {}),
    });
    vms.push({ ...base, facts: f });
  }
  const incompatible: IncompatiblePair[] = [];
  for (let k = 0; k < int(0, 3); k++) incompatible.push({ vm: pick(vms).name, destination: pick(hosts).id, since: NOW - 1000, error: "refused" });
  const p: PolicyInput = {
    strategies: ["hotspot", "balance", "consolidate"],
    local_disks: maybe(0.5) ? "copy" : "skip",
    local_disks_vms: maybe(0.3) ? { [pick(vms).name]: pick(["copy", "skip"] as const) } : {},
    balance_threshold: 2,
    min_gain: 0.5,
    consolidate_load: 80,
  };
  return { s: snapshot(hosts, vms, { incompatible }), p };
}

const under = (path: string, root: string): boolean => path === root || path.startsWith(root.replace(/\/$/, "") + "/");
const cmpV = (a: string, b: string): number => {
  const x = a.split(".").map(Number);
  const y = b.split(".").map(Number);
  for (let i = 0; i < 4; i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
  return 0;
};

/** Why the facts forbid `v` (from `src`) on `dst`, or null; `used` counts huge pages taken by earlier moves. */
function forbidden(v: SnapshotVm, src: SnapshotHost, dst: SnapshotHost, pol: PolicyInput, s: ClusterSnapshot, used: Map<string, number>): string | null {
  if (s.incompatible.some((x) => x.vm === v.name && x.destination === dst.id)) return "pair";
  const f = v.facts;
  if (!f) return src.facts ? "vm facts unknown" : null;
  if (!f.migratable) return "not migratable";
  const local = f.disks.some((d) => !d.shared && !d.readonly && d.source !== undefined && d.device === "disk");
  if (local && (pol.local_disks_vms?.[v.name] ?? pol.local_disks) === "skip") return "local disks";
  const d = dst.facts;
  if (!d) return "dest facts unknown";
  if (!d.domainTypes.includes(f.domainType) || d.cpu.arch !== f.arch) return "domain";
  if (f.cpu.mode === "host-passthrough") {
    // The guest sees the source's CPU: unknown source, no destination can be judged.
    if (!src.facts) return "passthrough, source unknown";
    const sc = src.facts.cpu;
    if (sc.model !== d.cpu.model || sc.vendor !== d.cpu.vendor || sc.features.some((x) => !d.cpu.features.includes(x))) return "passthrough cpu";
  } else if (f.cpu.mode === "custom") {
    if (f.cpu.model && !d.cpu.usableModels.includes(f.cpu.model)) return "model";
    if (f.cpu.required.some((x) => !d.cpu.features.includes(x))) return "features";
  }
  if (!d.machineTypes.includes(f.machine)) return "machine";
  // Versions: only against a source whose versions are known.
  const sf: HostFacts | undefined = src.facts;
  if (sf && cmpV(d.libvirtVersion, sf.libvirtVersion) < 0) return "libvirt";
  if (sf?.qemuVersion && d.qemuVersion && cmpV(d.qemuVersion, sf.qemuVersion) < 0) return "qemu";
  for (const n of f.interfaces) {
    if (n.type === "network" && !d.networks.includes(n.source!)) return "network";
    if (n.type === "bridge" && !d.bridges.includes(n.source!)) return "bridge";
  }
  for (const k of f.disks)
    if (k.shared && k.type === "file" && k.source?.startsWith("/") && !d.sharedStorage.some((x) => under(k.source!, x.path))) return "storage";
  if (f.hugepageKiB) {
    const need = Math.ceil((v.memMiB * 1024) / f.hugepageKiB);
    const free = (d.hugepages.find((x) => x.sizeKiB === f.hugepageKiB)?.free ?? 0) - (used.get(dst.id) ?? 0);
    if (free < need) return "hugepages";
    used.set(dst.id, (used.get(dst.id) ?? 0) + need);
  }
  if (f.pinnedCpus !== undefined && f.pinnedCpus > dst.cpus) return "pinning";
  return null;
}

describe("facts property: no plan moves a VM where its facts forbid", () => {
  it(`holds on ${CLUSTERS} random clusters, every strategy`, () => {
    let moves = 0;
    let refusals = 0;
    for (let c = 0; c < CLUSTERS; c++) {
      const { s, p } = randomCluster(9000 + c);
      const pol = policy(p);
      const requests: PlanRequest[] = [
        { mode: "cycle" },
        { mode: "balance" },
        { mode: "consolidate" },
        { mode: "evacuate", host: s.hosts[0]!.id, placement: "stripe", useEmptyHosts: true },
        { mode: "evacuate", host: s.hosts[1]!.id, placement: "pack", useEmptyHosts: true },
      ];
      for (const req of requests) {
        const out = plan(s, pol, NOW, req);
        const used = new Map<string, number>();
        for (const m of out.moves) {
          const v = s.vms.find((x) => x.name === m.vm)!;
          const src = s.hosts.find((x) => x.id === v.host)!;
          const dst = s.hosts.find((x) => x.id === m.destination)!;
          const why = forbidden(v, src, dst, p, s, used);
          expect(why, `cluster ${c} ${req.mode}: ${m.vm} ${src.id} → ${dst.id}`).toBeNull();
          // Its huge pages are free again on the host it leaves.
          const hp = v.facts?.hugepageKiB;
          if (hp) used.set(src.id, (used.get(src.id) ?? 0) - Math.ceil((v.memMiB * 1024) / hp));
          moves += 1;
        }
        refusals += out.decisions.filter(
          (d) => d.code.startsWith("DEST_") && d.code !== "DEST_OK" && /FACTS|DOMAIN|INCOMPATIBLE|MISSING|OLDER|HUGEPAGES|PINNING/.test(d.code),
        ).length;
      }
    }
    // The property is not vacuous: plans moved VMs, and facts refused destinations.
    expect(moves).toBeGreaterThan(300);
    expect(refusals).toBeGreaterThan(300);
  });
});
