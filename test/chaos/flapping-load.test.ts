import type { NatsConnection } from "@nats-io/transport-node";
import { describe, expect, it } from "vitest";
import { ManualClock } from "../../agent/sim/manual-clock.js";
import { SimFabric } from "../../agent/sim/sim-fabric.js";
import { SimHypervisor } from "../../agent/sim/sim-hypervisor.js";
import { createSimMetricsSource } from "../../agent/sim/sim-metrics-source.js";
import { MetricsCollector } from "../../agent/metrics/collector.js";
import { MigrationManager } from "../../agent/migration/migration-manager.js";
import { Orchestrator } from "../../orchestrator/shell/orchestrator.js";
import { cooldownOf } from "../../orchestrator/core/index.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { Policy, type PolicyInput } from "../../shared/config/policy.js";
import { silentLogger } from "../../shared/logger.js";
import { MigrateRequest } from "../../shared/schemas/agent-api.js";

// One simulated hour of a load that flaps every interval, run through the real orchestrator
// shell (state, planner, tracker, dispatcher) and real agent executors on sim hypervisors, on a
// manual clock. The bus is a direct call: the question here is what the policy does, not NATS.
//
// Host a's VMs are high in even intervals and low in odd ones; b's and c's are the opposite, so
// a VM that leaves a lands on a host whose own VMs peak when it rests, and the receiver may turn
// hot in turn: the pattern that makes a naive balancer shuffle VMs forever.

const HOUR_S = 3600;
const HIGH = 200;
const LOW = 20;

interface Run {
  migrations: { vm: string; source: string; destination: string; startedAt: number; finishedAt: number; state: string }[];
  placement: { vm: string; hosts: string[]; view: string[] }[];
  overIntervals: number;
  intervals: number;
  policy: Policy;
}

async function simulateHour(policyInput: PolicyInput): Promise<Run> {
  const clock = new ManualClock();
  const t0 = clock.now();
  const log = silentLogger();
  const fabric = new SimFabric();
  const policy = Policy.parse(policyInput);
  const step = policy.interval;
  const flap = (startHigh: boolean) => ({ trace: startHigh ? [HIGH, LOW] : [LOW, HIGH], step_s: step });
  const vms = (prefix: string, startHigh: boolean) =>
    [1, 2, 3, 4].map((i) => ({ name: `${prefix}-${i}`, vcpus: 2, mem_mib: 2048, cpu: flap(startHigh), dirty_rate_mibs: 0 }));
  const hvs = new Map<string, SimHypervisor>();
  for (const [host, startHigh] of [
    ["a", true],
    ["b", false],
    ["c", false],
  ] as const) {
    const hv = new SimHypervisor({
      host,
      clock,
      fabric,
      config: { cpus: 8, mem_mib: 32768, migration_mibs: 4000, start_delay_s: 0.05, vms: vms(host, startHigh) },
    });
    hv.start();
    hvs.set(host, hv);
  }
  const managers = new Map<string, MigrationManager>();
  const collectors = new Map<string, MetricsCollector>();
  for (const [host, hv] of hvs) {
    const manager = new MigrationManager({
      host,
      hypervisor: hv,
      clock,
      logger: log,
      maxConcurrent: 2,
      timeoutMs: 600_000,
      onEvent: (e) => orchestrator.intake.onMigrationEvent(e),
    });
    managers.set(host, manager);
    collectors.set(
      host,
      new MetricsCollector({
        host,
        hypervisor: hv,
        source: createSimMetricsSource(hv),
        clock,
        logger: log,
        loadSource: "host",
        isMigrating: (vm) => manager.isMigrating(vm),
      }),
    );
  }
  // Only what the orchestrator uses of a connection: requests to agents, published events.
  const bus = {
    publish: () => undefined,
    request: async (subject: string, data: string) => {
      const host = /^ballast\.agent\.([^.]+)\.migrate$/.exec(subject)?.[1];
      const manager = host === undefined ? undefined : managers.get(host);
      if (!manager) throw new Error(`no responders for ${subject}`);
      const answer = await manager.request(MigrateRequest.parse(JSON.parse(data)));
      return { data: new TextEncoder().encode(JSON.stringify(answer)) };
    },
  } as unknown as NatsConnection;
  const config = OrchestratorConfig.parse({ policy: policyInput, log_level: "silent" });
  const orchestrator = new Orchestrator({ config, nc: bus, log, clock, mapping: () => new Map([...hvs.keys()].map((h) => [h, h])) });

  let overIntervals = 0;
  const intervals = HOUR_S / step;
  for (let i = 0; i < intervals; i++) {
    await clock.advance(step * 1000);
    for (const c of collectors.values()) orchestrator.intake.onMetrics(await c.collect());
    if ((orchestrator.view.cluster.metrics("a")?.cpuPercent ?? 0) > policy.load_threshold) overIntervals++;
    await orchestrator.cycle();
  }
  // Let the last migrations finish.
  for (let i = 0; i < 10 && orchestrator.view.migrations.ongoing().length > 0; i++) {
    await clock.advance(step * 1000);
    for (const c of collectors.values()) orchestrator.intake.onMetrics(await c.collect());
  }
  const all = [...hvs.values()].flatMap((hv) => hv.vms().map((v) => v.name));
  return {
    migrations: orchestrator.view.migrations
      .history({ limit: 10_000 })
      .map((r) => ({
        vm: r.vm,
        source: r.source,
        destination: r.destination,
        startedAt: (r.startedAt ?? t0) - t0,
        finishedAt: (r.finishedAt ?? t0) - t0,
        state: r.state,
      }))
      .sort((x, y) => x.startedAt - y.startedAt),
    placement: all.sort().map((vm) => ({
      vm,
      hosts: fabric.whereIs(vm).sort(),
      view: orchestrator.view.cluster
        .locate(vm)
        .filter((l) => l.info.state === "running")
        .map((l) => l.host)
        .sort(),
    })),
    overIntervals,
    intervals,
    policy,
  };
}

