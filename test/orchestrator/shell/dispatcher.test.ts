import { describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { Dispatcher } from "../../../orchestrator/shell/dispatcher.js";
import { ClusterState } from "../../../orchestrator/shell/cluster-state.js";
import { MigrationTracker } from "../../../orchestrator/shell/migration-tracker.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import { defaultPolicy } from "../../../shared/config/policy.js";
import { silentLogger } from "../../../shared/logger.js";
import type { HostMetrics } from "../../../shared/schemas/host-metrics.js";

// Pre-conditions right before a migration starts (Watcher's SKIPPED, not FAILED), and the
// concurrency slots that make the queue stream.

const policy = { ...defaultPolicy(), stale_after: 30, max_concurrent_total: 2, max_concurrent_per_source: 1, max_concurrent_per_destination: 2, mem_reserve_mib: 512 };
const metrics = (host: string, vms: string[], avail = 16384): HostMetrics => ({
  v: 1, host, ts: 1, seq: 1, cpus: 8, hostCpuPercent: 10, load1: 0, load5: 0, load15: 0, memTotalMiB: 32768, memAvailableMiB: avail, loadSource: "host", cpuPercent: 10,
  vms: vms.map((name) => ({ name, state: "running" as const, vcpus: 1, memMiB: 2048, maxMemMiB: 2048, cpuPercent: 5, migrating: false })),
});
const rec = (id: string, vm: string, source: string, destination: string): MigrationRecord => ({
  requestId: id, vm, source, destination, strategy: "evacuate", code: "EVACUATE", reason: "r", state: "PENDING", queuedAt: 0, memMiB: 2048, cpuPercent: 5,
});

function setup(now = 10_000) {
  const state = new ClusterState();
  state.ingestMetrics(metrics("a", ["v1", "v2", "v3"]), now, policy);
  state.ingestMetrics(metrics("b", []), now, policy);
  state.ingestMetrics(metrics("c", [], 1024), now, policy);
  const tracker = new MigrationTracker(100);
  const maintenance = new Set<string>();
  const d = new Dispatcher({} as NatsConnection, state, tracker, {
    policy: () => policy,
    mapping: () => new Map([["a", "10.0.0.1"], ["b", "10.0.0.2"], ["c", "10.0.0.3"]]),
    maintenance: () => maintenance,
    paused: () => false,
    epoch: () => undefined,
    requestTimeoutMs: 100,
  }, { now: () => now }, silentLogger());
  return { state, tracker, d, maintenance, now };
}

describe("Dispatcher.precheck", () => {
  it("goes when the VM is where the plan said and the destination is fine", () => {
    const { d, now } = setup();
    expect(d.precheck(rec("r1", "v1", "a", "b"), now)).toEqual({ go: true, address: "10.0.0.2" });
  });

  it.each([
    ["the VM left its source", rec("r", "v1", "b", "a"), /no longer on b/],
    ["the VM is gone", rec("r", "ghost", "a", "b"), /not running anywhere/],
    ["the destination lacks memory now", rec("r", "v1", "a", "c"), /has .* MiB free/],
  ])("skips when %s", (_what, r, why) => {
    const { d, now } = setup();
    const p = d.precheck(r, now);
    expect(p.go).toBe(false);
    expect("skip" in p && p.skip).toMatch(why);
  });

  it("skips when the destination went into maintenance or silent", () => {
    const { d, maintenance, now } = setup();
    maintenance.add("b");
    expect(d.precheck(rec("r", "v1", "a", "b"), now)).toMatchObject({ go: false, skip: expect.stringMatching(/maintenance/) });
    expect(d.precheck(rec("r", "v1", "a", "b"), now + 60_000)).toMatchObject({ go: false, skip: expect.stringMatching(/silent/) });
  });

  it("waits (does not skip) while the source is at its concurrency cap", () => {
    const { d, tracker, now } = setup();
    const first = rec("r1", "v1", "a", "b");
    tracker.enqueue(first);
    tracker.start(first, now);
    expect(d.precheck(rec("r2", "v2", "a", "b"), now)).toEqual({ go: false, wait: "source a at cap 1" });
  });
});
