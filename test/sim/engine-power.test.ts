import { describe, expect, it } from "vitest";
import { simulate, type EngineOptions } from "../../sim/engine.js";
import { RUN_START_SINCE_S } from "../../sim/model/host-power.js";
import type { ConsolidationPolicy, MigrationRequest, PowerRequest, SimView } from "../../sim/policies/policy.js";
import { constTrace, TINY_SPEC } from "./builders.js";

// The boot model on the 2-host data centre of builders.ts (1 core of 1000 MIPS, 100 W idle +
// 100 W × utilisation; a 500-MIPS VM migrates in 10 s). VM0 runs at 40 % of its MIPS (host at
// 20 %, 120 W), VM1 at 20 % (10 %, 110 W). Steps at 300, 600, 900 s.

interface Step {
  power?: PowerRequest[];
  moves?: MigrationRequest[];
}

/** A policy that returns scripted power actions and moves per step, and records what it saw. */
function scripted(placement: number[], steps: Record<number, Step>, switchesHosts: boolean): ConsolidationPolicy & { seen: SimView[] } {
  const seen: SimView[] = [];
  return {
    name: "scripted-power",
    switchesHosts,
    seen,
    initialPlacement: () => placement,
    decide: (v) => {
      // The view is live: keep what matters of it at this step.
      seen.push({ ...v, hosts: v.hosts.map((h) => ({ ...h, vms: [...h.vms], power: { ...h.power } })), vms: v.vms.map((x) => ({ ...x })) });
      return { migrations: steps[v.step]?.moves ?? [], power: steps[v.step]?.power ?? [] };
    },
  };
}

const traces = () => [constTrace("vm0", 0.4, 4), constTrace("vm1", 0.2, 4)];
const base: EngineOptions = { spec: TINY_SPEC, startOffset: 0, interval: 300, maxSteps: 3 };
const boot = (bootTimeS: number, shutdownTimeS = 30): EngineOptions => ({ ...base, bootModel: "boot", bootTimeS, shutdownTimeS });
const J = 3.6e6;