/** The most moves one VM can make in `seconds` if it moved as soon as each cooldown ended. */
function movesAllowedPerVm(policy: Policy, seconds: number): number {
  const moves: { vm: string; source: string; destination: string; finishedAt: number; outcome: "succeeded" }[] = [];
  let t = 0;
  while (t <= seconds * 1000) {
    moves.push({ vm: "v", source: "x", destination: "y", finishedAt: t, outcome: "succeeded" });
    t += cooldownOf(moves, policy, t).cooldownSeconds * 1000;
  }
  return moves.length;
}

function expectEachVmOnOneHost(run: Run): void {
  for (const p of run.placement) {
    expect(p.hosts, p.vm).toHaveLength(1);
    expect(p.view, p.vm).toEqual(p.hosts);
  }
}

describe("flapping load over one simulated hour", () => {
  it("with the default policy nothing moves: no host stays over for max_over", async () => {
    const run = await simulateHour({});
    console.log(
      `[flapping, default policy] host a over ${run.policy.load_threshold}% in ${run.overIntervals} of ${run.intervals} intervals (never ${run.policy.max_over} s in a row); migrations ${run.migrations.length}`,
    );
    expect(run.overIntervals).toBeGreaterThanOrEqual(run.intervals / 2 - 1);
    expect(run.migrations).toEqual([]);
    expectEachVmOnOneHost(run);
  }, 60_000);

  it("with max_over 0 the cooldowns bound the moves and no VM returns to a host it left within its cooldown", async () => {
    const run = await simulateHour({ max_over: 0 });
    const vms = run.placement.length;
    const perVm = movesAllowedPerVm(run.policy, HOUR_S);
    const bound = vms * perVm;
    const moved = run.migrations.filter((m) => m.state === "SUCCEEDED" || m.state === "FAILED");
    const byVm = new Map<string, typeof moved>();
    for (const m of moved) byVm.set(m.vm, [...(byVm.get(m.vm) ?? []), m]);
    const returns: string[] = [];
    for (const [vm, ms] of byVm) {
      expect(ms.length, vm).toBeLessThanOrEqual(perVm);
      for (let i = 1; i < ms.length; i++) {
        for (let j = 0; j < i; j++) {
          if (ms[j]!.source !== ms[i]!.destination) continue;
          const after = (ms[i]!.startedAt - ms[j]!.finishedAt) / 1000;
          returns.push(`${vm} back to ${ms[i]!.destination} ${Math.round(after)} s after leaving it`);
          expect(after, `${vm} returned to ${ms[i]!.destination}`).toBeGreaterThanOrEqual(run.policy.vm_cooldown);
        }
      }
    }
    console.log(
      `[flapping, max_over 0] migrations ${moved.length} (bound from cooldowns ${bound} = ${vms} VMs x ${perVm}, vm_cooldown ${run.policy.vm_cooldown} s doubling to ${run.policy.vm_cooldown_max} s); ` +
        `VMs moved ${byVm.size}, most moves of one VM ${Math.max(0, ...[...byVm.values()].map((m) => m.length))}; returns: ${returns.join("; ") || "none"}; ` +
        `final ${run.placement.map((p) => `${p.vm}@${p.hosts.join("+")}`).join(" ")}`,
    );
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.length).toBeLessThanOrEqual(bound);
    expectEachVmOnOneHost(run);
  }, 60_000);
});
