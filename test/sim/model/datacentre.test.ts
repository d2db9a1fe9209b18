import { describe, expect, it } from "vitest";
import {
  CLOUDSIM_DATACENTRE,
  HOST_G4,
  HOST_G5,
  hostTypeOf,
  migrationTimeS,
  ModelError,
  totalMips,
  validateSpec,
  vmTypeIndex,
} from "../../../sim/model/datacentre.js";

describe("data-centre model", () => {
  it("alternates G4 and G5 hosts", () => {
    expect(hostTypeOf(CLOUDSIM_DATACENTRE, 0)).toBe(HOST_G4);
    expect(hostTypeOf(CLOUDSIM_DATACENTRE, 799)).toBe(HOST_G5);
    expect(totalMips(HOST_G4)).toBe(3720);
    expect(totalMips(HOST_G5)).toBe(5320);
  });
  it("assigns VM types by quarters: floor(i / ceil(N/4))", () => {
    // N = 1052 -> ceil(263) = 263 per type
    expect(vmTypeIndex(0, 1052, 4)).toBe(0);
    expect(vmTypeIndex(262, 1052, 4)).toBe(0);
    expect(vmTypeIndex(263, 1052, 4)).toBe(1);
    expect(vmTypeIndex(1051, 1052, 4)).toBe(3);
    // N = 898 -> ceil(224.5) = 225
    expect(vmTypeIndex(224, 898, 4)).toBe(0);
    expect(vmTypeIndex(225, 898, 4)).toBe(1);
    expect(vmTypeIndex(897, 898, 4)).toBe(3);
  });
  it("migration time = RAM / (bandwidth / 2)", () => {
    expect(migrationTimeS(870, 1_000_000)).toBeCloseTo(13.92, 12);
    expect(migrationTimeS(1740, 1_000_000)).toBeCloseTo(27.84, 12);
    expect(migrationTimeS(613, 1_000_000)).toBeCloseTo(9.808, 12);
  });
  it("validates overrides", () => {
    expect(() => validateSpec({ ...CLOUDSIM_DATACENTRE, hostCount: 0 })).toThrow(ModelError);
    expect(() => validateSpec({ ...CLOUDSIM_DATACENTRE, hostTypes: [{ ...HOST_G4, power: [1] }] })).toThrow();
  });
});
