import { describe, expect, it } from "vitest";
import { MigrationTracker } from "../../../orchestrator/shell/migration-tracker.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { StrategyName } from "../../../shared/schemas/plan.js";
import type { ClusterSnapshot } from "../../../shared/schemas/snapshot.js";
import { Policy } from "../../../shared/config/policy.js";
import { plan } from "../../../orchestrator/core/index.js";

const rec = (id: string, vm: string): MigrationRecord => ({
  requestId: id,
  vm,
  source: "a",
  destination: "b",
  strategy: "hotspot",
  code: "HOST_OVERLOADED",
  reason: "r",
  state: "PENDING",
  queuedAt: 0,
  memMiB: 1024,
  cpuPercent: 50,
});

describe("MigrationTracker", () => {
  it("moves a record through queue, running and history, and feeds cooldown history", () => {
    const t = new MigrationTracker(10);
    const r = rec("r1", "vm1");
    t.enqueue(r);
    expect(t.busy("vm1")).toBe(true);
    t.start(r, 1000);
    expect(t.inFlight()).toEqual([{ requestId: "r1", vm: "vm1", source: "a", destination: "b", startedAt: 1000, memMiB: 1024, cpuPercent: 50 }]);
    t.applyEvent(
      {
        v: 1,
        type: "migration.succeeded",
        ts: 2,
        requestId: "r1",
        vm: "vm1",
        source: "a",
        destination: "b",
        stats: { durationMs: 2100, downtimeMs: 40, dataTotalBytes: 9e7 },
      },
      3000,
    );
    expect(t.busy("vm1")).toBe(false);
    expect(t.history({ limit: 5 })[0]).toMatchObject({ state: "SUCCEEDED", stats: { downtimeMs: 40 } });
    expect(t.pastMoves(0)).toEqual([{ vm: "vm1", source: "a", destination: "b", finishedAt: 3000, outcome: "succeeded", strategy: "hotspot" }]);
  });

  it("records libvirt's error text on failure and ignores events for unknown requests", () => {
    const t = new MigrationTracker(10);
    const r = rec("r2", "vm2");
    t.enqueue(r);
    t.start(r, 0);
    expect(t.applyEvent({ v: 1, type: "migration.failed", ts: 1, requestId: "nope", vm: "vm2", source: "a", destination: "b" }, 1)).toBeUndefined();
    t.applyEvent(
      {
        v: 1,
        type: "migration.failed",
        ts: 1,
        requestId: "r2",
        vm: "vm2",
        source: "a",
        destination: "b",
        error: "error: unable to connect to server at '10.77.0.3:16509': Connection refused",
      },
      5,
    );
    expect(t.history({ vm: "vm2", limit: 1 })[0]).toMatchObject({ state: "FAILED", error: expect.stringContaining("Connection refused") });
    expect(t.pastMoves(0)[0]!.outcome).toBe("failed");
  });

  it("keeps only the newest history entries", () => {
    const t = new MigrationTracker(3);
    for (let i = 0; i < 5; i++) {
      const r = rec(`r${i}`, `vm${i}`);
      t.enqueue(r);
      t.finish(r, "SKIPPED", i, "gone");
    }
    expect(t.history({ limit: 10 }).map((r) => r.requestId)).toEqual(["r4", "r3", "r2"]);
  });

  const NOW = 1_700_000_000_000;
  const host = (id: string) => ({
    id,
    cpus: 8,
    memTotalMiB: 65536,
    memAvailableMiB: 49152,
    cpuPercent: 20,
    lastSeen: NOW,
    samples: [],
    maintenance: false,
    tags: [],
  });
  const vm = (name: string, on: string, memMiB: number) => ({ name, host: on, state: "running" as const, vcpus: 2, memMiB, cpuPercent: 50, tags: [] });
  /** Hosts a, b and c, the VMs given, and what the tracker tells the planner. */
  const snapshot = (vms: ClusterSnapshot["vms"], extra: Partial<ClusterSnapshot>): ClusterSnapshot => ({
    v: 1,
    takenAt: NOW,
    hosts: ["a", "b", "c"].map(host),
    vms,
    inFlight: [],
    history: [],
    frozenVms: [],
    incompatible: [],
    ...extra,
  });

  it("shows the planner queued moves too: their VMs are moving and their destinations receiving", () => {
    // A consolidation's whole emptying waits in the queue under the concurrency caps, for cycles.
    const t = new MigrationTracker(10);
    t.enqueue({ ...rec("q1", "x"), queuedAt: NOW - 1000 });
    expect(t.inFlight()).toEqual([{ requestId: "q1", vm: "x", source: "a", destination: "b", startedAt: NOW - 1000, memMiB: 1024, cpuPercent: 50 }]);
    const s = snapshot([vm("x", "a", 1024), vm("y", "b", 1024)], { inFlight: t.inFlight() });
    const policy = Policy.parse({ vm_cooldown: 0, host_settle: 0 });
    const again = plan(s, policy, NOW, { mode: "manual", vm: "x", destination: "c" });
    expect(again.moves).toEqual([]);
    expect(again.decisions.map((d) => d.code)).toContain("VM_MIGRATING");
    const drain = plan(s, policy, NOW, { mode: "evacuate", host: "b", placement: "stripe", useEmptyHosts: true });
    expect(drain.moves).toEqual([]);
    expect(drain.decisions.find((d) => d.code === "EVACUATE_INCOMPLETE")?.message).toMatch(/HOST_RECEIVING/);
  });

  it("tells the planner which moves an operator forced: consolidation then maintenance moving a VM back freezes nothing", () => {
    // The demo: consolidation moved x a → b, then evacuating b for maintenance moved it back to a.
    const t = new MigrationTracker(10);
    const moved = (id: string, source: string, destination: string, strategy: StrategyName, at: number) => {
      const r = { ...rec(id, "x"), source, destination, strategy };
      t.enqueue(r);
      t.start(r, at - 5_000);
      t.finish(r, "SUCCEEDED", at);
    };
    moved("r1", "a", "b", "consolidate", NOW - 60_000);
    moved("r2", "b", "a", "evacuate", NOW - 30_000);
    const history = t.pastMoves(0);
    expect(history.map((m) => m.strategy)).toEqual(["consolidate", "evacuate"]);
    const s = snapshot([vm("x", "a", 2048), vm("y", "c", 2048)], { history });
    const policy = Policy.parse({ vm_cooldown: 0, host_settle: 0 });
    const p = plan(s, policy, NOW);
    expect(p.frozen).toEqual([]);
    expect(p.decisions.map((d) => d.code)).not.toContain("VM_PINGPONG");
    // The same two moves by the planner itself are a ping-pong.
    const own = plan({ ...s, history: history.map((m) => ({ ...m, strategy: "balance" as const })) }, policy, NOW);
    expect(own.frozen).toEqual(["x"]);
  });
});
