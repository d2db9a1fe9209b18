import { describe, expect, it } from "vitest";
import { hostMetrics } from "../../support/host-metrics.js";
import { z } from "zod";
import type { NatsConnection } from "@nats-io/transport-node";
import { Dispatcher } from "../../../orchestrator/shell/dispatcher.js";
import { ClusterState } from "../../../orchestrator/shell/cluster-state.js";
import { MigrationTracker } from "../../../orchestrator/shell/migration-tracker.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import { defaultPolicy, type Policy } from "../../../shared/config/policy.js";
import { exceedsPhysicalMemory, plan } from "../../../orchestrator/core/index.js";
import { silentLogger } from "../../../shared/logger.js";
import type { HostMetrics } from "../../../shared/schemas/host-metrics.js";

// Pre-conditions right before a migration starts (Watcher's SKIPPED, not FAILED), and the
// concurrency slots that make the queue stream.

const policy = {
  ...defaultPolicy(),
  stale_after: 30,
  max_concurrent_total: 2,
  max_concurrent_per_source: 1,
  max_concurrent_per_destination: 2,
  mem_reserve_mib: 512,
};
const metrics = (host: string, vms: string[], avail = 16384): HostMetrics => hostMetrics(host, vms, { availMiB: avail, vmMemMiB: 2048 });
const rec = (id: string, vm: string, source: string, destination: string): MigrationRecord => ({
  requestId: id,
  vm,
  source,
  destination,
  strategy: "evacuate",
  code: "EVACUATE",
  reason: "r",
  state: "PENDING",
  queuedAt: 0,
  memMiB: 2048,
  cpuPercent: 5,
});

