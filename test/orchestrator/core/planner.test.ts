import { describe, expect, it } from "vitest";
import { explainVm } from "../../../orchestrator/core/explain-vm.js";
import { plan } from "../../../orchestrator/core/planner.js";
import { Plan } from "../../../shared/schemas/plan.js";
import { flight, host, NOW, past, policy, snapshot, vm } from "./builders.js";

const cluster = () =>
  snapshot(
    [host("a", { cpu: 92 }), host("b", { cpu: 20 }), host("c", { cpu: 35, mem: 50 }), host("d", { cpu: 10, lastSeenAgo: 100 })],
    [vm("x1", "a", { cpu: 200 }), vm("x2", "a", { cpu: 150, mem: 4096 }), vm("y1", "b"), vm("z1", "c", { cpu: null })],
    { history: [past("y1", "c", "b", 5000)], inFlight: [flight("q", "c", "b")] },
  );

describe("plan", () => {
  it("returns a plan that satisfies the Plan schema", () => {
    const p = plan(cluster(), policy({ strategies: ["hotspot", "balance", "consolidate"] }), NOW);
    expect(() => Plan.parse(p)).not.toThrow();
    expect(p.createdAt).toBe(NOW);
  });

  it("same input → byte-identical plan, also with shuffled input order", () => {
    const pol = policy({ strategies: ["hotspot", "balance", "consolidate"] });
    const s = cluster();
    const shuffled = { ...s, hosts: [...s.hosts].reverse(), vms: [...s.vms].reverse(), history: [...s.history].reverse() };
    const a = JSON.stringify(plan(s, pol, NOW));
    expect(JSON.stringify(plan(s, pol, NOW))).toBe(a);
    expect(JSON.stringify(plan(shuffled, pol, NOW))).toBe(a);
  });

  it("the plan id changes with the inputs; the snapshot digest only with placement", () => {
    const s = cluster();
    const p1 = plan(s, policy(), NOW);
    const p2 = plan(s, policy(), NOW + 1000);
    const p3 = plan(s, policy({ load_threshold: 85 }), NOW);
    expect(new Set([p1.id, p2.id, p3.id]).size).toBe(3);
    expect(p2.snapshotDigest).toBe(p1.snapshotDigest);
    expect(plan({ ...s, vms: s.vms.map((v) => (v.name === "y1" ? { ...v, host: "c" } : v)) }, policy(), NOW).snapshotDigest).not.toBe(p1.snapshotDigest);
  });

  it("a VM's other listings and a move's strategy are inputs: they change the id (and the listings the digest), and leave the others' ids alone", () => {
    const s = cluster();
    const p1 = plan(s, policy(), NOW);
    const listed = plan({ ...s, vms: s.vms.map((v) => (v.name === "y1" ? { ...v, alsoListedOn: ["c"] } : v)) }, policy(), NOW);
    expect(listed.id).not.toBe(p1.id);
    expect(listed.snapshotDigest).not.toBe(p1.snapshotDigest);
    const forced = plan({ ...s, history: s.history.map((m) => ({ ...m, strategy: "evacuate" as const })) }, policy(), NOW);
    expect(forced.id).not.toBe(p1.id);
    expect(forced.snapshotDigest).toBe(p1.snapshotDigest);
  });

  it("names every silent host HOST_STALE with its age, and NO_HOTSPOT does not pass them off as cool", () => {
    const s = snapshot([host("a", { cpu: 20 }), host("b", { cpu: 95, lastSeenAgo: 100 }), host("c", { cpu: 10, lastSeenAgo: 3600 })], [vm("b1", "b")]);
    const p = plan(s, policy(), NOW);
    expect(p.decisions.filter((d) => d.code === "HOST_STALE").map((d) => [d.subject, d.numbers.silentSeconds])).toEqual([
      ["b", 100],
      ["c", 3600],
    ]);
    expect(p.decisions.find((d) => d.subject === "b" && d.code === "HOST_STALE")).toMatchObject({
      kind: "host",
      message: "host b silent for 100.0 s > stale_after 35 s: it is neither relieved nor a destination, and its VMs are not moved",
      numbers: { stale_after: 35, lastSeen: NOW - 100_000 },
    });
    expect(p.decisions.find((d) => d.code === "NO_HOTSPOT")).toMatchObject({ numbers: { hosts: 3, staleHosts: 2 } });
    expect(p.decisions.find((d) => d.code === "NO_HOTSPOT")?.message).toContain("2 of 3 hosts silent");
  });

  it("cycle runs hot-spot relief first, then the other strategies on the same working copy and caps", () => {
    const p = plan(cluster(), policy({ strategies: ["balance", "hotspot"], balance_threshold: 0, min_gain: 0, max_moves_per_cycle: 1 }), NOW);
    expect(p.moves.map((m) => m.strategy)).toEqual(["hotspot"]);
    expect(p.decisions.find((d) => d.strategy === "balance")?.code).toBe("MOVES_PER_CYCLE");
  });

  it("indicators count moves, bytes and overloaded hosts before and after", () => {
    const p = plan(cluster(), policy(), NOW);
    expect(p.indicators.migrations).toBe(p.moves.length);
    expect(p.indicators.overloadedBefore).toBe(1);
    expect(p.indicators.overloadedAfter).toBe(0);
    expect(p.indicators.bytesToMove).toBe(p.moves.reduce((n, m) => n + (m.vm === "x2" ? 4096 : 2048) * 1048576, 0));
  });

  it("bounds decisions on a large saturated cluster (counts per code plus a few hosts per VM)", () => {
    const hosts = [host("hot", { cpu: 99 })];
    for (let i = 0; i < 2000; i++) hosts.push(host(`h${String(i).padStart(4, "0")}`, { cpu: 69 }));
    const vms = Array.from({ length: 30 }, (_, i) => vm(`v${i}`, "hot", { cpu: 100 }));
    const p = plan(snapshot(hosts, vms), policy({ max_vm_per_host: 100 }), NOW);
    expect(p.moves).toEqual([]);
    expect(p.decisions.length).toBeLessThanOrEqual(30 * 4 + 2);
    expect(p.decisions.find((d) => d.code === "NO_DESTINATION")?.numbers).toMatchObject({ hostsEvaluated: 2000, DEST_CPU: 2000 });
  });
});

describe("explainVm", () => {
  it("lists every host's verdict for one VM and the best host", () => {
    const e = explainVm(cluster(), policy(), NOW, "x1");
    expect(e.host).toBe("a");
    expect(e.movable).toBe(true);
    expect(Object.fromEntries(e.hosts.map((h) => [h.subject, h.code]))).toEqual({ b: "DEST_OK", c: "DEST_OK", d: "DEST_SILENT" });
    expect(e.best).toBe("b");
  });

  it("explains an unknown VM", () => {
    expect(explainVm(cluster(), policy(), NOW, "nope").vmDecision?.code).toBe("VM_UNKNOWN");
  });
});
