import { describe, expect, it } from "vitest";
import { countNonZeroBeginning, iqr, mad, median, olsOnIndex, trimZeroTail } from "../../../../sim/policies/cloudsim/stats.js";

describe("CloudSim MathUtil equivalents", () => {
  it("median (mean of the middle two for even n)", () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });
  it("mad", () => {
    // median 3; deviations 2,1,0,1,2,3 -> median 1.5
    expect(mad([1, 2, 3, 4, 5, 6].map((x) => x))).toBe(1.5);
    expect(mad([])).toBe(0);
  });
  it("iqr uses round(0.25(n+1)) and round(0.75(n+1)) positions", () => {
    // n = 12: q1 = round(3.25)-1 = 2, q3 = round(9.75)-1 = 9 -> s[9] - s[2]
    const d = [12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1];
    expect(iqr(d)).toBe(10 - 3);
  });
  it("trims the zero tail", () => {
    expect(countNonZeroBeginning([0.1, 0, 0.2, 0, 0])).toBe(3);
    expect(trimZeroTail([0.1, 0, 0.2, 0, 0])).toEqual([0.1, 0, 0.2]);
    // CloudSim quirk kept on purpose: an all-zero history keeps one value
    expect(trimZeroTail([0, 0])).toEqual([0]);
  });
  it("least squares on x = 1..n", () => {
    const [a, b] = olsOnIndex([3, 5, 7, 9]); // y = 1 + 2x
    expect(a).toBeCloseTo(1, 12);
    expect(b).toBeCloseTo(2, 12);
    expect(olsOnIndex([1, 2]).every(Number.isNaN)).toBe(true);
  });
});
