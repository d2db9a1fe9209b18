import { describe, expect, it } from "vitest";
import { MigrationTracker } from "../../../orchestrator/shell/migration-tracker.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";

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
    expect(t.pastMoves(0)).toEqual([{ vm: "vm1", source: "a", destination: "b", finishedAt: 3000, outcome: "succeeded" }]);
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
});
