import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { WindowMax } from "../../shared/window-max.js";

describe("WindowMax", () => {
  it("is the maximum of the samples newer than now − window, the newest always counting", () => {
    const w = new WindowMax(30_000);
    expect(w.max(0)).toBeNull();
    w.push(0, 5);
    w.push(10_000, 9);
    w.push(20_000, 3);
    expect(w.max(20_000)).toBe(9);
    expect(w.max(39_999)).toBe(9);
    expect(w.max(40_000)).toBe(3);
    // Long after, the newest sample is still what is known.
    expect(w.max(1e9)).toBe(3);
  });

  it("ignores a sample older than the newest, and with a window of 0 keeps only the newest", () => {
    const w = new WindowMax(30_000);
    w.push(10_000, 1);
    w.push(5_000, 100);
    expect(w.max(10_000)).toBe(1);
    const z = new WindowMax(0);
    z.push(0, 50);
    z.push(1, 10);
    expect(z.max(1)).toBe(10);
  });

  it("agrees with a brute-force maximum and keeps only a decreasing run", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 1000 })), { minLength: 1, maxLength: 200 }),
        fc.integer({ min: 1, max: 100_000 }),
        (steps, window) => {
          const w = new WindowMax(window);
          const seen: [number, number][] = [];
          let t = 0;
          for (const [dt, v] of steps) {
            t += dt;
            w.push(t, v);
            seen.push([t, v]);
            const inWindow = seen.filter(([ts], i) => ts > t - window || i === seen.length - 1).map(([, x]) => x);
            expect(w.max(t)).toBe(Math.max(...inWindow));
          }
          expect(w.size).toBeLessThanOrEqual(seen.length);
        },
      ),
      { seed: 16, numRuns: 200 },
    );
  });
});
