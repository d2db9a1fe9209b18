import { describe, expect, it } from "vitest";
import type { RunMetrics } from "../../../sim/engine.js";
import type { RunRecord } from "../../../sim/report/metrics-json.js";
import { ratioTable, resolveBaseline } from "../../../sim/report/ratios.js";

const m = (energyKWh: number, esv: number, migrations: number, slatah = 0.03, mem?: number): RunMetrics =>
  ({
    energyKWh,
    esv,
    migrations,
    slatah,
    memorySimulated: mem !== undefined,
    ...(mem !== undefined ? { memOverCapacityHostS: mem } : {}),
  }) as unknown as RunMetrics;
const rec = (workload: string, policy: string, metrics: RunMetrics): RunRecord => ({ workload, policy, metrics });

describe("per-run ratios against a baseline", () => {
  // Two days. Ballast: day 1 1.04x energy (held), day 2 1.20x (not held); medians alone would hide
  // which day loses.
  const runs = [
    rec("d1", "LR-MMT-1.2 (pre-fix)", m(100, 2e-3, 10_000)),
    rec("d1", "Ballast", m(104, 1e-3, 4_000)),
    rec("d2", "LR-MMT-1.2 (pre-fix)", m(100, 2e-3, 10_000)),
    rec("d2", "Ballast", m(120, 3e-3, 6_000)),
  ];

  it("prints one row per run with ratios to the baseline of the same run", () => {
    const t = ratioTable(runs, "lr-mmt");
    expect(t).toContain("| d1 | Ballast | 1.040 | 1.000 | 0.500 | 0.400 | 3/3 |");
    expect(t).toContain("| d2 | Ballast | 1.200 | 1.000 | 1.500 | 0.600 | 0/3 |");
  });

  it("counts the runs on which each goal holds", () => {
    expect(ratioTable(runs, "LR-MMT-1.2 (pre-fix)")).toContain("| Ballast | 2 | 1/2 | 1/2 | 1/2 | 1/2 |");
  });

  it("uses the memory goals when memory was simulated", () => {
    const t = ratioTable(
      [rec("s1", "THR+MEM", m(100, 1e-3, 1000, 0.02, 50)), rec("s1", "Ballast", m(90, 1e-3, 200, 0.01, 0)), rec("s1", "Other", m(90, 1e-3, 200, 0.01, 10))],
      "thr+mem",
    );
    expect(t).toContain("0 host-s over memory");
    expect(t).toContain("| Ballast | 1 | 1/1 | 1/1 | 1/1 | 1/1 | 1/1 |");
    expect(t).toContain("| Other | 1 | 0/1 | 1/1 | 1/1 | 1/1 | 0/1 |");
  });

  it("refuses an unknown or ambiguous baseline, naming the policies", () => {
    expect(() => resolveBaseline(runs, "thr")).toThrow(/no policy named thr.*Ballast/);
    expect(() => resolveBaseline([...runs, rec("d1", "LR-MMT-1.2 (303)", m(1, 1, 1))], "lr")).toThrow(/ambiguous/);
  });
});
