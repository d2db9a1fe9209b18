import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../agent/sim/manual-clock.js";
import { SimHypervisor } from "../../../agent/sim/sim-hypervisor.js";
import { BallastError, HypervisorError } from "../../../shared/errors.js";

// The sim driver's autostart flag, start of a defined domain and pause, as libvirt behaves.

describe("SimHypervisor autostart, start and pause", () => {
  const hv = () =>
    new SimHypervisor({
      host: "s",
      clock: new ManualClock(),
      config: { vms: [{ name: "on", state: "shutoff", autostart: true }, { name: "run" }] },
    });

  it("lists and disables autostart; starts a defined domain once", async () => {
    const h = hv();
    expect(await h.autostartDomains()).toEqual(["on"]);
    await h.disableAutostart("on");
    expect(await h.autostartDomains()).toEqual([]);
    await h.startDefined("on");
    expect(h.vms().find((v) => v.name === "on")?.state).toBe("running");
    await expect(h.startDefined("on")).rejects.toThrow(/already running/);
    await expect(h.startDefined("nope")).rejects.toBeInstanceOf(HypervisorError);
  });

  it("pauses a running domain, does nothing to one that is not running, refuses an unknown one", async () => {
    const h = hv();
    expect(await h.pause("run")).toMatchObject({ paused: true, state: "paused" });
    expect(await h.pause("run")).toMatchObject({ paused: false, state: "paused" });
    expect(await h.pause("on")).toMatchObject({ paused: false, state: "shutoff" });
    const e = await h.pause("nope").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BallastError);
    expect((e as BallastError).code).toBe("UNKNOWN_VM");
  });
});
