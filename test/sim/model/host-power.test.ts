import { describe, expect, it } from "vitest";
import { cycleStats, HostPowerError, HostPowerModel, stateEnergyJ, validateBootModel } from "../../../sim/model/host-power.js";

const TABLE = [100, 110, 120, 130, 140, 150, 160, 170, 180, 190, 200];

describe("HostPowerModel", () => {
  it("boots for the boot time, then is on; a power-on of an on or booting host is refused", () => {
    const h = new HostPowerModel("off", 0);
    expect(h.switchOn(100, 300)).toBe("started");
    expect([h.state, h.since, h.until]).toEqual(["booting", 100, 400]);
    expect(h.switchOn(200, 300)).toBe("refused");
    expect(h.complete(399, 300)).toBeNull();
    expect(h.state).toBe("booting");
    expect(h.complete(400, 300)).toBe("on");
    expect([h.state, h.since, h.until]).toEqual(["on", 400, null]);
    expect(h.switchOn(500, 300)).toBe("refused");
    expect(h.powerOns).toEqual([100]);
  });

  it("shuts down for the shutdown time; only an on host can be switched off", () => {
    const h = new HostPowerModel("on", 0);
    expect(h.switchOff(10, 30)).toBe("started");
    expect([h.state, h.until]).toEqual(["shutting_down", 40]);
    expect(h.switchOff(20, 30)).toBe("refused");
    expect(h.complete(40, 300)).toBe("off");
    expect(h.switchOff(50, 30)).toBe("refused");
    expect(h.powerOffs).toBe(1);
    const booting = new HostPowerModel("off", 0);
    booting.switchOn(0, 300);
    expect(booting.switchOff(10, 30)).toBe("refused");
  });

  it("boots right after a shutdown when switched on while shutting down", () => {
    const h = new HostPowerModel("on", 0);
    h.switchOff(0, 30);
    expect(h.switchOn(10, 300)).toBe("queued");
    expect(h.switchOn(20, 300)).toBe("refused");
    expect(h.complete(30, 300)).toBe("booting");
    expect([h.state, h.since, h.until]).toEqual(["booting", 30, 330]);
    expect(h.powerOns).toEqual([30]);
  });

  it("counts power-ons within the last 24 hours and per calendar day", () => {
    const h = new HostPowerModel("on", 0);
    for (const t of [1000, 50_000, 90_000, 100_000]) h.countPowerOn(t);
    expect(h.powerOnsWithinDay(86_400)).toBe(2);
    expect(h.powerOnsWithinDay(100_000)).toBe(3);
    expect(h.powerOnsWithinDay(60_000)).toBe(2);
    expect([...h.powerOnsByDay()]).toEqual([
      [0, 2],
      [1, 2],
    ]);
  });
});

describe("stateEnergyJ", () => {
  it("on: trapezoid with idle power at 0 %; booting and shutting down: idle power; off: nothing", () => {
    expect(stateEnergyJ("on", TABLE, 0, 0, 10)).toBe(1000);
    expect(stateEnergyJ("on", TABLE, 0, 0.5, 10)).toBe(1250);
    expect(stateEnergyJ("booting", TABLE, 0.7, 0.3, 10)).toBe(1000);
    expect(stateEnergyJ("shutting_down", TABLE, 0, 0, 30)).toBe(3000);
    expect(stateEnergyJ("off", TABLE, 0, 0, 30)).toBe(0);
  });
});

describe("cycleStats", () => {
  it("median over all hosts of power-ons per day, max over host-days", () => {
    const hosts = [0, 1, 2].map(() => new HostPowerModel("on", 0));
    for (const t of [10, 20, 30, 90_000]) hosts[0]!.countPowerOn(t);
    hosts[1]!.countPowerOn(100_000);
    hosts[1]!.countPowerOn(110_000);
    const s = cycleStats(hosts, 2 * 86_400);
    expect(s).toEqual({ powerOns: 6, hostsCycled: 2, perHostDayMedian: 1, perCycledHostDayMedian: 1.5, perHostDayMax: 3 });
    // A run shorter than a day counts as one day.
    expect(cycleStats(hosts, 3600).perHostDayMedian).toBe(2);
  });
});

describe("validateBootModel", () => {
  it("refuses negative times and unknown models", () => {
    expect(() => validateBootModel({ model: "boot", bootTimeS: -1, shutdownTimeS: 30 })).toThrow(HostPowerError);
    expect(() => validateBootModel({ model: "boot", bootTimeS: 300, shutdownTimeS: Number.NaN })).toThrow(/shutdown time/);
    expect(() => validateBootModel({ model: "warp" as "boot", bootTimeS: 0, shutdownTimeS: 0 })).toThrow(/instant or boot/);
    expect(() => validateBootModel({ model: "boot", bootTimeS: 0, shutdownTimeS: 0 })).not.toThrow();
  });
});
