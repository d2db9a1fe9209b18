import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { explainHost } from "../../../orchestrator/core/explain-host.js";
import { plan } from "../../../orchestrator/core/planner.js";
import { powerRequest } from "../../../orchestrator/core/power-request.js";
import type { ClusterSnapshot } from "../../../shared/schemas/snapshot.js";
import { flight, host, NOW, policy, snapshot, vm } from "./builders.js";
import { booting, idle, off, powered, powerPolicy } from "./power-builders.js";

// explainHost: any host's power state and verdict, the same as a cycle plan's; powerRequest: an
// operator's power on/off judged on the snapshot.

const cluster = (cpu = 20): ClusterSnapshot =>
  snapshot([powered(host("a", { cpu })), powered(host("b", { cpu })), idle("e"), off("g"), booting("k")], [vm("a1", "a"), vm("b1", "b")]);

describe("explainHost", () => {
  it("names an unknown host", () => {
    const x = explainHost(cluster(), powerPolicy(), NOW, "zz");
    expect(x.known).toBe(false);
    expect(x.verdict?.code).toBe("HOST_UNKNOWN");
  });

  it("says power management is off, with the host's state", () => {
    const x = explainHost(cluster(), policy(), NOW, "g");
    expect(x).toMatchObject({ known: true, managed: false, state: "off", action: null, verdict: null });
    expect(x.summary).toMatch(/host g is off; power management is off/);
  });

  it.each([
    ["a", "on", "POWER_HOLDS_VMS"],
    ["g", "off", "POWER_NOT_NEEDED"],
    ["k", "booting", "DEST_BOOTING"],
  ])("gives host %s (%s) its verdict %s, also when the plan does not log one", (id, state, code) => {
    const x = explainHost(cluster(), powerPolicy(), NOW, id);
    expect(x.state).toBe(state);
    expect(x.verdict?.code).toBe(code);
    expect(x.summary).toContain(code);
  });

  it("gives the action a cycle plans for the host, with its reason", () => {
    // k booting makes the cluster unsettled; without it e is switched off.
    const s = snapshot([powered(host("a")), powered(host("b")), idle("e")], [vm("a1", "a"), vm("b1", "b")]);
    const x = explainHost(s, powerPolicy(), NOW, "e");
    expect(x.action).toMatchObject({ host: "e", action: "off", code: "POWER_OFF_IDLE" });
    expect(x.verdict?.code).toBe("POWER_OFF_IDLE");
    expect(x.summary).toMatch(/switches it off \(POWER_OFF_IDLE\)/);
    expect(explainHost(cluster(), powerPolicy(), NOW, "e").verdict?.code).toBe("POWER_UNSETTLED");
  });

  it("agrees with the plan on every host of random clusters", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ kind: fc.constantFrom("busy", "idle", "off", "booting"), cpu: fc.integer({ min: 0, max: 90 }) }), { minLength: 2, maxLength: 6 }),
        (hs) => {
          const hosts = hs.map((h, i) =>
            h.kind === "busy" ? powered(host(`h${i}`, { cpu: h.cpu })) : h.kind === "idle" ? idle(`h${i}`) : h.kind === "off" ? off(`h${i}`) : booting(`h${i}`),
          );
          const vms = hs.flatMap((h, i) => (h.kind === "busy" ? [vm(`v${i}`, `h${i}`)] : []));
          const s = snapshot(hosts, vms);
          const pol = powerPolicy();
          const p = plan(s, pol, NOW);
          for (const h of hosts) {
            const x = explainHost(s, pol, NOW, h.id);
            expect(x.action).toEqual(p.power.find((a) => a.host === h.id) ?? null);
            expect(x.verdict).not.toBeNull();
            for (const d of p.decisions.filter((d) => d.subject === h.id && d.code.startsWith("POWER_"))) expect(x.decisions).toContainEqual(d);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe("powerRequest (ballast power on|off HOST)", () => {
  it("switches a host on for an operator, clearing a failure and past the cycle cap", () => {
    const s = snapshot([powered(host("a")), off("g", {}, { failed: "ipmi timeout", cyclesToday: 9 })], [vm("a1", "a")]);
    const r = powerRequest(s, powerPolicy(), NOW, "g", "on");
    expect(r.refusal).toBeNull();
    expect(r.action).toMatchObject({ host: "g", action: "on", code: "POWER_MANUAL", numbers: { clearsFailure: true } });
  });

  it("switches off an empty host even below the reserve, and says so", () => {
    const s = snapshot([powered(host("a", { cpu: 60 })), powered(host("e", { cpu: 1 }))], [vm("a1", "a"), vm("old", "e", { state: "shutoff" })]);
    const r = powerRequest(s, powerPolicy(), NOW, "e", "off");
    expect(r.action).toMatchObject({ action: "off", code: "POWER_MANUAL", numbers: { reserveHolds: false } });
    expect(r.action!.reason).toMatch(/although without it/);
  });

  it.each([
    ["an unknown host", "zz", "on", "HOST_UNKNOWN"],
    ["a host without a driver", "n", "off", "POWER_NO_DRIVER"],
    ["a host running VMs", "a", "off", "POWER_HOLDS_VMS"],
    ["a host a migration is on its way to", "e", "off", "POWER_HOLDS_VMS"],
    ["a host already on", "a", "on", "POWER_NOT_NEEDED"],
    ["a host already off", "g", "off", "POWER_NOT_NEEDED"],
  ] as const)("refuses %s", (_what, id, action, code) => {
    const s = snapshot([powered(host("a")), powered(host("n", { cpu: 1 }), { switchable: false }), idle("e"), off("g")], [vm("a1", "a")], {
      inFlight: [flight("a1", "a", "e")],
    });
    const r = powerRequest(s, powerPolicy(), NOW, id, action);
    expect(r.action).toBeNull();
    expect(r.refusal?.code).toBe(code);
  });
});
