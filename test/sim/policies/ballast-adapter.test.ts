import { describe, expect, it } from "vitest";
import { simulate } from "../../../sim/engine.js";
import { PlannerPolicy, type SnapshotPlanner } from "../../../sim/policies/ballast-adapter.js";
import { buildView, constTrace } from "../builders.js";
import type { DataCentreSpec } from "../../../sim/model/datacentre.js";
import { HOST_G5, CLOUDSIM_VM_TYPES } from "../../../sim/model/datacentre.js";

describe("PlannerPolicy (the Ballast seam)", () => {
  it("feeds a snapshot planner and turns its moves into migrations", () => {
    // A toy "planner": snapshot = host loads; moves the first VM of the busiest host to the idlest.
    type Snap = { loads: number[]; vmsOf: number[][] };
    const planner: SnapshotPlanner<Snap, { vm: number; to: number } | null> = {
      toSnapshot: (view) => ({ loads: view.hosts.map((h) => h.utilMips / h.totalMips), vmsOf: view.hosts.map((h) => [...h.vms]) }),
      plan: (s) => {
        const busy = s.loads.indexOf(Math.max(...s.loads));
        const idle = s.loads.indexOf(Math.min(...s.loads));
        return busy !== idle && s.vmsOf[busy]!.length > 1 ? { vm: s.vmsOf[busy]![0]!, to: idle } : null;
      },
      toMigrations: (p) => (p ? [{ vm: p.vm, host: p.to }] : []),
    };
    const spec: DataCentreSpec = { hostCount: 2, hostTypes: [HOST_G5], vmTypes: [CLOUDSIM_VM_TYPES[2]!] };
    const policy = new PlannerPolicy(planner, { name: "toy", initialPlacement: () => [0, 0] });
    const m = simulate([constTrace("a", 0.5, 4), constTrace("b", 0.5, 4)], policy, { spec, maxSteps: 3, startOffset: 0 });
    expect(m.migrations).toBe(1);
  });

  it("derives host samples (oldest first) and per-core VM demand", () => {
    const view = buildView([{}, {}], [{ host: 1, u: 0.5, history: [0.5, 0.25] }]);
    let seen: unknown;
    const spy = new PlannerPolicy(
      {
        toSnapshot: (v, ctx) => ({ samples: ctx.hostSamples(v, 1), pct: ctx.vmCpuPercentOfCore(v, 0), name: ctx.hostName(1) }),
        plan: (s) => {
          seen = s;
          return s;
        },
        toMigrations: () => [],
      },
      { name: "probe", epochMs: 0 },
    );
    spy.decide(view);
    // VM of 500 MIPS on a G5 (2 × 2660): 25 % then 50 % of its MIPS -> 125 / 5320, 250 / 5320
    expect(seen).toEqual({
      samples: [
        { ts: 100, cpu: (100 * 125) / 5320, mem: 0 },
        { ts: 300100, cpu: (100 * 250) / 5320, mem: 0 },
      ],
      pct: (100 * 250) / 2660,
      name: "sim-host-1",
    });
  });
});
