import { describe, expect, it } from "vitest";
import { CLOUDSIM_VM_TYPES, HOST_G4, HOST_G5 } from "../../../../sim/model/datacentre.js";
import { powerAt, POWER_G4 } from "../../../../sim/model/power.js";
import { thresholdDetector } from "../../../../sim/policies/cloudsim/detectors.js";
import { findHostForVm, sortByDemandDesc } from "../../../../sim/policies/cloudsim/pabfd.js";
import { TentativeModel } from "../../../../sim/policies/cloudsim/tentative.js";
import { buildView } from "../../builders.js";

const t1000 = CLOUDSIM_VM_TYPES[2]!;
const thr = thresholdDetector(0.8);

describe("PABFD", () => {
  it("picks the host whose power grows least and skips hosts overloaded afterwards", () => {
    // host 0 (G4) at 40 %: +0.1344 -> slope 2.5 W per 10 % (40-50 %) then 4 W (50-60 %)
    // host 1 (G4) at 10 %: slope 3.2 W per 10 %
    // host 2 (G4) at 75 %: would exceed 80 % -> skipped
    const view = buildView(
      [{ type: HOST_G4 }, { type: HOST_G4 }, { type: HOST_G4 }],
      [
        { host: 0, type: t1000, u: 1 }, // 1000 MIPS
        { host: 0, type: t1000, u: 0.488 },
        { host: 1, type: t1000, u: 0.372 },
        { host: 2, type: t1000, u: 1 },
        { host: 2, type: t1000, u: 1 },
        { host: 2, type: t1000, u: 0.79 },
        { host: -1, type: t1000, u: 0.5 }, // the VM to place: 500 MIPS
      ],
    );
    const m = new TentativeModel(view);
    const vm = m.vms[6]!;
    const diff = (from: number) => powerAt(POWER_G4, from + 500 / 3720) - powerAt(POWER_G4, from);
    const u0 = 1488 / 3720;
    const u1 = 372 / 3720;
    const expected = diff(u0) < diff(u1) ? 0 : 1;
    expect(findHostForVm(m, vm, new Set(), thr, "303")?.id).toBe(expected);
    expect(findHostForVm(m, vm, new Set([expected]), thr, "303")?.id).toBe(1 - expected);
  });

  it("3.0.3 counts VMs placed earlier in the round; the pre-fix variant does not", () => {
    // two empty G5 hosts, measured 0. After one VM goes to host 0, 3.0.3 sees host 0 at 2000 MIPS.
    const big = CLOUDSIM_VM_TYPES[1]!; // 2000 MIPS
    const view = buildView(
      [{ type: HOST_G5 }, { type: HOST_G5 }],
      [
        { host: -1, type: big, u: 1 },
        { host: -1, type: big, u: 1 },
      ],
    );
    for (const variant of ["303", "prefix"] as const) {
      const m = new TentativeModel(view);
      const first = findHostForVm(m, m.vms[0]!, new Set(), thr, variant)!;
      expect(first.id).toBe(0);
      m.create(first, m.vms[0]!);
      const second = findHostForVm(m, m.vms[1]!, new Set(), thr, variant)!;
      // 3.0.3: host 0 would be at 4000/5320 = 75 % (< 80 %, allowed) but power grows more than
      // on the empty host 1; pre-fix: host 0 still looks empty, the first equal host wins.
      expect(second.id).toBe(variant === "303" ? 1 : 0);
    }
  });

  it("requires one core to cover the demand", () => {
    const view = buildView([{ type: HOST_G4 }, { type: HOST_G5 }], [{ host: -1, type: CLOUDSIM_VM_TYPES[0]!, u: 0.9 }]);
    const m = new TentativeModel(view);
    expect(findHostForVm(m, m.vms[0]!, new Set(), thr, "303")?.id).toBe(1); // 2250 MIPS > 1860 per G4 core
  });

  it("sorts by demand, descending, stable", () => {
    const view = buildView(
      [{}],
      [
        { host: 0, u: 0.2 },
        { host: 0, u: 0.9 },
        { host: 0, u: 0.2 },
      ],
    );
    const m = new TentativeModel(view);
    expect(sortByDemandDesc(m, [0, 1, 2])).toEqual([1, 0, 2]);
  });
});
