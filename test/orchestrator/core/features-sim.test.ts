import { describe, expect, it } from "vitest";
import { ClusterModel } from "../../../orchestrator/core/cluster-model.js";
import { plan } from "../../../orchestrator/core/planner.js";
import { predictCpu } from "../../../orchestrator/core/prediction.js";
import { Policy } from "../../../shared/config/policy.js";
import { host, NOW, past, policy, snapshot, vm } from "./builders.js";

// Production features the simulator revealed: per-host core speed, load prediction for
// destinations, and hot-spot relief that fills running hosts first when the cycle consolidates.

const roomy = { max_moves_per_cycle: 50, max_concurrent_total: 50, max_concurrent_per_source: 50, max_concurrent_per_destination: 50 };

describe("cpuSpeed (mixed CPU generations)", () => {
  it("scales a VM's CPU by the speed of the host it was measured on", () => {
    const s = snapshot(
      [
        { ...host("fast", { cpus: 2, cpu: 50 }), cpuSpeed: 2660 / 1860 },
        { ...host("slow", { cpus: 2, cpu: 0 }), cpuSpeed: 1 },
      ],
      [vm("v", "fast", { cpu: 100, vcpus: 1 })],
    );
    const m = new ClusterModel(s, policy(), NOW);
    const v = m.vmByName.get("v")!;
    expect(v.loadCores).toBeCloseTo(2660 / 1860, 9);
    // On the slow host (2 cores of speed 1) the VM needs 143 % of one core = 71.5 % of the host.
    expect(m.cpuLoad(m.hostById.get("slow")!, v.loadCores)).toBeCloseTo((100 * 2660) / 1860 / 2, 6);
    expect(m.cpuLoad(m.hostById.get("fast")!)).toBeCloseTo(50, 9);
  });

  it("without cpuSpeed nothing changes (speed 1)", () => {
    const s = snapshot([host("a", { cpus: 4, cpu: 25 })], [vm("v", "a", { cpu: 100 })]);
    const m = new ClusterModel(s, policy(), NOW);
    expect(m.vmByName.get("v")!.loadCores).toBe(1);
    expect(m.cpuLoad(m.hostById.get("a")!)).toBe(25);
  });

  it("refuses a slow destination that a fast-core VM would overload", () => {
    const s = snapshot(
      [
        { ...host("hot", { cpus: 2, cpu: 95 }), cpuSpeed: 1.43 },
        { ...host("slow", { cpus: 2, cpu: 0, mem: 0 }), cpuSpeed: 1 },
      ],
      [vm("big", "hot", { cpu: 90, vcpus: 1, mem: 512 }), vm("other", "hot", { cpu: 100, vcpus: 1, mem: 512 })],
    );
    // 90 % of a 1.43 core = 1.29 slow cores = 64 % of "slow": fits under 70 %; 100 % does not.
    const p = plan(s, policy({ ...roomy, predict_window: 0 }), NOW);
    expect(p.moves.map((m) => `${m.vm}>${m.destination}`)).toEqual(["big>slow"]);
  });
});

describe("load prediction (predict_window / predict_ahead)", () => {
  const rising = (from: number, to: number) => [0, 1, 2, 3].map((i) => ({ ts: NOW - (3 - i) * 100_000, cpu: from + ((to - from) * i) / 3, mem: 10 }));

  it("fits a least-squares line and extrapolates it", () => {
    expect(predictCpu(rising(30, 60), 600, 100)).toBeCloseTo(70, 9);
    expect(predictCpu(rising(60, 30), 600, 100)).toBeCloseTo(20, 9);
    expect(predictCpu(rising(30, 60), 0, 100)).toBeNull();
    expect(predictCpu(rising(30, 60).slice(2), 600, 100)).toBeNull();
  });

  it("does not extrapolate a few seconds of samples minutes ahead, and never past 100 %", () => {
    const burst = [0, 1, 2].map((i) => ({ ts: NOW - (2 - i) * 1000, cpu: 2 + 19 * i, mem: 10 }));
    expect(predictCpu(burst, 600, 300)).toBeNull();
    expect(predictCpu(rising(10, 90), 600, 3000)).toBe(100);
  });

  it("reads the trend only after the host's last migration: a VM arriving is a step, not a trend", () => {
    // dest went from 2 % to 50 % when a VM landed 150 s ago; before and after, it was flat.
    const steps = [-500, -400, -300, -200, -100, 0].map((t) => ({ ts: NOW + t * 1000, cpu: t < -150 ? 2 : 50, mem: 10 }));
    const s = {
      ...snapshot(
        [host("hot", { cpus: 4, cpu: 95, mem: 10 }), { ...host("dest", { cpus: 4, cpu: 50, mem: 10 }), samples: steps }],
        [vm("a", "hot", { cpu: 40, vcpus: 1 }), vm("b", "hot", { cpu: 340, vcpus: 4 })],
      ),
      history: [past("landed", "elsewhere", "dest", 150)],
    };
    const pol = policy({ ...roomy, predict_window: 600, predict_ahead: 300, host_settle: 0 });
    expect(plan(s, pol, NOW).moves.map((m) => m.destination)).toContain("dest");
  });

  it("keeps VMs off a destination whose load is climbing towards the limit", () => {
    const mk = (samples: ReturnType<typeof rising>) =>
      snapshot(
        [host("hot", { cpus: 4, cpu: 95, mem: 10 }), { ...host("dest", { cpus: 4, cpu: 50, mem: 10 }), samples }],
        [vm("a", "hot", { cpu: 40, vcpus: 1 }), vm("b", "hot", { cpu: 340, vcpus: 4 })],
      );
    // dest at 50 % + a (0.4 of 4 cores = 10 %) = 60 % < 70 %; climbing 20 → 50 % over 300 s
    // predicts 80 % in 300 s, and 80 + 10 ≥ 70.
    const flat = mk([0, 1, 2, 3].map((i) => ({ ts: NOW - (3 - i) * 100_000, cpu: 50, mem: 10 })));
    const climbing = mk(rising(20, 50));
    const pol = policy({ ...roomy, predict_window: 600, predict_ahead: 300 });
    expect(plan(flat, pol, NOW).moves.map((m) => m.destination)).toContain("dest");
    expect(plan(climbing, pol, NOW).moves.map((m) => m.destination)).not.toContain("dest");
    // off: the climbing host is judged on its load now
    expect(plan(climbing, policy({ ...roomy, predict_window: 0 }), NOW).moves.map((m) => m.destination)).toContain("dest");
  });

  it("has validated defaults", () => {
    const d = Policy.parse({});
    expect(d.predict_window).toBe(600);
    expect(d.predict_ahead).toBe(300);
    expect(Policy.safeParse({ predict_window: -1 }).success).toBe(false);
  });
});

