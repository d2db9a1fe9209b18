import { describe, expect, it } from "vitest";
import { CLOUDSIM_DATACENTRE } from "../../sim/model/datacentre.js";
import { cloudSimPolicy } from "../../sim/policies/cloudsim/policy.js";
import { fewestHosts, ownTraceSizing, unplacedAt } from "../../sim/sizing.js";
import { constTrace } from "./builders.js";

describe("sizings", () => {
  it("own-trace: each VM sized to its own peak, its demand in MIPS and MB unchanged", () => {
    const traces = [
      { name: "a", cpu: Float64Array.from([0.2, 0.5, 0.1]), mem: Float64Array.from([0.3, 0.6, 0.6]) },
      { name: "b", cpu: Float64Array.from([0, 0, 0]), mem: Float64Array.from([0.1, 0.1, 0.1]) },
    ];
    const own = ownTraceSizing(traces);
    expect(own.types.map((t) => [t.mips, t.ramMb])).toEqual([
      [0.5 * 2500, 0.6 * 1740],
      [0.01 * 2500, 0.1 * 1740],
    ]);
    expect(Array.from(own.traces[0]!.cpu)).toEqual([0.4, 1, 0.2]);
    for (let i = 0; i < 3; i++) {
      expect(own.traces[0]!.cpu[i]! * own.types[0]!.mips).toBeCloseTo(traces[0]!.cpu[i]! * 2500, 9);
      expect(own.traces[0]!.mem![i]! * own.types[0]!.ramMb).toBeCloseTo(traces[0]!.mem[i]! * 1740, 9);
    }
  });

  it("fewest-hosts: the smallest host count on which the placement places every VM", () => {
    // 40 VMs of CloudSim's four types by file order; 800 hosts are far too many.
    const traces = Array.from({ length: 40 }, (_, i) => constTrace(`vm${String(i).padStart(2, "0")}`, 0.5, 4));
    const make = () => cloudSimPolicy("lr-mmt-1.2", "prefix");
    const n = fewestHosts(traces, CLOUDSIM_DATACENTRE, [make]);
    expect(n).toBeLessThan(40);
    expect(unplacedAt(traces, { ...CLOUDSIM_DATACENTRE, hostCount: n }, make())).toBe(0);
    expect(unplacedAt(traces, { ...CLOUDSIM_DATACENTRE, hostCount: n - 1 }, make())).toBeGreaterThan(0);
  });
});
