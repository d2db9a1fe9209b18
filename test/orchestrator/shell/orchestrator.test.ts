import type { NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { Orchestrator } from "../../../orchestrator/shell/orchestrator.js";
import { OrchestratorConfig } from "../../../shared/config/orchestrator-config.js";
import type { PolicyInput } from "../../../shared/config/policy.js";
import { silentLogger } from "../../../shared/logger.js";
import type { HostMetrics } from "../../../shared/schemas/host-metrics.js";

// The sample that completes a host's max_over streak must signal at once (main.ts then plans),
// so the reaction does not wait for the next cycle tick; a host that stays hot signals only once.

const metrics = (host: string, ts: number, cpu: number, vms: HostMetrics["vms"] = []): HostMetrics => ({
  v: 1,
  host,
  ts,
  seq: ts,
  cpus: 4,
  hostCpuPercent: cpu,
  load1: 0,
  load5: 0,
  load15: 0,
  memTotalMiB: 8192,
  memAvailableMiB: 4096,
  loadSource: "host",
  cpuPercent: cpu,
  vms,
});
const oneVm = (host: string): HostMetrics["vms"] => [
  { name: `${host}-vm`, state: "running", vcpus: 1, memMiB: 1024, maxMemMiB: 1024, cpuPercent: 40, migrating: false },
];

function orchestrator(policy: PolicyInput) {
  let now = 0;
  const o = new Orchestrator({
    config: OrchestratorConfig.parse({ nats: { servers: ["nats://127.0.0.1:1"] }, policy, log_level: "silent" }),
    // Only events are published here (a cycle with no moves); nothing is dispatched.
    nc: { publish: () => undefined } as unknown as NatsConnection,
    log: silentLogger(),
    clock: { now: () => now },
    mapping: () => new Map(),
  });
  const overloaded: { host: string; at: number }[] = [];
  o.events.onOverload((host) => overloaded.push({ host, at: now }));
  const feed = (host: string, at: number, cpu: number, vms: HostMetrics["vms"] = []) => {
    now = at;
    o.intake.onMetrics(metrics(host, at, cpu, vms));
  };
  return { feed, overloaded, o };
}

describe("Orchestrator.onMetrics", () => {
  it("signals an overload on the sample that completes max_over, once while it lasts", () => {
    const { feed, overloaded } = orchestrator({ interval: 1, max_over: 3, load_threshold: 80, stale_after: 30 });
    feed("a", 0, 50);
    for (let t = 1000; t <= 8000; t += 1000) feed("a", t, 95);
    feed("b", 8000, 95);
    // Over from t = 1 s: the streak spans max_over 3 s (less 100 ms tolerance) at t = 4 s.
    expect(overloaded).toEqual([{ host: "a", at: 4000 }]);
    feed("a", 9000, 50);
    for (let t = 10_000; t <= 13_000; t += 1000) feed("a", t, 95);
    expect(overloaded).toEqual([
      { host: "a", at: 4000 },
      { host: "a", at: 13_000 },
    ]);
  });

  it("after a cycle that adapted the CPU levels to steady loads, signals on the adapted trigger", async () => {
    const { feed, overloaded, o } = orchestrator({ interval: 1, max_over: 3, load_threshold: 80, stale_after: 30 });
    const hosts = ["a", "b", "c", "d", "e", "f"];
    for (let t = 0; t <= 6000; t += 1000) for (const h of hosts) feed(h, t, 50, oneVm(h));
    expect(o.view.cpuTrigger()).toBe(80);
    const { plan } = await o.cycle();
    expect(plan.decisions.find((d) => d.code === "CPU_HEADROOM_ADAPTED")?.numbers["load_threshold"]).toBe(90);
    expect(o.view.cpuTrigger()).toBe(90);
    expect(o.api.explain({ vm: "a-vm", cycles: 5 }).cpuLevels).toMatch(/^CPU loads are steady .*load_threshold 90 %/);
    // 85 % is over the configured trigger but under the adapted one: no early plan.
    for (let t = 7000; t <= 11_000; t += 1000) feed("a", t, 85, oneVm("a"));
    expect(overloaded).toEqual([]);
    for (let t = 12_000; t <= 16_000; t += 1000) feed("a", t, 95, oneVm("a"));
    expect(overloaded).toEqual([{ host: "a", at: 15_000 }]);
  });

  it("does not signal when the policy has no hot-spot strategy", () => {
    const { feed, overloaded } = orchestrator({ interval: 1, max_over: 0, strategies: ["balance"] });
    feed("a", 0, 99);
    feed("a", 1000, 99);
    expect(overloaded).toEqual([]);
  });
});

describe("Orchestrator status", () => {
  it("shows a rejected host_mapping reload, with the mapping still in force", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { join } = await import("node:path");
    const { HostMappingFile } = await import("../../../orchestrator/shell/host-mapping.js");
    const dir = mkdtempSync(join(tmpdir(), "ballast-status-map-"));
    const path = join(dir, "host_mapping.csv");
    try {
      writeFileSync(path, "hv-a,10.77.0.1\n");
      const file = new HostMappingFile(path, silentLogger());
      await file.load();
      const o = new Orchestrator({
        config: OrchestratorConfig.parse({ nats: { servers: ["nats://127.0.0.1:1"] }, log_level: "silent" }),
        nc: { publish: () => undefined } as unknown as NatsConnection,
        log: silentLogger(),
        clock: { now: () => 0 },
        mapping: () => file.mapping,
        mappingState: () => file.state(),
      });
      expect(o.api.status().hostMapping).toMatchObject({ path, hosts: 1, error: null });
      writeFileSync(path, "hv-a,10.77.0.1\nhv-b,10.10.0.999\n");
      expect(await file.reload()).toBe(false);
      const st = o.api.status().hostMapping;
      expect(st).toMatchObject({ path, hosts: 1 });
      expect(st.error).toMatch(/line 2: bad address "10\.10\.0\.999"/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
