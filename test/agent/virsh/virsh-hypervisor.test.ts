import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { MigrationUnobservedError } from "../../../agent/ports/hypervisor.js";
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
    commandLine: (args) => ["virsh", "-c", "test:///x", ...args],
    async run(args, opts = {}) {
      calls.push([...args]);
      return { stdout: await script(args, opts), stderr: "" };
    },
  };
  return { runner, calls };
}

const untilAborted = (signal?: AbortSignal) =>
  new Promise<string>((_, reject) => signal?.addEventListener("abort", () => reject(new HypervisorError("virsh event was cancelled"))));

const make = (runner: VirshRunner, logger = silentLogger()) =>
  new VirshHypervisor({
    runner,
    migration: MigrationSettings.parse({}),
    clock: systemClock,
    logger,
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

  it("logs the exact virsh command of a migration, destination URI included (issue 14, item 13)", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: "info" }, { write: (t: string) => void lines.push(JSON.parse(t) as Record<string, unknown>) });
    const { runner } = scriptedRunner(async (args, opts) => (args[0] === "event" ? untilAborted(opts.signal) : ""));
    await make(runner, logger).migrate("vm1", { host: "kvm2", address: "10.0.0.2" }, { timeoutMs: 60_000 });
    const line = lines.find((l) => l.msg === "running virsh migrate");
    expect(line).toMatchObject({ vm: "vm1", destination: "kvm2" });
    expect(line?.argv).toEqual([
      "virsh",
      "-c",
      "test:///x",
      "migrate",
      "--live",
      "--p2p",
      "--persistent",
      "--undefinesource",
      "--migrateuri",
      "tcp://10.0.0.2",
      "--domain",
      "vm1",
      "--desturi",
      "qemu+tcp://10.0.0.2/system",
    ]);
  });

  // Issue 14, item 12: libvirt goes on with a --p2p migration when virsh dies (measured on the lab).
  it("detach: ends its virsh processes and never touches the job (no domjobabort)", async () => {
    const killed: string[] = [];
    const { runner, calls } = scriptedRunner(
      (args, opts) =>
        new Promise<string>((_, reject) =>
          opts.signal?.addEventListener("abort", () => {
            killed.push(args[0]!);
            reject(new HypervisorError(`virsh ${args[0]} was cancelled`));
          }),
        ),
    );
    const detach = new AbortController();
    const stop = new AbortController();
    const p = make(runner).migrate("vm1", { host: "kvm2", address: "10.0.0.2" }, { timeoutMs: 60_000, signal: stop.signal, detach: detach.signal });
    await new Promise((r) => setTimeout(r, 50));
    detach.abort();
    await expect(p).rejects.toBeInstanceOf(MigrationUnobservedError);
    expect(killed.sort()).toEqual(["event", "migrate"]);
    expect(calls.some((c) => c[0] === "domjobabort")).toBe(false);
  });

  it("virsh migrate killed by a signal it was not sent: outcome unknown (MigrationUnobservedError), no domjobabort", async () => {
    const { runner, calls } = scriptedRunner(async (args, opts) => {
      if (args[0] === "event") return untilAborted(opts.signal);
      if (args[0] === "migrate") throw new HypervisorError("killed by SIGTERM", { details: { command: "virsh migrate", exitCode: null, signal: "SIGTERM" } });
      return "";
    });
    await expect(make(runner).migrate("vm1", { host: "kvm2", address: "10.0.0.2" }, { timeoutMs: 60_000 })).rejects.toMatchObject({
      name: "MigrationUnobservedError",
      message: expect.stringMatching(/killed by SIGTERM; libvirt may go on/),
    });
    expect(calls.some((c) => c[0] === "domjobabort")).toBe(false);
  });

  it("inspectMigration reads domstate --reason and domjobinfo on the source", async () => {
    const answer = (state: string, job = fixture("domjobinfo-none.txt")) =>
      scriptedRunner(async (args) => {
        if (args[0] === "domstate") {
          if (state === "gone") throw new HypervisorError("failed to get domain 'vm1'");
          return `${state}\n\n`;
        }
        if (args[0] === "domjobinfo") {
          if (job === "gone") throw new HypervisorError("Domain not found: no domain with matching uuid '15ca1ed6-c0fe-4d71-b1e7-5a295be209af' (vm1)");
          return job;
        }
        throw new Error(`unexpected ${args.join(" ")}`);
      });
    const migrating = answer("running (booted)", fixture("domjobinfo-running-outgoing.txt"));
    expect(await make(migrating.runner).inspectMigration("vm1")).toEqual({ present: true, state: "running", reason: "booted", jobActive: true });
    expect(migrating.calls).toEqual([
      ["domstate", "--reason", "--domain", "vm1"],
      ["domjobinfo", "--domain", "vm1"],
    ]);
    expect(await make(answer("paused (migration)", fixture("domjobinfo-running-outgoing.txt")).runner).inspectMigration("vm1")).toMatchObject({
      state: "paused",
      reason: "migration",
      jobActive: true,
    });
    expect(await make(answer("running (booted)").runner).inspectMigration("vm1")).toEqual({
      present: true,
      state: "running",
      reason: "booted",
      jobActive: false,
    });
    const migrated = answer("shut off (migrated)");
    expect(await make(migrated.runner).inspectMigration("vm1")).toEqual({ present: true, state: "shutoff", reason: "migrated", jobActive: false });
    expect(migrated.calls).toHaveLength(1);
    expect(await make(answer("gone").runner).inspectMigration("vm1")).toEqual({ present: false });
    expect(await make(answer("running (booted)", "gone").runner).inspectMigration("vm1")).toEqual({ present: false });
    await expect(
      make(scriptedRunner(async () => Promise.reject(new HypervisorError("Failed to connect socket to '/run/libvirt/libvirt-sock'"))).runner).inspectMigration(
        "vm1",
      ),
    ).rejects.toThrow(/Failed to connect/);
  });
});
