import { describe, expect, it } from "vitest";
import { hostLoad, iqrDetector, localRegressionDetector, madDetector, makeDetector, thresholdDetector } from "../../../../sim/policies/cloudsim/detectors.js";

// history arrays are NEWEST FIRST, like CloudSim's
const newestFirst = (oldestFirst: number[]): number[] => [...oldestFirst].reverse();

describe("THR", () => {
  it("fires strictly above the threshold", () => {
    const d = thresholdDetector(0.8);
    expect(d(hostLoad(1000, 800, []))).toBe(false);
    expect(d(hostLoad(1000, 800.1, []))).toBe(true);
  });
});

describe("LR", () => {
  const lr = localRegressionDetector(1.2, 300, { fallback: thresholdDetector(0.7) });
  it("extrapolates the last 10 values to 10 + ceil(migration time / interval) = 11", () => {
    // oldest-first 0.30, 0.35, ..., 0.75 -> a = 0.25, b = 0.05; 1.2 (0.25 + 0.55) = 0.96 < 1
    const rising = newestFirst(Array.from({ length: 10 }, (_, i) => 0.3 + 0.05 * i));
    expect(lr(hostLoad(1000, 100, rising))).toBe(false);
    // shifted up by 0.05: 1.2 (0.30 + 0.55) = 1.02 >= 1
    const higher = newestFirst(Array.from({ length: 10 }, (_, i) => 0.35 + 0.05 * i));
    expect(lr(hostLoad(1000, 100, higher))).toBe(true);
  });
  it("uses only the newest 10 values", () => {
    const h = newestFirst([...Array.from({ length: 20 }, () => 0.99), ...Array.from({ length: 10 }, () => 0.5)]);
    expect(lr(hostLoad(1000, 100, h))).toBe(false); // 1.2 * 0.5 = 0.6
  });
  it("predicts with a flat line exactly at the safety bound", () => {
    const flat = Array.from({ length: 10 }, () => 1 / 1.2 + 1e-9);
    expect(lr(hostLoad(1000, 0, flat))).toBe(true);
  });
  it("falls back to THR 0.7 with fewer than 10 values (after trimming zeros)", () => {
    const short = [0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0.99, 0];
    expect(lr(hostLoad(1000, 710, short))).toBe(true); // fallback: 0.71 > 0.7
    expect(lr(hostLoad(1000, 690, short))).toBe(false);
  });
  it("looks further ahead for VMs that take longer than an interval to move", () => {
    const h = newestFirst(Array.from({ length: 10 }, (_, i) => 0.3 + 0.05 * i));
    // 1 Gbit/s: 1740 MB -> 27.84 s -> 1 interval. 10 Mbit/s: 2784 s -> 10 intervals -> 1.2 (0.25 + 1.0) >= 1
    expect(lr(hostLoad(1000, 100, h, 1740, 10_000))).toBe(true);
  });
});

describe("IQR and MAD", () => {
  // 12 values oldest-first 0.40 .. 0.62 step 0.02
  const vals = Array.from({ length: 12 }, (_, i) => 0.4 + 0.02 * i);
  const h = newestFirst(vals);
  it("IQR threshold = 1 - s * IQR", () => {
    // sorted: positions 2 and 9 -> 0.58 - 0.44 = 0.14; 1 - 1.5 * 0.14 = 0.79
    const d = iqrDetector(1.5);
    expect(d(hostLoad(1000, 789, h))).toBe(false);
    expect(d(hostLoad(1000, 791, h))).toBe(true);
  });
  it("MAD threshold = 1 - s * MAD", () => {
    // median 0.51; |dev| = 0.11, 0.09, ..., 0.01, 0.01, ..., 0.11 -> MAD 0.06; 1 - 2.5 * 0.06 = 0.85
    const d = madDetector(2.5);
    expect(d(hostLoad(1000, 849, h))).toBe(false);
    expect(d(hostLoad(1000, 851, h))).toBe(true);
  });
  it("fall back to THR 0.7 with fewer than 12 values", () => {
    const short = h.slice(0, 11);
    expect(iqrDetector(1.5)(hostLoad(1000, 710, short))).toBe(true);
    expect(madDetector(2.5)(hostLoad(1000, 690, short))).toBe(false);
  });
  it("are built by name", () => {
    expect(makeDetector("thr", 0.8)(hostLoad(1000, 850, []))).toBe(true);
    expect(makeDetector("lrr", 1.2)(hostLoad(1000, 650, []))).toBe(false);
  });
});
