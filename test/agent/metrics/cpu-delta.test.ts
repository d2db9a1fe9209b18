import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CpuDeltaTracker, cpuPercentBetween } from "../../../agent/metrics/cpu-delta.js";
import { domainLoadPercent } from "../../../agent/metrics/domain-load.js";

describe("cpuPercentBetween", () => {
  it("is percent of one core over the interval", () => {
    // 5 s of CPU in 10 s = half a core; 20 s in 10 s = two cores.
    expect(cpuPercentBetween({ cpuTimeNs: 1e9, atMs: 0 }, { cpuTimeNs: 6e9, atMs: 10_000 })).toBeCloseTo(50);
    expect(cpuPercentBetween({ cpuTimeNs: 0, atMs: 0 }, { cpuTimeNs: 20e9, atMs: 10_000 })).toBeCloseTo(200);
  });

  it("is null on the first sample, unknown values, no elapsed time, and a counter that went back", () => {
    expect(cpuPercentBetween(undefined, { cpuTimeNs: 5, atMs: 1 })).toBeNull();
    expect(cpuPercentBetween({ cpuTimeNs: null, atMs: 0 }, { cpuTimeNs: 5, atMs: 1 })).toBeNull();
    expect(cpuPercentBetween({ cpuTimeNs: 5, atMs: 0 }, { cpuTimeNs: null, atMs: 1 })).toBeNull();
    expect(cpuPercentBetween({ cpuTimeNs: 5, atMs: 10 }, { cpuTimeNs: 9, atMs: 10 })).toBeNull();
    expect(cpuPercentBetween({ cpuTimeNs: 9e9, atMs: 0 }, { cpuTimeNs: 1e9, atMs: 10_000 })).toBeNull();
  });

  it("is never negative for a growing counter", () => {
    fc.assert(
      fc.property(fc.nat(1e12), fc.nat(1e12), fc.integer({ min: 1, max: 1e6 }), (a, d, dt) => {
        const p = cpuPercentBetween({ cpuTimeNs: a, atMs: 0 }, { cpuTimeNs: a + d, atMs: dt });
        return p !== null && p >= 0;
      }),
    );
  });
});

describe("CpuDeltaTracker", () => {
  it("tracks each domain and forgets ones that left (a VM that comes back starts at null)", () => {
    const t = new CpuDeltaTracker();
    expect([
      ...t.update(
        [
          { name: "a", cpuTimeNs: 0 },
          { name: "b", cpuTimeNs: 0 },
        ],
        0,
      ),
    ]).toEqual([
      ["a", null],
      ["b", null],
    ]);
    const second = t.update([{ name: "a", cpuTimeNs: 1e9 }], 10_000);
    expect(second.get("a")).toBeCloseTo(10);
    expect(second.has("b")).toBe(false);
    expect(
      t
        .update(
          [
            { name: "a", cpuTimeNs: 2e9 },
            { name: "b", cpuTimeNs: 9e9 },
          ],
          20_000,
        )
        .get("b"),
    ).toBeNull();
  });
});

describe("domainLoadPercent", () => {
  it("sums domain CPU over host cores, unknown as 0, clamped to 100", () => {
    expect(domainLoadPercent([100, 50, null], 2)).toBe(75);
    expect(domainLoadPercent([], 4)).toBe(0);
    expect(domainLoadPercent([800], 2)).toBe(100);
    expect(domainLoadPercent([10], 0)).toBe(0);
  });
});
