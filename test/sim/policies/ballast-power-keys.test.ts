import { describe, expect, it } from "vitest";
import { simulate } from "../../../sim/engine.js";
import { atStep, BallastPolicy, simPolicy } from "../../../sim/policies/ballast.js";
import type { Plan } from "../../../shared/schemas/plan.js";
import { HOST_G5, CLOUDSIM_VM_TYPES, type DataCentreSpec } from "../../../sim/model/datacentre.js";
import { constTrace } from "../builders.js";

// How the simulator hands Ballast's power keys to the planner: waits met at the step nearest their
// end, max_power_ops per step, and a boot-model run in which consolidation's emptied hosts are
// switched off.

const BOOT = { model: "boot", bootTimeS: 300, shutdownTimeS: 30 } as const;

describe("power keys at the simulator's step", () => {
  it("meets power_off_after, min_on_time and min_off_time at the step nearest their end, set or default", () => {
    expect(atStep(300, 300)).toBe(150);
    expect(atStep(100, 300)).toBe(0);
    expect(atStep(0, 300)).toBe(0);
    const p = simPolicy(300);
    expect(p).toMatchObject({ power_off_after: 150, min_on_time: 1650, min_off_time: 1650 });
    expect(simPolicy(300, { power_off_after: 900, min_on_time: 600 })).toMatchObject({ power_off_after: 750, min_on_time: 450 });
    // A step of 60 s: almost the production figures.
    expect(simPolicy(60)).toMatchObject({ power_off_after: 270, min_on_time: 1770 });
  });

  it("fixes max_power_ops at the first plan: the default for the hosts, times the operations a slot completes in a step", () => {
    const spec: DataCentreSpec = { hostCount: 41, hostTypes: [HOST_G5], vmTypes: [CLOUDSIM_VM_TYPES[3]!] };
    const b = new BallastPolicy(300, { bootModel: BOOT, initialPlacement: "round-robin" });
    expect(b.planner.policy.max_power_ops).toBeUndefined();
    simulate([constTrace("a", 0.3, 3)], b, { spec, bootModel: "boot", bootTimeS: 300, shutdownTimeS: 30 });
    // 41 hosts: ceil(41 / 20) = 3 at once; 300 s / (30 s + 10 s) = 7 per slot and step.
    expect(b.planner.policy.max_power_ops).toBe(21);
    const set = new BallastPolicy(300, { bootModel: { ...BOOT, shutdownTimeS: 140 }, policy: { max_power_ops: 2 } });
    simulate([constTrace("a", 0.3, 3)], set, { spec, bootModel: "boot", bootTimeS: 300, shutdownTimeS: 140 });
    expect(set.planner.policy.max_power_ops).toBe(4);
  });

  // Four G5 hosts, one VM each at 10 %: consolidation packs them; the power pass switches the
  // emptied hosts off, except those the reserve (the room of the largest host) needs.
  const spec: DataCentreSpec = { hostCount: 4, hostTypes: [HOST_G5], vmTypes: [CLOUDSIM_VM_TYPES[3]!] };
  const packFour = (policy: Record<string, unknown> = {}) => {
    const plans: { t: number; plan: Plan; states: string[] }[] = [];
    const b = new BallastPolicy(300, {
      bootModel: BOOT,
      initialPlacement: "round-robin",
      policy,
      onPlan: (plan, v) => plans.push({ t: v.now, plan, states: v.hosts.map((h) => h.power.state) }),
    });
    const traces = ["a", "b", "c", "d"].map((n) => constTrace(n, 0.1, 12));
    const m = simulate(traces, b, { spec, bootModel: "boot", bootTimeS: 300, shutdownTimeS: 30 });
    return {
      m,
      plans,
      firstMoves: plans.findIndex((p) => p.plan.moves.length > 0),
      firstOff: plans.findIndex((p) => p.plan.power.some((a) => a.action === "off")),
    };
  };

  it("switches off the hosts consolidation empties as their last migration ends (power_off_emptied), and keeps the reserve", () => {
    const { m, plans, firstMoves, firstOff } = packFour();
    expect(firstMoves).toBeGreaterThanOrEqual(0);
    expect(firstOff).toBe(firstMoves);
    const plan = plans[firstMoves]!.plan;
    const offs = plan.power.filter((a) => a.action === "off");
    expect(offs.length).toBeGreaterThan(0);
    for (const a of offs) {
      expect(a.code).toBe("POWER_OFF_EMPTIED");
      expect(a.afterMoves).toEqual(plan.moves.filter((x) => x.source === a.host).map((x) => x.seq));
    }
    // Off (their 30 s shutdown over) by the next step, not merely asked to switch off at it.
    const next = plans[firstMoves + 1]!;
    for (const a of offs) expect(next.states[Number(a.host.slice("sim-host-".length))]).toBe("off");
    expect(m.power!.powerOffs).toBe(offs.length);
    expect(m.power!.refusedPowerActions).toBe(0);
    const last = plans[plans.length - 1]!.plan;
    expect(last.decisions.some((d) => d.code === "POWER_KEEP_RESERVE" || d.code === "POWER_NOT_NEEDED")).toBe(true);
  });

  it("with power_off_emptied false, switches them off one step after they empty (power_off_after)", () => {
    const { m, plans, firstMoves, firstOff } = packFour({ power_off_emptied: false });
    expect(firstMoves).toBeGreaterThanOrEqual(0);
    expect(firstOff).toBe(firstMoves + 1);
    expect(plans[firstOff]!.plan.power.every((a) => a.code === "POWER_OFF_IDLE" && a.afterMoves.length === 0)).toBe(true);
    expect(m.power!.powerOffs).toBeGreaterThan(0);
    expect(m.power!.refusedPowerActions).toBe(0);
  });
});