function setup(now = 10_000) {
  const state = new ClusterState();
  state.ingestMetrics(metrics("a", ["v1", "v2", "v3"]), now, policy);
  state.ingestMetrics(metrics("b", []), now, policy);
  state.ingestMetrics(metrics("c", [], 1024), now, policy);
  const tracker = new MigrationTracker(100);
  const maintenance = new Set<string>();
  const d = new Dispatcher(
    {} as NatsConnection,
    state,
    tracker,
    {
      policy: () => policy,
      mapping: () =>
        new Map([
          ["a", "10.0.0.1"],
          ["b", "10.0.0.2"],
          ["c", "10.0.0.3"],
        ]),
      maintenance: () => maintenance,
      paused: () => false,
      epoch: () => undefined,
      requestTimeoutMs: 100,
    },
    { now: () => now },
    silentLogger(),
  );
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

// ---- the per-destination cap, and the memory pre-check against the planner -------------------

/** A NatsConnection that accepts every migrate request and notes it. */
function acceptingNc(sent: { subject: string; body: unknown }[]): NatsConnection {
  const fake = {
    request: async (subject: string, payload?: string | Uint8Array) => {
      const body: unknown = JSON.parse(typeof payload === "string" ? payload : new TextDecoder().decode(payload));
      sent.push({ subject, body });
      const b = z.object({ requestId: z.string(), vm: z.string(), destination: z.string() }).parse(body);
      const source = subject.split(".")[2];
      return {
        data: new TextEncoder().encode(
          JSON.stringify({ ok: true, data: { requestId: b.requestId, vm: b.vm, source, destination: b.destination, accepted: true } }),
        ),
      };
    },
  };
  return fake as unknown as NatsConnection;
}

function capSetup(p: Policy, hosts: HostMetrics[], now = 10_000) {
  const state = new ClusterState();
  for (const h of hosts) state.ingestMetrics(h, now, p);
  const tracker = new MigrationTracker(100);
  const sent: { subject: string; body: unknown }[] = [];
  const mapping = new Map(hosts.map((h, i) => [h.host, `10.0.1.${i + 1}`]));
  const d = new Dispatcher(
    acceptingNc(sent),
    state,
    tracker,
    {
      policy: () => p,
      mapping: () => mapping,
      maintenance: () => new Set<string>(),
      paused: () => false,
      epoch: () => undefined,
      requestTimeoutMs: 100,
    },
    { now: () => now },
    silentLogger(),
  );
  return { state, tracker, d, sent, now, mapping };
}

describe("Dispatcher: per-destination concurrency cap", () => {
  // Total and per-source caps are far away: only max_concurrent_per_destination (2) can hold a move back.
  const p: Policy = { ...policy, max_concurrent_total: 10, max_concurrent_per_source: 5, max_concurrent_per_destination: 2 };
  const hosts = [metrics("s1", ["x1"]), metrics("s2", ["x2"]), metrics("s3", ["x3"]), metrics("b", [])];

  it("a queued migration waits (stays PENDING, not SKIPPED) while its destination is at the cap, and starts once a slot frees", async () => {
    const { d, tracker, sent, now } = capSetup(p, hosts);
    const first = rec("r1", "x1", "s1", "b");
    const second = rec("r2", "x2", "s2", "b");
    const third = rec("r3", "x3", "s3", "b");
    for (const r of [first, second, third]) tracker.enqueue(r);
    await d.pump();
    // Two start; the third finds b at its cap.
    expect(
      tracker
        .ongoing()
        .map((r) => r.requestId)
        .sort(),
    ).toEqual(["r1", "r2"]);
    expect(sent.map((s) => s.subject)).toEqual(["ballast.agent.s1.migrate", "ballast.agent.s2.migrate"]);
    expect(d.precheck(third, now)).toEqual({ go: false, wait: "destination b at cap 2" });
    expect(third.state).toBe("PENDING");
    expect(tracker.queued()).toEqual([third]);
    expect(tracker.history({ limit: 10 })).toEqual([]);

    // Pumping again changes nothing while the cap holds.
    await d.pump();
    expect(third.state).toBe("PENDING");
    expect(sent).toHaveLength(2);

    // One migration to b ends: the slot goes to the waiting one.
    tracker.finish(first, "SUCCEEDED", now);
    expect(d.precheck(third, now)).toEqual({ go: true, address: "10.0.1.4" });
    await d.pump();
    expect(third.state).toBe("ONGOING");
    expect(tracker.queued()).toEqual([]);
    expect(sent).toHaveLength(3);
    expect(sent[2]).toEqual({ subject: "ballast.agent.s3.migrate", body: { requestId: "r3", vm: "x3", destination: "b", destinationAddress: "10.0.1.4" } });
  });

  it("only migrations to the same destination count against it", () => {
    const { d, tracker, now } = capSetup(p, [...hosts, metrics("c", [])]);
    for (const r of [rec("r1", "x1", "s1", "c"), rec("r2", "x2", "s2", "c")]) {
      tracker.enqueue(r);
      tracker.start(r, now);
    }
    expect(d.precheck(rec("r3", "x3", "s3", "b"), now)).toEqual({ go: true, address: "10.0.1.4" });
    expect(d.precheck(rec("r3", "x3", "s3", "c"), now)).toEqual({ go: false, wait: "destination c at cap 2" });
  });
});

describe("Dispatcher: memory pre-check and planner agree (exceedsPhysicalMemory)", () => {
  // b: 32768 MiB, 8192 available, reserve 512 → 7680 MiB free. Percentage and overcommit limits
  // are opened so the physical limit alone decides, in the planner as in the dispatcher.
  const p: Policy = {
    ...policy,
    max_mem_candidate: 100,
    mem_overcommit: 2,
    max_concurrent_total: 10,
    max_concurrent_per_source: 5,
    max_concurrent_per_destination: 5,
  };
  const FREE = 8192 - 512;
  const hostsFor = (vmMiB: number): HostMetrics[] => {
    const a = metrics("a", ["big"]);
    a.vms[0] = { ...a.vms[0]!, memMiB: vmMiB, maxMemMiB: vmMiB };
    return [a, metrics("b", [], 8192)];
  };
  const planFor = (s: ReturnType<typeof capSetup>) =>
    plan(s.state.snapshot({ now: s.now, mapping: s.mapping, maintenance: new Set(), inFlight: [], history: [], frozenVms: [] }), p, s.now, {
      mode: "manual",
      vm: "big",
      destination: "b",
    });

  it("both use the same formula", () => {
    expect(exceedsPhysicalMemory(32768 - 8192, FREE, 32768, 512)).toBe(false);
    expect(exceedsPhysicalMemory(32768 - 8192, FREE + 1, 32768, 512)).toBe(true);
  });

  it("a VM that fits exactly is planned and sent", async () => {
    const s = capSetup(p, hostsFor(FREE));
    expect(planFor(s).moves.map((m) => [m.vm, m.destination])).toEqual([["big", "b"]]);
    const r = { ...rec("r1", "big", "a", "b"), memMiB: FREE };
    s.tracker.enqueue(r);
    await s.d.pump();
    expect(r.state).toBe("ONGOING");
    expect(s.sent.map((x) => x.subject)).toEqual(["ballast.agent.a.migrate"]);
  });

  it("one MiB more is refused by the planner (DEST_MEM) and skipped by the dispatcher with the MiB free message", async () => {
    const s = capSetup(p, hostsFor(FREE + 1));
    const pl = planFor(s);
    expect(pl.moves).toEqual([]);
    expect(pl.decisions).toContainEqual(
      expect.objectContaining({
        kind: "host",
        subject: "b",
        code: "DEST_MEM",
        message: `host b memory used 24576.0 + ${FREE + 1}.0 MiB > 32768.0 − reserve 512 MiB`,
      }),
    );
    const r = { ...rec("r1", "big", "a", "b"), memMiB: FREE + 1 };
    s.tracker.enqueue(r);
    await s.d.pump();
    expect(r.state).toBe("SKIPPED");
    expect(r.error).toBe(`destination b has ${FREE} MiB free (after reserve and incoming), VM needs ${FREE + 1} MiB`);
    expect(s.sent).toEqual([]);
  });

  it("migrations already on their way to the destination count as used", () => {
    const s = capSetup(p, [...hostsFor(1024), metrics("c", ["small"])]);
    const incoming = { ...rec("r0", "small", "c", "b"), memMiB: FREE - 1024 };
    s.tracker.enqueue(incoming);
    s.tracker.start(incoming, s.now);
    expect(s.d.precheck({ ...rec("r1", "big", "a", "b"), memMiB: 1024 }, s.now)).toMatchObject({ go: true });
    expect(s.d.precheck({ ...rec("r1", "big", "a", "b"), memMiB: 1025 }, s.now)).toEqual({
      go: false,
      skip: "destination b has 1024 MiB free (after reserve and incoming), VM needs 1025 MiB",
    });
  });
});
