import { describe, expect, it } from "vitest";
import { Simulation, simulate } from "../../sim/engine.js";
import type { ConsolidationPolicy, MigrationRequest, SimView } from "../../sim/policies/policy.js";
import { constTrace, TINY_SPEC } from "./builders.js";

// The 2-host data centre of builders.ts (TINY_SPEC), small enough to integrate by hand.
const SPEC = TINY_SPEC;

function scripted(placement: number[], moves: Record<number, MigrationRequest[]> = {}): ConsolidationPolicy & { seen: SimView[] } {
  const seen: SimView[] = [];
  return {
    name: "scripted",
    seen,
    initialPlacement: () => placement,
    decide: (v) => {
      seen.push(v);
      return moves[v.step] ?? [];
    },
  };
}

const opts = { spec: SPEC, startOffset: 0, interval: 300, maxSteps: 3 };

describe("Simulation on a hand-computed 2-host example", () => {
  it("integrates energy as trapezoids, with migration sub-intervals and hosts off at 0", () => {
    // VM0 40 % (200 MIPS) on host 0, VM1 20 % (100 MIPS) on host 1; VM1 moves to host 0 at t = 300.
    const traces = [constTrace("vm0", 0.4, 4), constTrace("vm1", 0.2, 4)];
    const m = simulate(traces, scripted([0, 1], { 1: [{ vm: 1, host: 0 }] }), opts);
    // t=300: both hosts were off before (previous utilisation 0) -> 0 J.
    // 300-310 (copy): host 0 at (200 + 10 % of 100) / 1000 = 21 % -> 121 W; host 1 at 10 % -> 110 W.
    // 310-600: host 0 at 30 % -> 130 W for 290 s; host 1 off.  600-900: 130 W for 300 s.
    const joules = 121 * 10 + 110 * 10 + 130 * 290 + 130 * 300;
    expect(m.energyKWh).toBeCloseTo(joules / 3.6e6, 12);
    expect(m.migrations).toBe(1);
    // SLATAH: host 0 is short of MIPS only during the copy (210 allocated < 300 requested): 10 s of
    // 600 + 10 active host-seconds.
    expect(m.slatah).toBeCloseTo(10 / 610, 12);
    // PDM: VM1 loses 10 % of 100 MIPS for 10 s = 100 MIPS·s of 200·600 + 100·600 requested.
    expect(m.pdm).toBeCloseTo(100 / 180_000, 12);
    expect(m.slav).toBeCloseTo((10 / 610) * (100 / 180_000), 15);
    expect(m.hostShutdowns).toBe(1);
    expect(m.steps).toBe(3);
    expect(m.simulatedS).toBe(900);
    expect(m.migrationsPerHour[0]).toBe(1);
  });

  it("gives the policy the state after each update, with newest-first history", () => {
    const traces = [{ name: "vm0", cpu: Float64Array.from([0.1, 0.2, 0.3, 0.4]) }, constTrace("vm1", 0.2, 4)];
    const p = scripted([0, 1]);
    simulate(traces, p, opts);
    const last = p.seen[2]!;
    expect(last.now).toBe(900);
    expect(last.vms[0]!.history).toEqual([0.4, 0.3, 0.2]);
    expect(last.vms[0]!.requestedMips).toBeCloseTo(200, 12);
    expect(last.hosts[0]!.utilMips).toBeCloseTo(200, 12);
  });

  it("removes a VM whose demand is exactly 0 (CloudSim's finished VM), unless disabled", () => {
    const traces = [constTrace("busy", 0.4, 4), { name: "idle", cpu: Float64Array.from([0.3, 0, 0, 0]) }];
    const a = simulate(traces, scripted([0, 0]), opts);
    expect(a.vmsRemoved).toBe(1);
    const b = simulate(traces, scripted([0, 0]), { ...opts, removeIdleVms: false });
    expect(b.vmsRemoved).toBe(0);
  });

  it("refuses impossible migrations instead of crashing", () => {
    const traces = [constTrace("vm0", 0.4, 4), constTrace("vm1", 0.2, 4)];
    const m = simulate(
      traces,
      scripted([0, 1], {
        1: [
          { vm: 0, host: 0 },
          { vm: 7, host: 1 },
          { vm: 1, host: 9 },
        ],
      }),
      opts,
    );
    expect(m.migrations).toBe(0);
    expect(m.rejectedMigrations).toBe(3);
  });

  it("measures time over memory capacity and load spread for two-resource traces", () => {
    // both VMs on host 0: 2 × 625 MB × 100 % = 1250 MB > 1000 MB for all 600 active seconds
    const traces = [constTrace("a", 0.4, 4, 1), constTrace("b", 0.2, 4, 0.5)];
    const m = simulate(traces, scripted([0, 0]), opts);
    expect(m.memOverCapacityHostS).toBe(0); // 625 + 312.5 = 937.5 MB fits
    const full = simulate([constTrace("a", 0.4, 4, 1), constTrace("b", 0.2, 4, 1)], scripted([0, 0]), opts);
    expect(full.memOverCapacityHostS).toBe(600);
    expect(full.memOverCapacityShare).toBe(1);
    const spread = simulate([constTrace("a", 0.4, 4, 1), constTrace("b", 0.2, 4, 1)], scripted([0, 1]), opts);
    expect(spread.meanHostCpuStdDev).toBeCloseTo(0.05, 12); // hosts at 20 % and 10 %
  });

  it("is deterministic", () => {
    const traces = [constTrace("vm0", 0.4, 4), constTrace("vm1", 0.2, 4)];
    const run = () => {
      const { wallMs, cpuMs, ...rest } = new Simulation(traces, opts).run(scripted([0, 1], { 1: [{ vm: 1, host: 0 }] }));
      void wallMs;
      void cpuMs;
      return rest;
    };
    expect(run()).toEqual(run());
  });
});
