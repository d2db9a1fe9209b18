import { describe, expect, it } from "vitest";
import { ManualClock } from "../../../agent/sim/manual-clock.js";
import { planMigration, seededRandom } from "../../../agent/sim/migration-model.js";
import { cpuAt } from "../../../agent/sim/cpu-pattern.js";
import { SimFabric } from "../../../agent/sim/sim-fabric.js";
import { SimHypervisor } from "../../../agent/sim/sim-hypervisor.js";
import { MigrationUnobservedError } from "../../../agent/ports/hypervisor.js";
import { createSimMetricsSource } from "../../../agent/sim/sim-metrics-source.js";
import type { SimConfigInput } from "../../../shared/config/agent-config.js";

function pair(srcCfg: SimConfigInput = {}) {
  const clock = new ManualClock();
  const fabric = new SimFabric();
  const a = new SimHypervisor({ host: "sim-a", clock, fabric, config: { start_delay_s: 0, ...srcCfg } });
  const b = new SimHypervisor({ host: "sim-b", clock, fabric, config: { addresses: ["10.9.0.2"] } });
  a.start();
  b.start();
  return { clock, fabric, a, b };
}

describe("planMigration", () => {
  it("takes memory / speed for an idle guest (1 GiB at 100 MiB/s is about 10 s)", () => {
    const p = planMigration({ memMiB: 1024, dirtyRateMiBs: 0, speedMiBs: 100 });
    expect(p.iterations).toBe(1);
    expect(p.totalMs).toBeCloseTo(10_250, 0);
    expect(p.bytesSent).toBe(1024 * 1024 * 1024);
  });

  it("needs more rounds and bytes for a guest dirtying memory, and stops after maxIterations", () => {
    const p = planMigration({ memMiB: 1024, dirtyRateMiBs: 50, speedMiBs: 100 });
    expect(p.iterations).toBeGreaterThan(1);
    expect(p.bytesSent).toBeGreaterThan(1024 * 1024 * 1024);
    expect(p.downtimeMs).toBeLessThanOrEqual(310);
    expect(planMigration({ memMiB: 1024, dirtyRateMiBs: 500, speedMiBs: 100, maxIterations: 5 }).iterations).toBe(5);
  });

  it("has a reproducible random source", () => {
    const r1 = seededRandom(42);
    const r2 = seededRandom(42);
    expect([r1(), r1(), r1()]).toEqual([r2(), r2(), r2()]);
  });
});

describe("cpuAt", () => {
  it("follows constants, square waves and traces", () => {
    expect(cpuAt(30, 5000)).toBe(30);
    const sq = { pattern: "square" as const, high: 90, low: 10, period_s: 60 };
    expect([cpuAt(sq, 0), cpuAt(sq, 29_999), cpuAt(sq, 30_000), cpuAt(sq, 60_000)]).toEqual([90, 90, 10, 90]);
    const tr = { trace: [1, 2, 3], step_s: 10 };
    expect([cpuAt(tr, 0), cpuAt(tr, 10_000), cpuAt(tr, 25_000), cpuAt(tr, 30_000)]).toEqual([1, 2, 3, 1]);
  });
});

