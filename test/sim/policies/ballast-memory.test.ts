import { describe, expect, it } from "vitest";
import { makeAdapterContext } from "../../../sim/policies/ballast-adapter.js";
import { BallastPlanner, simPolicy } from "../../../sim/policies/ballast.js";
import { buildView } from "../builders.js";

// With memory modelled, the planner sees memory as an orchestrator would: host samples that move
// with the VMs' past demand (the engine keeps CPU history only), and each VM's peak over
// mem_peak_window, both from the views it was handed (the past), never from the traces.

describe("BallastPlanner memory view", () => {
  const demands = [500, 1500, 800];

  function run(memory: "model" | "ignore", window = 86_400) {
    const planner = new BallastPlanner(simPolicy(300, { mem_peak_window: window }), memory);
    const ctx = makeAdapterContext(0, []);
    let snap = null as ReturnType<BallastPlanner["toSnapshot"]> | null;
    demands.forEach((mb, i) => {
      const view = buildView([{}, {}], [{ host: 0, history: Array.from({ length: i + 1 }, () => 0.5) }, { host: 1 }], 300 * i + 0.1);
      (view.vms[0] as { memDemandMb: number }).memDemandMb = mb;
      (view.hosts[0] as { memDemandMb: number }).memDemandMb = mb;
      snap = planner.toSnapshot(view, ctx);
    });
    return snap!;
  }

  it("derives host memory samples from the VMs' past demand, and hands each VM its peak", () => {
    const s = run("model");
    const h0 = s.hosts.find((h) => h.id === "sim-host-0")!;
    const ram = 100 / (h0.memTotalMiB / 1);
    expect(h0.samples.map((x) => Number(x.mem.toFixed(4)))).toEqual(demands.map((d) => Number((d * ram).toFixed(4))));
    expect(s.vms.find((v) => v.name === "sim-vm-0")).toMatchObject({ memMiB: 800, memPeakMiB: 1500 });
  });

  it("forgets peaks older than mem_peak_window", () => {
    const s = run("model", 300);
    expect(s.vms.find((v) => v.name === "sim-vm-0")).toMatchObject({ memMiB: 800, memPeakMiB: 800 });
  });

  it("leaves memory out on CPU-only runs", () => {
    const s = run("ignore");
    expect(s.hosts.every((h) => h.samples.every((x) => x.mem === 0))).toBe(true);
    expect(s.vms.every((v) => v.memPeakMiB === undefined)).toBe(true);
  });
});
