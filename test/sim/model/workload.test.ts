import { describe, expect, it } from "vitest";
import { utilisationAt, withTrailingSample } from "../../../sim/model/workload.js";

describe("utilisationAt", () => {
  const d = withTrailingSample(Float64Array.from([0.1, 0.3, 0.5]));
  it("appends a sample equal to the last one", () => {
    expect(Array.from(d)).toEqual([0.1, 0.3, 0.5, 0.5]);
  });
  it("returns samples on the grid and interpolates between them", () => {
    expect(utilisationAt(d, 0, 300)).toBe(0.1);
    expect(utilisationAt(d, 600, 300)).toBe(0.5);
    expect(utilisationAt(d, 150, 300)).toBeCloseTo(0.2, 12);
    expect(utilisationAt(d, 300.1, 300)).toBeCloseTo(0.3 + 0.2 * (0.1 / 300), 12);
    expect(utilisationAt(d, 800, 300)).toBeCloseTo(0.5, 12); // between the 3rd sample and the appended one
  });
  it("is 0 only when both neighbours are 0 (CloudSim then treats the VM as finished)", () => {
    const z = withTrailingSample(Float64Array.from([0, 0, 0.2]));
    expect(utilisationAt(z, 300.1, 300)).toBeGreaterThan(0);
    expect(utilisationAt(z, 0.1, 300)).toBe(0);
  });
});
