import { describe, expect, it } from "vitest";
import { StartGuard } from "../../../agent/recovery/start-guard.js";
import { ManualClock } from "../../../agent/sim/manual-clock.js";
import { SimHypervisor } from "../../../agent/sim/sim-hypervisor.js";
import { TimeoutError } from "../../../shared/errors.js";
import { createLogger } from "../../../shared/logger.js";
import type { VmClaimReply } from "../../../shared/schemas/orchestrator-api.js";

// The agent's start guard on the sim hypervisor: autostart goes off on every domain (logged once
// per VM), and a domain that had it on starts only when the orchestrator's claim says so; no
// answer, a refusal or an error answer leaves it off; a domain libvirtd already started is left to
// the orchestrator's duplicate guard.

function setup(mode: "disable" | "keep" = "disable") {
  const hv = new SimHypervisor({
    host: "hb",
    clock: new ManualClock(),
    config: {
      vms: [
        { name: "mine", state: "shutoff", autostart: true },
        { name: "moved", state: "shutoff", autostart: true },
        { name: "silent", state: "shutoff", autostart: true },
        { name: "booted", state: "running", autostart: true },
        { name: "plain", state: "shutoff" },
      ],
    },
  });
  const lines: { msg: string; vm?: string; level: number }[] = [];
  const logger = createLogger({ name: "t", level: "debug", destination: { write: (l: string) => void lines.push(JSON.parse(l)) } });
  const asked: string[] = [];
  const claim = (vm: string): Promise<VmClaimReply> => {
    asked.push(vm);
    const base = { vm, host: "hb", elsewhere: [] as string[] };
    if (vm === "mine") return Promise.resolve({ ...base, mayStart: true, recordHost: "hb", reason: "the record names hb" });
    if (vm === "moved") return Promise.resolve({ ...base, mayStart: false, recordHost: "ha", elsewhere: ["ha"], reason: "the record names ha" });
    return Promise.reject(new TimeoutError("no answer on ballast.orch.vm-claim within 5000 ms"));
  };
  const guard = new StartGuard({ host: "hb", hypervisor: hv, mode, claim, logger });
  return { hv, guard, lines, asked };
}

const stateOf = (hv: SimHypervisor, vm: string) => hv.vms().find((v) => v.name === vm)?.state;

describe("StartGuard", () => {
  it("turns autostart off everywhere and starts only what the orchestrator allows", async () => {
    const { hv, guard, asked } = setup();
    const out = await guard.atStart();
    expect(Object.fromEntries(out.map((o) => [o.vm, o.outcome]))).toEqual({ mine: "started", moved: "refused", silent: "no_answer", booted: "running" });
    expect(out.find((o) => o.vm === "moved")?.reason).toBe("the record names ha");
    expect(out.find((o) => o.vm === "silent")?.reason).toMatch(/no answer from the orchestrator .*not started/);
    // Only domains that had autostart on and were not running are asked about.
    expect(asked.sort()).toEqual(["mine", "moved", "silent"]);
    expect(await hv.autostartDomains()).toEqual([]);
    expect(stateOf(hv, "mine")).toBe("running");
    expect(stateOf(hv, "moved")).toBe("shutoff");
    expect(stateOf(hv, "silent")).toBe("shutoff");
    expect(stateOf(hv, "plain")).toBe("shutoff");
  });

  it("turns autostart off again when it is turned on, logging each VM once at warn", async () => {
    const { hv, guard, lines } = setup();
    await guard.atStart();
    expect(await guard.sweep()).toEqual([]);
    hv.setAutostart("plain", true);
    hv.setAutostart("mine", true);
    expect(await guard.sweep()).toEqual(["mine", "plain"]);
    expect(hv.autostartOf("plain")).toBe(false);
    expect(hv.autostartOf("mine")).toBe(false);
    const warned = (vm: string) => lines.filter((l) => l.vm === vm && l.level === 40 && l.msg.startsWith("turned libvirt's autostart off")).length;
    expect(warned("mine")).toBe(1);
    expect(warned("plain")).toBe(1);
    // The second time for "mine" is a debug line, and nothing was started by a sweep.
    expect(lines.some((l) => l.vm === "mine" && l.level === 20 && l.msg === "turned libvirt's autostart off again")).toBe(true);
    expect(stateOf(hv, "plain")).toBe("shutoff");
  });

  it("with autostart: keep leaves the flag alone and starts nothing", async () => {
    const { hv, guard, asked } = setup("keep");
    expect(await guard.atStart()).toEqual([]);
    expect(await guard.sweep()).toEqual([]);
    expect(await hv.autostartDomains()).toEqual(["booted", "mine", "moved", "silent"]);
    expect(asked).toEqual([]);
    expect(stateOf(hv, "mine")).toBe("shutoff");
  });

  it("a start libvirt refuses is reported failed", async () => {
    const { hv, guard } = setup();
    hv.startDefined = () => Promise.reject(new Error("resource busy: Lockspace resource is locked"));
    const out = await guard.atStart();
    expect(out.find((o) => o.vm === "mine")).toMatchObject({ outcome: "failed", reason: expect.stringMatching(/resource busy/) });
  });
});
