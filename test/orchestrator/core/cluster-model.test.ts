import { describe, expect, it } from "vitest";
import { ClusterModel, vmCost } from "../../../orchestrator/core/cluster-model.js";
import { flight, host, NOW, policy, snapshot, vm } from "./builders.js";

describe("ClusterModel", () => {
  const p = policy();

  it("derives cores and MiB from the snapshot, sorted by id whatever the input order", () => {
    const m = new ClusterModel(
      snapshot([host("b", { cpus: 16, cpu: 50 }), host("a", { cpus: 8, cpu: 25, mem: 50, memGiB: 32 })], [vm("y", "b"), vm("x", "a", { mem: 4096 })]),
      p,
      NOW,
    );
    expect(m.hosts.map((h) => h.id)).toEqual(["a", "b"]);
    const a = m.hostById.get("a")!;
    expect(a.usedCores).toBe(2);
    expect(a.memUsedMiB).toBe(16 * 1024);
    expect(a.committedMiB).toBe(4096);
    expect(a.vmCount).toBe(1);
  });

  it("counts an in-flight migration on both ends: reserved on the destination, still carried by the source", () => {
    const s = {
      ...snapshot([host("a", { cpu: 50 }), host("b", { cpu: 0, mem: 0 })], [vm("x", "a", { mem: 4096, cpu: 200 })]),
      inFlight: [flight("x", "a", "b", { mem: 4096, cpu: 200 })],
    };
    const m = new ClusterModel(s, p, NOW);
    const a = m.hostById.get("a")!;
    const b = m.hostById.get("b")!;
    expect([a.usedCores, a.committedMiB, a.vmCount, a.inFlightOut]).toEqual([4, 4096, 1, 1]);
    expect([b.usedCores, b.memUsedMiB, b.committedMiB, b.vmCount, b.inFlightIn]).toEqual([2, 4096, 4096, 1, 1]);
    expect(m.inFlightTotal).toBe(1);
  });

  it("applyMove moves load and undo restores it exactly", () => {
    const m = new ClusterModel(snapshot([host("a", { cpu: 50 }), host("b", { cpu: 10 })], [vm("x", "a", { cpu: 100, mem: 1024 })]), p, NOW);
    const [a, b, x] = [m.hostById.get("a")!, m.hostById.get("b")!, m.vmByName.get("x")!];
    const before = JSON.stringify([a.usedCores, b.usedCores, a.memUsedMiB, b.memUsedMiB, m.byLoad.map((h) => h.id)]);
    const t = m.applyMove(x, b);
    expect(a.usedCores).toBe(3);
    expect(b.usedCores).toBeCloseTo(1.8);
    expect(x.host).toBe("b");
    expect(m.byLoad.map((h) => h.id)).toEqual(["b", "a"]);
    m.undo(t);
    expect(JSON.stringify([a.usedCores, b.usedCores, a.memUsedMiB, b.memUsedMiB, m.byLoad.map((h) => h.id)])).toBe(before);
    expect(x.host).toBe("a");
  });

  it("migration cost: memory plus dirty rate, or CPU activity when the dirty rate is unknown", () => {
    expect(vmCost({ memMiB: 1000, dirtyRateMiBs: 50, cpuPercent: 100, vcpus: 2 })).toBe(1500);
    expect(vmCost({ memMiB: 1000, cpuPercent: 100, vcpus: 2 })).toBe(1064);
    expect(vmCost({ memMiB: 1000, cpuPercent: null, vcpus: 2 })).toBe(1128);
  });

  it("reports duplicate VMs and VMs on unknown hosts", () => {
    const m = new ClusterModel(snapshot([host("a")], [vm("x", "a"), vm("x", "a2"), vm("y", "zz")]), p, NOW);
    expect(m.notes.map((n) => n.code).sort()).toEqual(["VM_DUPLICATE", "VM_UNKNOWN_HOST"]);
  });
});
