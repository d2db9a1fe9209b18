import { describe, expect, it } from "vitest";
import { bootDays, bootDaysTable, BootDaysError } from "../../../sim/report/boot-days.js";
import type { RunRecord } from "../../../sim/report/metrics-json.js";
import type { PowerMetrics, RunMetrics } from "../../../sim/engine.js";

// The boot model's day-by-day table: runs grouped by day, ratios, and the goal lines.

const power = (model: "instant" | "boot", o: Partial<PowerMetrics> = {}): PowerMetrics =>
  ({
    model,
    bootTimeS: model === "boot" ? 300 : 0,
    shutdownTimeS: model === "boot" ? 30 : 0,
    powerOns: 0,
    powerOffs: 0,
    hostsCycled: 0,
    cyclesPerHostDayMedian: 0,
    cyclesPerCycledHostDayMedian: 0,
    cyclesPerHostDayMax: 0,
    switchingEnergyKWh: 0,
    waitedMigrations: 0,
    refusedMigrations: 0,
    refusedPowerActions: 0,
    ...o,
  }) as PowerMetrics;
const run = (workload: string, policy: string, energyKWh: number, esv: number, p: PowerMetrics): RunRecord => ({
  workload,
  policy,
  metrics: { energyKWh, esv, slatah: 0.05, power: p } as unknown as RunMetrics,
});

const day = (d: string, boot: number, esv: number, cycled: number): RunRecord[] => [
  run(d, "Ballast", 100, 1e-3, power("instant")),
  run(
    d,
    "Ballast",
    boot,
    esv,
    power("boot", { powerOns: 9, hostsCycled: 4, cyclesPerCycledHostDayMedian: cycled, cyclesPerHostDayMax: 3, switchingEnergyKWh: 0.5 }),
  ),
  run(d, "LR-MMT-1.2 (pre-fix)", 99, 2e-3, power("instant")),
];

describe("bootDaysTable", () => {
  it("gives one row per day and says on how many days each goal holds, misses included", () => {
    const t = bootDaysTable(bootDays([...day("20110306", 106, 1e-3, 2), ...day("20110303", 104, 3e-3, 3)]));
    const rows = t.split("\n").filter((l) => l.startsWith("| 2011"));
    expect(rows.map((r) => r.slice(2, 10))).toEqual(["20110303", "20110306"]);
    expect(rows[0]).toContain("| +4.0 % |");
    expect(rows[0]).toContain("| 1.50 |");
    expect(rows[1]).toContain("| +6.0 % |");
    expect(t).toContain("energy within 5 % of Ballast's instant run: 1 of 2 days (+4.0 % to +6.0 %)");
    expect(t).toContain("ESV at most LR-MMT-1.2's: 1 of 2 days (0.50 to 1.50 of it)");
    expect(t).toContain("over all hosts 2 of 2 days, over the hosts cycled 1 of 2 days (2 to 3; max 3)");
  });

  it("refuses a day without its three runs", () => {
    expect(() => bootDays(day("20110303", 104, 1e-3, 2).slice(1))).toThrow(BootDaysError);
    expect(() => bootDays(day("20110303", 104, 1e-3, 2).slice(1))).toThrow("20110303: no instant run");
  });
});
