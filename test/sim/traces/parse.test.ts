import { describe, expect, it } from "vitest";
import { compareBytes, parseCpuMem, parsePlanetLab, parseTrace, percentToFractions, TraceParseError } from "../../../sim/traces/parse.js";

const lines = (n: number, f: (i: number) => string): string => Array.from({ length: n }, (_, i) => f(i)).join("\n") + "\n";

describe("parsePlanetLab", () => {
  it("reads 288 integers", () => {
    const v = parsePlanetLab(lines(288, (i) => String(i % 100)));
    expect(v).toHaveLength(288);
    expect(v[0]).toBe(0);
    expect(v[99]).toBe(99);
  });
  it("tolerates CRLF and a missing final newline", () => {
    expect(parsePlanetLab("1\r\n2\r\n3", "t", 3)).toEqual([1, 2, 3]);
  });
  it("rejects wrong lengths, non-integers and values over 100", () => {
    expect(() => parsePlanetLab("1\n2\n", "t", 3)).toThrow(TraceParseError);
    expect(() => parsePlanetLab("1\n2.5\n3\n", "t", 3)).toThrow(/not a non-negative integer/);
    expect(() => parsePlanetLab("1\n-2\n3\n", "t", 3)).toThrow(TraceParseError);
    expect(() => parsePlanetLab("1\n101\n3\n", "t", 3)).toThrow(/> 100/);
    expect(() => parsePlanetLab("", "t", 0)).toThrow(/empty/);
  });
});

describe("parseCpuMem", () => {
  it("reads two columns and clamps memory above 100", () => {
    const { cpu, mem } = parseCpuMem("6.763 5.103\n7.288 215.31\n", "t", 2);
    expect(cpu).toEqual([6.763, 7.288]);
    expect(mem).toEqual([5.103, 100]);
  });
  it("rejects malformed rows", () => {
    expect(() => parseCpuMem("1 2 3\n", "t", 1)).toThrow(/2 columns/);
    expect(() => parseCpuMem("1 x\n", "t", 1)).toThrow(/not numbers/);
  });
});

describe("helpers", () => {
  it("converts percent to fractions like CloudSim (value / 100.0)", () => {
    expect(Array.from(percentToFractions([0, 12, 99]))).toEqual([0, 0.12, 0.99]);
  });
  it("sorts names in byte order", () => {
    expect(["b", "B", "a_1", "a-1", "a"].sort(compareBytes)).toEqual(["B", "a", "a-1", "a_1", "b"]);
  });
  it("builds a two-resource trace", () => {
    const t = parseTrace("cpu-mem", "50 20\n", "vm", 1);
    expect(Array.from(t.cpu)).toEqual([0.5]);
    expect(Array.from(t.mem ?? [])).toEqual([0.2]);
    expect(parseTrace("planetlab", "7\n", "vm", 1).mem).toBeUndefined();
  });
});
