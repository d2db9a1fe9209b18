import { describe, expect, it } from "vitest";
import { CLOUDSIM_VM_TYPES, HOST_G5 } from "../../../../sim/model/datacentre.js";
import { CloudSimPolicy, cloudSimPolicy } from "../../../../sim/policies/cloudsim/policy.js";
import { buildView } from "../../builders.js";

const t1000 = CLOUDSIM_VM_TYPES[2]!;

describe("CloudSimPolicy.decide", () => {
  it("moves MMT VMs off an overloaded host and empties the least-utilised host", () => {
    const view = buildView(
      [{ type: HOST_G5 }, { type: HOST_G5 }, { type: HOST_G5 }, { type: HOST_G5 }],
      [
        // host 0: 4 × 1000 + 500 = 4500 / 5320 = 85 % -> overloaded at 0.8
        { host: 0, type: t1000, u: 1 },
        { host: 0, type: t1000, u: 1 },
        { host: 0, type: t1000, u: 1 },
        { host: 0, type: t1000, u: 1 },
        { host: 0, type: CLOUDSIM_VM_TYPES[3]!, u: 1 }, // 613 MB: the MMT pick
        // host 1: 40 %; host 2: 10 % (least utilised); host 3 off
        { host: 1, type: t1000, u: 1 },
        { host: 1, type: t1000, u: 1 },
        { host: 2, type: t1000, u: 0.532 },
      ],
    );
    const plan = new CloudSimPolicy({ detector: "thr", parameter: 0.8, variant: "303" }).decide(view);
    // VM 4 (613 MB) leaves host 0. PABFD ignores idle power, so the switched-off host 3 has the
    // smallest power increase (3.1 W vs 3.8 W on host 2 and 5.4 W on host 1) and gets it.
    // Then host 2, the least utilised, is emptied onto host 1; switched-off hosts are never
    // targets of consolidation, so host 3 is not considered for VM 7.
    expect(plan).toEqual([
      { vm: 4, host: 3 },
      { vm: 7, host: 1 },
    ]);
  });

  it("initial placement asks for full MIPS and spreads VMs in 3.0.3, packs them pre-fix", () => {
    const view = buildView(
      [{ type: HOST_G5 }, { type: HOST_G5 }],
      [
        { host: -1, type: t1000, u: 1 },
        { host: -1, type: t1000, u: 1 },
      ],
      0,
    );
    expect(cloudSimPolicy("thr-mmt-0.8", "303").initialPlacement(view)).toEqual([0, 1]);
    expect(cloudSimPolicy("thr-mmt-0.8", "prefix").initialPlacement(view)).toEqual([0, 0]);
    expect(() => cloudSimPolicy("nope", "303")).toThrow(/unknown CloudSim baseline/);
  });
});