describe("hot-spot relief when the cycle consolidates", () => {
  const s = () =>
    snapshot(
      [host("hot", { cpu: 95 }), host("busy", { cpu: 30 }), host("off", { cpu: 0, mem: 0 })],
      [vm("h1", "hot", { cpu: 200, vcpus: 4 }), vm("h2", "hot", { cpu: 560, vcpus: 4 }), vm("b1", "busy", { cpu: 240, vcpus: 4 })],
    );
  it("spreads to the least loaded host, even an empty one, by default", () => {
    const p = plan(s(), policy({ ...roomy, predict_window: 0 }), NOW);
    expect(p.moves.filter((m) => m.strategy === "hotspot").map((m) => m.destination)).toEqual(["off"]);
  });
  it("fills a running host first when consolidating (an empty host would be emptied again)", () => {
    const p = plan(s(), policy({ ...roomy, predict_window: 0, strategies: ["hotspot", "consolidate"] }), NOW);
    expect(p.moves.filter((m) => m.strategy === "hotspot").map((m) => m.destination)).toEqual(["busy"]);
  });
  it("among running hosts, takes the most loaded that fits (best fit): the least loaded are the next to be emptied", () => {
    const t = snapshot(
      [host("hot", { cpu: 95 }), host("light", { cpu: 20 }), host("fuller", { cpu: 40 })],
      [vm("h1", "hot", { cpu: 200, vcpus: 4 }), vm("h2", "hot", { cpu: 560, vcpus: 4 }), vm("l1", "light", { cpu: 160 }), vm("f1", "fuller", { cpu: 320 })],
    );
    const hotspotOnly = (o: Parameters<typeof policy>[0]) =>
      plan(t, policy({ ...roomy, predict_window: 0, ...o }), NOW).moves.filter((m) => m.strategy === "hotspot");
    expect(hotspotOnly({ strategies: ["hotspot", "consolidate"], pinned_vms: ["l1", "f1"] }).map((m) => m.destination)).toEqual(["fuller"]);
    // Without consolidation, relief still spreads to the least loaded host.
    expect(hotspotOnly({}).map((m) => m.destination)).toEqual(["light"]);
  });
  it("wakes one empty host for VMs that fit no running host, not one per VM", () => {
    const t = snapshot(
      [host("hot1", { cpu: 95 }), host("hot2", { cpu: 95 }), host("busy", { cpu: 65 }), host("off1", { cpu: 0, mem: 0 }), host("off2", { cpu: 0, mem: 0 })],
      [
        vm("a1", "hot1", { cpu: 200, vcpus: 4 }),
        vm("a2", "hot1", { cpu: 560, vcpus: 4 }),
        vm("b1", "hot2", { cpu: 200, vcpus: 4 }),
        vm("b2", "hot2", { cpu: 560, vcpus: 4 }),
        vm("c1", "busy", { cpu: 520, vcpus: 8 }),
      ],
    );
    const moves = (o: Parameters<typeof policy>[0]) =>
      plan(t, policy({ ...roomy, predict_window: 0, ...o }), NOW).moves.filter((m) => m.strategy === "hotspot");
    expect(moves({ strategies: ["hotspot", "consolidate"] }).map((m) => `${m.vm}>${m.destination}`)).toEqual(["a1>off1", "b1>off1"]);
    // Without consolidation, relief spreads: each VM to the least loaded host.
    expect(moves({}).map((m) => `${m.vm}>${m.destination}`)).toEqual(["a1>off1", "b1>off2"]);
  });
});
