import { describe, expect, it } from "vitest";
import { CLOUDSIM_VM_TYPES } from "../../../../sim/model/datacentre.js";
import { selectMmt } from "../../../../sim/policies/cloudsim/mmt.js";
import { TentativeModel } from "../../../../sim/policies/cloudsim/tentative.js";
import { buildView } from "../../builders.js";

const [t2500, t2000, , t500] = CLOUDSIM_VM_TYPES;

describe("MMT selection", () => {
  it("takes the VM with the least RAM, first on ties, skipping migrating VMs", () => {
    const view = buildView(
      [{}],
      [
        { host: 0, type: t2000 }, // 1740 MB
        { host: 0, type: t500, inMigration: true }, // 613 MB but migrating
        { host: 0, type: t2500 }, // 870 MB
        { host: 0, type: t2500 }, // 870 MB (tie, later)
      ],
    );
    const m = new TentativeModel(view);
    expect(selectMmt(m, m.hosts[0]!)).toBe(2);
    m.destroy(m.hosts[0]!, m.vms[2]!);
    expect(selectMmt(m, m.hosts[0]!)).toBe(3);
  });
  it("returns -1 on an empty host", () => {
    const m = new TentativeModel(buildView([{}], []));
    expect(selectMmt(m, m.hosts[0]!)).toBe(-1);
  });
});
