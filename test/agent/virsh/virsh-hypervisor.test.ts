import { describe, expect, it } from "vitest";
import { MigrationSettings } from "../../../shared/config/agent-config.js";
import { HypervisorError, TimeoutError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/logger.js";
import { systemClock } from "../../../agent/ports/clock.js";
import { VirshHypervisor } from "../../../agent/virsh/virsh-hypervisor.js";
import type { VirshRunner, VirshRunOptions } from "../../../agent/virsh/virsh-runner.js";
import { fixture } from "../support/fixtures.js";

// A scripted runner: answers each virsh sub-command from captured output, records the calls.
function scriptedRunner(script: (args: readonly string[], opts: VirshRunOptions) => Promise<string>) {
  const calls: string[][] = [];
  const runner: VirshRunner = {
    async run(args, opts = {}) {
      calls.push([...args]);
      return { stdout: await script(args, opts), stderr: "" };
    },
  };
  return { runner, calls };
}

const untilAborted = (signal?: AbortSignal) =>
  new Promise<string>((_, reject) => signal?.addEventListener("abort", () => reject(new HypervisorError("virsh event was cancelled"))));

const make = (runner: VirshRunner) =>
  new VirshHypervisor({
    runner,
    migration: MigrationSettings.parse({}),
    clock: systemClock,
    logger: silentLogger(),
    eventSetupMs: 10,
    eventGraceMs: 500,
    progressPollMs: 20,
  });

describe("VirshHypervisor", () => {
  it("lists domains with ONE domstats call", async () => {
    const { runner, calls } = scriptedRunner(async () => fixture("domstats-raw-libvirt9.txt"));
    const doms = await make(runner).listDomains();
    expect(doms.map((d) => d.name)).toEqual(["cap-vm2", "cap-vm1"]);
    expect(calls).toEqual([["domstats", "--raw", "--nowait", "--state", "--cpu-total", "--balloon", "--vcpu"]]);
  });

  it("migrates and returns libvirt's job statistics from the job-completed event, with progress", async () => {
    let releaseEvent!: () => void;
    const eventReady = new Promise<void>((r) => (releaseEvent = r));
    const { runner, calls } = scriptedRunner(async (args) => {
      if (args[0] === "event") {
        await eventReady;
        return fixture("event-job-completed.txt");
      }
      if (args[0] === "domjobinfo") return fixture("domjobinfo-running-outgoing.txt");
      if (args[0] === "migrate") {
        await new Promise((r) => setTimeout(r, 80));
        releaseEvent();
        return "";
      }
      throw new Error(`unexpected ${args.join(" ")}`);
    });
    const progress: number[] = [];
    const stats = await make(runner).migrate("cap-vm1", { host: "kvm2", address: "10.77.0.2" }, { timeoutMs: 60_000 }, (p) => progress.push(p.percent ?? -1));
    expect(stats).toMatchObject({ elapsedMs: 4114, downtimeMs: 19, dataTotalBytes: 134_610_944, memoryIterations: 2 });
    expect(stats.durationMs).toBeGreaterThanOrEqual(70);
    expect(progress.length).toBeGreaterThan(0);
    expect(calls.find((c) => c[0] === "event")).toEqual(["event", "--domain", "cap-vm1", "--event", "job-completed", "--timeout", "70"]);
    expect(calls.find((c) => c[0] === "migrate")).toContain("qemu+tcp://10.77.0.2/system");
  });

  it("still succeeds (duration only) when no event arrives", async () => {
    const { runner } = scriptedRunner(async (args, opts) => (args[0] === "event" ? untilAborted(opts.signal) : ""));
    const stats = await make(runner).migrate("vm1", { host: "kvm2", address: "10.0.0.2" }, { timeoutMs: 60_000 });
    expect(Object.keys(stats)).toEqual(["durationMs"]);
  });

  it("throws libvirt's error and aborts the libvirt job when virsh migrate timed out", async () => {
    const { runner, calls } = scriptedRunner(async (args, opts) => {
      if (args[0] === "event") return untilAborted(opts.signal);
      if (args[0] === "migrate") throw new TimeoutError("virsh migrate did not finish within 1000 ms and was killed");
      return "";
    });
    await expect(make(runner).migrate("vm1", { host: "kvm2", address: "10.0.0.2" }, { timeoutMs: 1000 })).rejects.toMatchObject({ code: "TIMEOUT" });
    expect(calls).toContainEqual(["domjobabort", "--domain", "vm1"]);
  });

  it("passes a refused destination through as libvirt said it", async () => {
    const { runner, calls } = scriptedRunner(async (args, opts) => {
      if (args[0] === "event") return untilAborted(opts.signal);
      if (args[0] === "migrate") throw new HypervisorError("unable to connect to server at '10.0.0.9:16509': Connection refused");
      return "";
    });
    await expect(make(runner).migrate("vm1", { host: "kvm9", address: "10.0.0.9" }, { timeoutMs: 1000 })).rejects.toThrow(
      "unable to connect to server at '10.0.0.9:16509': Connection refused",
    );
    expect(calls.some((c) => c[0] === "domjobabort")).toBe(false);
  });
});
