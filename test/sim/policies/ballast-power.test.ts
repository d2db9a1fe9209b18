import { describe, expect, it } from "vitest";
import { simulate } from "../../../sim/engine.js";
import { makeAdapterContext, PlannerPolicy } from "../../../sim/policies/ballast-adapter.js";
import { BallastPlanner, BallastPolicy, simPolicy } from "../../../sim/policies/ballast.js";
import type { Plan } from "../../../shared/schemas/plan.js";
import { PowerAction } from "../../../shared/schemas/power.js";
import { ClusterSnapshot } from "../../../shared/schemas/snapshot.js";
import { HOST_G5, CLOUDSIM_VM_TYPES, type DataCentreSpec } from "../../../sim/model/datacentre.js";
import { buildView, constTrace } from "../builders.js";

// The Ballast path of the boot model: power management handed to the planner, the engine's power
// state in SnapshotHost.power, Plan.power carried out as the engine's power actions. (What the
// power strategy decides on a run is in ballast-power-keys.test.ts.)

const BOOT = { model: "boot", bootTimeS: 240, shutdownTimeS: 30 } as const;

describe("Ballast in the boot model", () => {
  it("turns power management on with the run's boot time, and switches hosts itself", () => {
    const b = new BallastPolicy(300, { bootModel: BOOT });
    expect(b.planner.policy.power_management).toBe(true);
    expect(b.planner.policy.boot_time).toBe(240);
    expect(b.switchesHosts).toBe(true);
    const i = new BallastPolicy(300, {});
    expect(i.planner.policy.power_management).toBe(false);
    expect(i.switchesHosts).toBe(false);
    // A policy file may still set the keys.
    expect(new BallastPolicy(300, { bootModel: BOOT, policy: { power_management: false } }).planner.policy.power_management).toBe(false);
  });

  it("fills SnapshotHost.power from the engine's power state (boot model only)", () => {
    const view = buildView([{ power: { state: "booting", since: 600, until: 840, emptySince: 0, powerOnsLastDay: 2 } }, {}], [{ host: 1 }], 900);
    const ctx = makeAdapterContext(1_000_000, []);
    const snap = new BallastPlanner(simPolicy(300, { power_management: true }), "ignore", undefined, true).toSnapshot(view, ctx);
    expect(ClusterSnapshot.parse(snap)).toBeTruthy();
    expect(snap.hosts[0]!.power).toEqual({
      state: "booting",
      since: 1_600_000,
      switchable: true,
      emptySince: 1_000_000,
      cyclesToday: 2,
      bootDeadline: null,
      failed: null,
    });
    expect(snap.hosts[1]!.power).toMatchObject({ state: "on", emptySince: null, cyclesToday: 0 });
    const instant = new BallastPlanner(simPolicy(300), "ignore").toSnapshot(view, ctx);
    expect(instant.hosts.every((h) => h.power === undefined)).toBe(true);
  });

  it("turns Plan.power into the engine's power actions, in sequence order", () => {
    const planner = new BallastPlanner(simPolicy(300, { power_management: true }), "ignore", undefined, true);
    const action = (seq: number, host: string, a: "on" | "off") =>
      PowerAction.parse({ seq, host, action: a, code: a === "on" ? "POWER_ON_DEMAND" : "POWER_OFF_IDLE", reason: "test", numbers: {} });
    const plan = { power: [action(1, "sim-host-3", "off"), action(0, "sim-host-12", "on")] } as unknown as Plan;
    expect(planner.toPowerActions(plan, buildView([{}], []), makeAdapterContext(0, []))).toEqual([
      { host: 12, action: "on" },
      { host: 3, action: "off" },
    ]);
  });

  it("runs end to end in the boot model: every step planned with power state, the plan's power actions handed over", () => {
    const spec: DataCentreSpec = { hostCount: 3, hostTypes: [HOST_G5], vmTypes: [CLOUDSIM_VM_TYPES[3]!] };
    const plans: Plan[] = [];
    const policy = new BallastPolicy(300, { bootModel: BOOT, initialPlacement: "round-robin", onPlan: (p) => plans.push(p) });
    const traces = [constTrace("a", 0.3, 12), constTrace("b", 0.3, 12)];
    const m = simulate(traces, policy, { spec, bootModel: "boot", bootTimeS: 240, shutdownTimeS: 30 });
    expect(plans.length).toBe(m.steps);
    // Host 2 got no VM: it starts off; two hosts at 30 % keep the reserve, so nothing is switched.
    expect(m.power).toMatchObject({ model: "boot", bootTimeS: 240, powerOns: 0, refusedPowerActions: 0 });
    expect(plans.every((p) => p.power.length === 0)).toBe(true);
  });

  it("PlannerPolicy hands a snapshot planner's power actions to the engine", () => {
    const spec: DataCentreSpec = { hostCount: 3, hostTypes: [HOST_G5], vmTypes: [CLOUDSIM_VM_TYPES[3]!] };
    // A toy planner: at the first step, switch on every host that is off.
    const policy = new PlannerPolicy(
      {
        toSnapshot: (v) => v.hosts.filter((h) => h.power.state === "off" && v.step === 1).map((h) => h.id),
        plan: (off) => off,
        toMigrations: () => [],
        toPowerActions: (off) => off.map((host) => ({ host, action: "on" as const })),
      },
      { name: "toy", initialPlacement: () => [0, 1], switchesHosts: true },
    );
    const m = simulate([constTrace("a", 0.3, 12), constTrace("b", 0.3, 12)], policy, { spec, bootModel: "boot", bootTimeS: 240 });
    expect(m.power).toMatchObject({ powerOns: 1, hostsCycled: 1, refusedPowerActions: 0 });
    expect(m.power!.switchingEnergyKWh).toBeCloseTo((HOST_G5.power[0]! * 240) / 3.6e6, 12);
  });
});
