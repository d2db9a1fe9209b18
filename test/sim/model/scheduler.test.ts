import { describe, expect, it } from "vitest";
import { allocate } from "../../../sim/model/scheduler.js";

const e = (request: number, migratingIn = false, migratingOut = false) => ({ request, migratingIn, migratingOut });

describe("allocate (time-shared with over-subscription)", () => {
  it("gives every VM its demand when it fits", () => {
    const a = allocate([e(1000), e(500)], 1860, 3720);
    expect(Array.from(a.alloc)).toEqual([1000, 500]);
    expect(a.available).toBe(2220);
    expect(a.oversubscribed).toBe(false);
  });
  it("caps a VM at one core", () => {
    const a = allocate([e(2400)], 1860, 3720);
    expect(a.alloc[0]).toBe(1860);
  });
  it("degrades a migrating-out VM by 10 % and charges a migrating-in VM 10 %", () => {
    const a = allocate([e(1000, false, true), e(1000, true)], 2660, 5320);
    expect(a.alloc[0]).toBeCloseTo(900, 9);
    expect(a.alloc[1]).toBeCloseTo(100, 9);
    expect(a.available).toBeCloseTo(5320 - 1000 - 100, 9);
  });
  it("scales everyone down and floors when oversubscribed", () => {
    const a = allocate([e(1860), e(1860), e(1000)], 1860, 3720);
    const f = 3720 / 4720;
    expect(a.oversubscribed).toBe(true);
    expect(a.available).toBe(0);
    expect(Array.from(a.alloc)).toEqual([Math.floor(1860 * f), Math.floor(1860 * f), Math.floor(1000 * f)]);
  });
});