describe("boot model, hosts switched by the policy", () => {
  it("a host switched on boots for boot_time at idle power, then is on (and draws idle power while empty)", () => {
    const p = scripted([0, 0], { 1: { power: [{ host: 1, action: "on" }] } }, true);
    const m = simulate(traces(), p, boot(120));
    // Host 1 started off (no VM after the placement). Host 0: 30 % -> 130 W over 300..900.
    // Host 1: booting 300..420 at 100 W, then on and empty at 100 W until 900.
    expect(m.energyKWh).toBeCloseTo((130 * 600 + 100 * 120 + 100 * 480) / J, 12);
    expect(m.power!.switchingEnergyKWh).toBeCloseTo((100 * 120) / J, 12);
    // The states hosts hold at t = 0 began before the run (a day before), not at t = 0.
    expect(p.seen[0]!.hosts[1]!.power).toMatchObject({ state: "off", since: RUN_START_SINCE_S, emptySince: 0, powerOnsLastDay: 0 });
    expect(p.seen[0]!.hosts[0]!.power).toMatchObject({ state: "on", since: -86_400 });
    expect(p.seen[1]!.hosts[1]!.power).toMatchObject({ state: "on", since: 420, until: null, powerOnsLastDay: 1 });
    expect(p.seen[0]!.power).toEqual({ model: "boot", bootTimeS: 120, shutdownTimeS: 30 });
    expect(m.power).toMatchObject({ model: "boot", powerOns: 1, powerOffs: 0, hostsCycled: 1, cyclesPerHostDayMax: 1, refusedPowerActions: 0 });
  });

  it("a booting host receives no VM: moves to it are refused and counted until it is on", () => {
    // Boot of 400 s from t = 300: on at 700, so the moves of steps 1 (300) and 2 (600) are refused.
    const move = [{ vm: 1, host: 1 }];
    const p = scripted([0, 0], { 1: { power: [{ host: 1, action: "on" }], moves: move }, 2: { moves: move }, 3: { moves: move } }, true);
    const m = simulate(traces(), p, boot(400));
    expect(p.seen[1]!.hosts[1]!.power).toMatchObject({ state: "booting", since: 300, until: 700 });
    expect(p.seen[1]!.vms[1]!.host).toBe(0);
    expect(m.power!.refusedMigrations).toBe(2);
    expect(m.migrations).toBe(1);
    expect(m.rejectedMigrations).toBe(0);
  });

  it("switches an empty host off (shutdown at idle power); refuses to switch off a host with a VM", () => {
    const p = scripted(
      [0, 1],
      {
        1: { moves: [{ vm: 1, host: 0 }] },
        2: {
          power: [
            { host: 1, action: "off" },
            { host: 0, action: "off" },
            { host: 7, action: "on" },
          ],
        },
      },
      true,
    );
    const m = simulate(traces(), p, boot(300, 30));
    // Host 1 empty from 310 and on (policy switching: the engine does not switch it) until the
    // policy switches it off at 600; off at 630.
    expect(p.seen[1]!.hosts[1]!.power).toMatchObject({ state: "on", emptySince: 310 });
    expect(p.seen[2]!.hosts[1]!.power).toMatchObject({ state: "off", since: 630 });
    expect(m.power).toMatchObject({ powerOns: 0, powerOffs: 1, refusedPowerActions: 2 });
    // Host 0: 300..310 copy 121 W, then 130 W. Host 1: 110 W during the copy, idle 100 W 310..600, shutdown 600..630.
    const joules = 121 * 10 + 130 * 590 + 110 * 10 + 100 * 290 + 100 * 30;
    expect(m.energyKWh).toBeCloseTo(joules / J, 12);
    expect(m.power!.switchingEnergyKWh).toBeCloseTo(3000 / J, 12);
  });

  it("switches a host off after the step's migrations from it (afterMoves): at the end of the last one, not at the next step", () => {
    const p = scripted([0, 1], { 1: { power: [{ host: 1, action: "off", afterMoves: true }], moves: [{ vm: 1, host: 0 }] } }, true);
    const m = simulate(traces(), p, boot(300, 30));
    // VM1 leaves host 1 at 300..310; host 1 shuts down 310..340, then draws nothing.
    expect(p.seen[1]!.hosts[1]!.power).toMatchObject({ state: "off", since: 340 });
    expect(m.power).toMatchObject({ powerOffs: 1, refusedPowerActions: 0 });
    const joules = 121 * 10 + 130 * 590 + 110 * 10 + 100 * 30;
    expect(m.energyKWh).toBeCloseTo(joules / J, 12);
  });

  it("drops a power-off after moves when a VM stays (no move from the host) or one arrives, and counts it refused", () => {
    const stays = scripted([0, 1], { 1: { power: [{ host: 1, action: "off", afterMoves: true }] } }, true);
    const a = simulate(traces(), stays, boot(300, 30));
    expect(a.power).toMatchObject({ powerOffs: 0, refusedPowerActions: 1 });
    expect(stays.seen[2]!.hosts[1]!.power.state).toBe("on");
    // Host 0 is to go off after VM0 leaves it, but VM1 comes to it in the same step.
    const arrives = scripted(
      [0, 1],
      {
        1: {
          power: [{ host: 0, action: "off", afterMoves: true }],
          moves: [
            { vm: 0, host: 1 },
            { vm: 1, host: 0 },
          ],
        },
      },
      true,
    );
    const b = simulate(traces(), arrives, boot(300, 30));
    expect(b.power).toMatchObject({ powerOffs: 0, refusedPowerActions: 1 });
    expect(arrives.seen[2]!.hosts[0]!.power.state).toBe("on");
  });
});

