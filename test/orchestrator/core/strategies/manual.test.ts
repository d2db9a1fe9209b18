import { describe, expect, it } from "vitest";
import { plan } from "../../../../orchestrator/core/planner.js";
import { host, NOW, past, policy, snapshot, vm } from "../builders.js";

const s = () => snapshot([host("a"), host("b", { cpu: 30 }), host("c", { cpu: 65 }), host("d", { cpu: 5 })], [vm("x", "a", { cpu: 100 })]);
const manual = (destination?: string, snap = s(), o: Parameters<typeof policy>[0] = {}) =>
  plan(snap, policy(o), NOW, { mode: "manual", vm: "x", ...(destination ? { destination } : {}) });

describe("manual", () => {
  it("moves the VM to the named host when the constraints allow", () => {
    expect(manual("b").moves[0]).toMatchObject({ vm: "x", source: "a", destination: "b", code: "MANUAL", strategy: "manual" });
  });

  it("refuses a named host that breaks a limit, with the code", () => {
    const p = manual("c");
    expect(p.moves).toEqual([]);
    expect(p.decisions[0]).toMatchObject({ kind: "host", subject: "c", code: "DEST_CPU", vm: "x" });
  });

  it("without a host picks the best one", () => {
    expect(manual().moves[0]?.destination).toBe("d");
  });

  it("ignores the cooldown (operator action) but not a pin", () => {
    expect(manual("b", { ...s(), history: [past("x", "z", "a", 10)] }).moves).toHaveLength(1);
    expect(manual("b", s(), { pinned_vms: ["x"] }).decisions[0]?.code).toBe("VM_PINNED");
  });

  it("unknown VM and unknown host are reported", () => {
    expect(plan(s(), policy(), NOW, { mode: "manual", vm: "nope" }).decisions[0]?.code).toBe("VM_UNKNOWN");
    expect(manual("zz").decisions[0]?.code).toBe("DEST_UNKNOWN");
  });
});
