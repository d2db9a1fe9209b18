import { describe, expect, it } from "vitest";
import { plan, preflightEvacuation } from "../../../../orchestrator/core/planner.js";
import { flight, host, NOW, past, policy, snapshot, vm } from "../builders.js";

// Host "m" goes into maintenance; b (10 %), c (30 %), d (40 %) can take VMs of +25 % CPU each.
const cluster = (extraHosts: ReturnType<typeof host>[] = []) =>
  snapshot(
    [host("m", { cpu: 50 }), host("b", { cpu: 10 }), host("c", { cpu: 30 }), host("d", { cpu: 40 }), ...extraHosts],
    [vm("v1", "m", { cpu: 200, mem: 1024 }), vm("v2", "m", { cpu: 200, mem: 1000 }), vm("b1", "b"), vm("c1", "c"), vm("d1", "d")],
  );
const evac = (s: ReturnType<typeof snapshot>, placement: "stripe" | "pack", useEmptyHosts = false, o: Parameters<typeof policy>[0] = {}) =>
  plan(s, policy(o), NOW, { mode: "evacuate", host: "m", placement, useEmptyHosts });

describe("evacuate", () => {
  it("stripe spreads to the least loaded hosts", () => {
    expect(evac(cluster(), "stripe").moves.map((m) => m.destination)).toEqual(["b", "c"]);
  });

  it("pack fills the most loaded hosts that still fit", () => {
    expect(evac(cluster(), "pack").moves.map((m) => m.destination)).toEqual(["d", "c"]);
  });

  it("uses empty hosts only with useEmptyHosts", () => {
    const s = cluster([host("e", { cpu: 0, mem: 1 })]);
    expect(evac(s, "stripe", false).moves.map((m) => m.destination)).not.toContain("e");
    expect(evac(s, "stripe", true).moves.map((m) => m.destination)).toContain("e");
  });

  it("empties the host, ignoring cooldown and settle (operator action), and frees it", () => {
    const s = { ...cluster(), history: [past("v1", "x", "m", 30)] };
    const p = evac(s, "stripe", false, { host_settle: 600 });
    expect(p.moves.map((m) => m.vm).sort()).toEqual(["v1", "v2"]);
    expect(p.indicators.hostsFreed).toEqual(["m"]);
    expect(p.moves.every((m) => m.code === "EVACUATE")).toBe(true);
  });

  it("shut-off VMs do not block the drain", () => {
    const s = snapshot([host("m"), host("b")], [vm("off", "m", { state: "shutoff" }), vm("b1", "b")]);
    const pre = preflightEvacuation(s, policy(), NOW, "m");
    expect(pre.canDrain).toBe(true);
    expect(pre.plan.decisions.find((d) => d.subject === "off")?.code).toBe("VM_NOT_RUNNING");
  });
});

describe("preflightEvacuation", () => {
  it("says yes with the plan when every VM has a destination", () => {
    const pre = preflightEvacuation(cluster(), policy(), NOW, "m", "pack");
    expect(pre.canDrain).toBe(true);
    expect(pre.reasons).toEqual([]);
    expect(pre.plan.moves).toHaveLength(2);
    expect(pre.plan.mode).toBe("evacuate");
  });

  it("says no, naming each VM that cannot be placed and the hosts' rejections", () => {
    const s = snapshot(
      [host("m"), host("b", { cpu: 60 }), host("c", { cpu: 65 })],
      [vm("fat", "m", { cpu: 400 }), vm("ok", "m", { cpu: 10 }), vm("b1", "b"), vm("c1", "c")],
    );
    const pre = preflightEvacuation(s, policy(), NOW, "m");
    expect(pre.canDrain).toBe(false);
    expect(pre.reasons[0]).toMatchObject({ kind: "vm", subject: "fat", code: "NO_DESTINATION", numbers: { DEST_CPU: 2 } });
    expect(pre.reasons.filter((r) => r.kind === "host").map((r) => [r.subject, r.code])).toEqual([
      ["b", "DEST_CPU"],
      ["c", "DEST_CPU"],
    ]);
    expect(pre.plan.moves.map((m) => m.vm)).toEqual(["ok"]);
  });

  it("counts what blocks the drain: VMs that cannot leave and host conditions, not the hosts' rejections of each VM", () => {
    // One VM fits on none of three hosts (three host rejections kept): one blocking VM, not four reasons.
    const s = snapshot(
      [host("m"), host("b", { cpu: 60 }), host("c", { cpu: 65 }), host("d", { cpu: 62 })],
      [vm("fat", "m", { cpu: 400 }), vm("ok", "m", { cpu: 10 }), vm("b1", "b"), vm("c1", "c"), vm("d1", "d")],
    );
    const one = preflightEvacuation(s, policy(), NOW, "m");
    expect(one.reasons).toHaveLength(4);
    const verdict = (p: typeof one) => p.plan.decisions.find((d) => d.code === "EVACUATE_INCOMPLETE");
    expect(verdict(one)).toMatchObject({ numbers: { blockingVms: 1, hostConditions: 0, vms: 2 } });
    expect(verdict(one)?.message).toBe("host m cannot be drained now: 1 of 2 live VM(s) cannot leave (fat)");
    // A migration still coming in is a condition of the host; a pinned VM is a second blocking VM.
    const more = preflightEvacuation({ ...s, inFlight: [flight("z", "b", "m")] }, policy({ pinned_vms: ["ok"] }), NOW, "m");
    expect(verdict(more)).toMatchObject({ numbers: { blockingVms: 2, hostConditions: 1, vms: 2 } });
    expect(verdict(more)?.message).toBe("host m cannot be drained now: 2 of 2 live VM(s) cannot leave (fat, ok); 1 host condition(s) (HOST_RECEIVING)");
  });

  it("a pinned VM blocks the drain", () => {
    const pre = preflightEvacuation(cluster(), policy({ pinned_vms: ["v2"] }), NOW, "m");
    expect(pre.canDrain).toBe(false);
    expect(pre.reasons.map((r) => r.code)).toEqual(["VM_PINNED"]);
  });

  it("an unknown host cannot be drained", () => {
    expect(preflightEvacuation(cluster(), policy(), NOW, "nope").reasons[0]?.code).toBe("HOST_UNKNOWN");
  });

  it("a silent host cannot be drained (its agent cannot migrate)", () => {
    const s = snapshot([host("m", { lastSeenAgo: 500 }), host("b")], [vm("v", "m")]);
    expect(preflightEvacuation(s, policy(), NOW, "m").reasons[0]?.code).toBe("SOURCE_SILENT");
  });
});