describe("boot model, hosts switched by the engine (CloudSim's policies)", () => {
  it("switches an emptied host off, and on for a migration that waits boot_time with the VM running on its source", () => {
    const p = scripted([0, 1], { 1: { moves: [{ vm: 1, host: 0 }] }, 2: { moves: [{ vm: 1, host: 1 }] } }, false);
    const m = simulate(traces(), p, boot(300, 30));
    // 300..310 copy to host 0; host 1 empties at 310, shuts down until 340. At 600 VM1 is sent
    // back: host 1 boots 600..900, VM1 runs whole on host 0 meanwhile (reserved on host 1,
    // shown as migrating); the copy runs 900..910.
    expect(p.seen[1]!.hosts[1]!.power).toMatchObject({ state: "off", since: 340 });
    expect(p.seen[2]!.hosts[1]!.power).toMatchObject({ state: "on", since: 900 });
    expect(p.seen[2]!.vms[1]!.inMigration).toBe(true);
    const joules =
      121 * 10 +
      110 * 10 + // first copy
      130 * 30 +
      100 * 30 + // 310..340: host 0 30 %, host 1 shutting down
      130 * 260 + // 340..600: host 1 off
      130 * 300 +
      100 * 300 + // 600..900: VM1 whole on host 0, host 1 booting
      130 * 10 +
      101 * 10; // 900..910: second copy, 10 % of VM1's 100 MIPS reserved on host 1
    expect(m.energyKWh).toBeCloseTo(joules / J, 12);
    expect(m.power!.switchingEnergyKWh).toBeCloseTo((100 * 30 + 100 * 300) / J, 12);
    // PDM: only the two copies degrade VM1 (10 MIPS for 10 s each); the wait does not.
    expect(m.pdm).toBeCloseTo(200 / (200 * 610 + 100 * 610), 12);
    expect(m.power).toMatchObject({ powerOns: 1, powerOffs: 1, waitedMigrations: 1, refusedMigrations: 0 });
    expect(m.migrations).toBe(2);
    expect(m.simulatedS).toBe(910);
  });

  it("lets a host shutting down finish, then boots it", () => {
    const p = scripted([0, 1], { 1: { moves: [{ vm: 1, host: 0 }] }, 2: { moves: [{ vm: 1, host: 1 }] } }, false);
    const m = simulate(traces(), p, boot(100, 400));
    // Host 1 shuts down 310..710 (switched on meanwhile, at 600), boots 710..810; copy 810..820.
    expect(p.seen[1]!.hosts[1]!.power).toMatchObject({ state: "shutting_down", since: 310, until: 710 });
    expect(p.seen[2]!.hosts[1]!.power).toMatchObject({ state: "on", since: 810 });
    expect(p.seen[2]!.vms[1]!.host).toBe(1);
    expect(m.power).toMatchObject({ powerOns: 1, powerOffs: 1, waitedMigrations: 1 });
  });
});

describe("instant model (the default)", () => {
  it("is CloudSim's: nothing drawn while idle, switching free, the implicit switchings counted", () => {
    const p = scripted([0, 1], { 1: { moves: [{ vm: 1, host: 0 }] }, 2: { moves: [{ vm: 1, host: 1 }] } }, false);
    const m = simulate(traces(), p, base);
    // Host 1 is idle (off) from 310 to 600 and draws power again from the copy at 600.
    const joules = 121 * 10 + 110 * 10 + 130 * 290 + (130 + 101) * 10 + (120 + 110) * 290;
    expect(m.energyKWh).toBeCloseTo(joules / J, 12);
    expect(m.power).toMatchObject({ model: "instant", bootTimeS: 0, powerOns: 1, powerOffs: m.hostShutdowns, hostsCycled: 1, switchingEnergyKWh: 0 });
    expect(p.seen[1]!.hosts[1]!.power).toMatchObject({ state: "off", since: 310, emptySince: 310 });
    expect(p.seen[2]!.hosts[1]!.power).toMatchObject({ state: "on", since: 600 });
  });

  it("ignores power actions, and gives the same numbers as before the boot model", () => {
    const a = simulate(traces(), scripted([0, 1], { 1: { moves: [{ vm: 1, host: 0 }], power: [{ host: 1, action: "off" }] } }, true), base);
    const b = simulate(traces(), scripted([0, 1], { 1: { moves: [{ vm: 1, host: 0 }] } }, false), { ...base, bootModel: "instant" });
    const strip = ({ wallMs, cpuMs, policy, ...rest }: typeof a) => (void wallMs, void cpuMs, void policy, rest);
    expect(strip(a)).toEqual(strip(b));
    // The figure engine.test.ts integrates by hand for the same run.
    expect(a.energyKWh).toBeCloseTo((121 * 10 + 110 * 10 + 130 * 290 + 130 * 300) / J, 12);
  });
});

describe("engine options", () => {
  it("refuses a negative boot time and an unknown model", () => {
    expect(() => simulate(traces(), scripted([0, 1], {}, false), boot(-5))).toThrow(/boot time/);
    expect(() => simulate(traces(), scripted([0, 1], {}, false), { ...base, bootModel: "slow" as "boot" })).toThrow(/instant or boot/);
  });
});
