import { describe, expect, it } from "vitest";
import { intervalEnergyJ, POWER_G4, POWER_G5, powerAt, PowerModelError, validatePowerTable } from "../../../sim/model/power.js";

describe("powerAt", () => {
  it("returns the table at whole tens", () => {
    expect(powerAt(POWER_G4, 0)).toBe(86);
    expect(powerAt(POWER_G4, 1)).toBe(117);
    expect(powerAt(POWER_G5, 0.5)).toBe(116);
    expect(powerAt(POWER_G5, 0.3)).toBeCloseTo(105, 12);
  });
  it("interpolates linearly in between", () => {
    expect(powerAt(POWER_G4, 0.05)).toBeCloseTo(87.7, 12); // 86 + 3.4 / 2
    expect(powerAt(POWER_G5, 0.95)).toBeCloseTo(134, 12);
    expect(powerAt(POWER_G4, 0.47)).toBeCloseTo(99.5 + 0.7 * 2.5, 12);
  });
  it("rejects utilisation outside [0, 1]", () => {
    expect(() => powerAt(POWER_G4, 1.0001)).toThrow(PowerModelError);
    expect(() => powerAt(POWER_G4, -0.1)).toThrow(PowerModelError);
    expect(() => validatePowerTable([1, 2])).toThrow(/11 values/);
  });
});

describe("intervalEnergyJ", () => {
  it("is the trapezoid of the power at both ends", () => {
    // G4 from 0 % ... no: from 50 % (102 W) to 100 % (117 W) over 300 s
    expect(intervalEnergyJ(POWER_G4, 0.5, 1, 300)).toBeCloseTo(((102 + 117) / 2) * 300, 9);
    expect(intervalEnergyJ(POWER_G5, 0.2, 0.2, 10)).toBeCloseTo(1010, 9);
  });
  it("is zero for a host that was off (previous utilisation 0)", () => {
    expect(intervalEnergyJ(POWER_G4, 0, 0.8, 300)).toBe(0);
  });
  it("charges idle power on the way down to 0", () => {
    expect(intervalEnergyJ(POWER_G4, 0.1, 0, 100)).toBeCloseTo(((89.4 + 86) / 2) * 100, 9);
  });
});