describe("SimHypervisor + SimFabric", () => {
  it("moves a VM after a time computed from its memory; it is on exactly one host throughout", async () => {
    const { clock, fabric, a, b } = pair({ vms: [{ name: "vm1", mem_mib: 1024, cpu: 50 }] });
    const progress: number[] = [];
    let done = false;
    const p = a
      .migrate("vm1", { host: "sim-b", address: "10.9.0.2" }, { timeoutMs: 60_000 }, (x) => progress.push(x.percent!))
      .then((s) => {
        done = true;
        return s;
      });
    for (let t = 0; t < 10_000; t += 500) {
      await clock.advance(500);
      expect(fabric.whereIs("vm1")).toEqual(["sim-a"]);
      expect(a.vms()[0]?.migrating).toBe(true);
    }
    expect(done).toBe(false);
    await clock.advance(500);
    expect(done).toBe(true);
    expect(fabric.whereIs("vm1")).toEqual(["sim-b"]);
    expect(a.hasVm("vm1")).toBe(false);
    expect(b.vms()).toEqual([{ name: "vm1", vcpus: 1, memMiB: 1024, state: "running", cpuPercent: 50, migrating: false }]);
    const stats = await p;
    expect(stats).toMatchObject({ elapsedMs: 10_250, downtimeMs: 10, dataTotalBytes: 1024 ** 3, memoryIterations: 1 });
    expect(stats.durationMs).toBeGreaterThanOrEqual(10_240);
    expect(progress.length).toBeGreaterThan(5);
    expect(progress).toEqual([...progress].sort((x, y) => x - y));
  });

  it("fails like libvirt when the destination is not there, and the VM stays", async () => {
    const { a, b, fabric } = pair({ vms: [{ name: "vm1" }] });
    await expect(a.migrate("vm1", { host: "sim-x", address: "10.9.9.9" }, { timeoutMs: 1000 })).rejects.toThrow(
      "unable to connect to server at '10.9.9.9:16509': Connection refused",
    );
    b.stop();
    await expect(a.migrate("vm1", { host: "sim-b", address: "sim-b" }, { timeoutMs: 1000 })).rejects.toThrow(/Connection refused/);
    expect(fabric.whereIs("vm1")).toEqual(["sim-a"]);
    await expect(a.migrate("nope", { host: "sim-b", address: "sim-b" }, { timeoutMs: 1000 })).rejects.toThrow("failed to get domain 'nope'");
  });

  it("fails when the destination goes away during the copy; the VM stays on the source", async () => {
    const { clock, a, b, fabric } = pair({ vms: [{ name: "vm1", mem_mib: 1024 }] });
    const p = a.migrate("vm1", { host: "sim-b", address: "sim-b" }, { timeoutMs: 60_000 });
    const caught = p.catch((e: Error) => e);
    await clock.advance(3000);
    b.stop();
    await clock.advance(2000);
    expect(((await caught) as Error).message).toMatch(/unexpectedly failed/);
    expect(fabric.whereIs("vm1")).toEqual(["sim-a"]);
    expect(a.vms()[0]?.migrating).toBe(false);
  });

  it("aborts on request with libvirt's wording, and refuses a second job for the same VM", async () => {
    const { clock, a } = pair({ vms: [{ name: "vm1", mem_mib: 4096 }] });
    const caught = a.migrate("vm1", { host: "sim-b", address: "sim-b" }, { timeoutMs: 60_000 }).catch((e: Error) => e);
    await clock.advance(1000);
    await expect(a.migrate("vm1", { host: "sim-b", address: "sim-b" }, { timeoutMs: 1000 })).rejects.toThrow(/migration job running/);
    await a.abortMigration("vm1");
    await clock.advance(1);
    expect(((await caught) as Error).message).toBe("operation aborted: job 'migration out' canceled by client");
    expect(a.hasVm("vm1")).toBe(true);
    await expect(a.abortMigration("vm1")).rejects.toThrow(/no job is active/);
  });

  it("a caller that stops watching (detach) leaves the job running, as libvirt does without its virsh; inspectMigration follows it", async () => {
    const { clock, fabric, a } = pair({ vms: [{ name: "v1", mem_mib: 1024 }] });
    const detach = new AbortController();
    const stop = new AbortController();
    const progress: number[] = [];
    const p = a.migrate("v1", { host: "sim-b", address: "sim-b" }, { timeoutMs: 60_000, signal: stop.signal, detach: detach.signal }, (x) =>
      progress.push(x.percent ?? -1),
    );
    const settled = p.catch((e: unknown) => e);
    await clock.advance(3000);
    const seen = progress.length;
    expect(seen).toBeGreaterThan(0);
    detach.abort();
    expect(await settled).toBeInstanceOf(MigrationUnobservedError);
    // The caller's own abort no longer reaches the job once it stopped watching.
    stop.abort(new Error("finished"));
    expect(await a.inspectMigration("v1")).toEqual({ present: true, state: "running", jobActive: true });
    await clock.advance(10_000);
    expect(fabric.whereIs("v1")).toEqual(["sim-b"]);
    expect(progress).toHaveLength(seen);
    expect(await a.inspectMigration("v1")).toEqual({ present: false });
  });

  it("injects failures reproducibly from the seed", async () => {
    const outcomes = async () => {
      const { clock, a } = pair({ migration_fail_rate: 0.5, seed: 7, vms: Array.from({ length: 8 }, (_, i) => ({ name: `v${i}`, mem_mib: 100 })) });
      const rs = a.vms().map((v) =>
        a.migrate(v.name, { host: "sim-b", address: "sim-b" }, { timeoutMs: 60_000 }).then(
          () => "ok",
          () => "fail",
        ),
      );
      await clock.advance(5000);
      return Promise.all(rs);
    };
    const first = await outcomes();
    expect(first).toContain("ok");
    expect(first).toContain("fail");
    expect(await outcomes()).toEqual(first);
  });

  it("reports cpu.time consistent with the VM's CPU, and host metrics from its VMs", async () => {
    const { clock, a } = pair({
      cpus: 4,
      mem_mib: 16_384,
      reserve_mib: 1024,
      vms: [
        { name: "vm1", cpu: 100, mem_mib: 2048 },
        { name: "vm2", cpu: 50, mem_mib: 1024 },
      ],
    });
    await a.listDomains();
    await clock.advance(10_000);
    const [d1, d2] = await a.listDomains();
    expect(d1?.cpuTimeNs).toBe(10e9);
    expect(d2?.cpuTimeNs).toBe(5e9);
    a.setVmCpu("vm2", 250);
    const m = await createSimMetricsSource(a).sample();
    expect(m).toEqual({ cpus: 4, cpuPercent: 87.5, load1: 3.5, load5: 3.5, load15: 3.5, memTotalMiB: 16_384, memAvailableMiB: 16_384 - 3072 - 1024 });
    a.addVm({ name: "vm3" });
    expect(a.vms().map((v) => v.name)).toEqual(["vm1", "vm2", "vm3"]);
    expect(a.removeVm("vm1")).toBe(true);
    expect(() => a.addVm({ name: "vm2" })).toThrow(/already exists/);
  });
});
