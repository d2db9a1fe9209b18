import { describe, expect, it } from "vitest";
import { MAX_PENDING_PLANS, OperatorControls } from "../../../orchestrator/shell/operator-controls.js";
import type { PendingPlan, StateSink } from "../../../orchestrator/shell/persisted-state.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { Plan } from "../../../shared/schemas/plan.js";

// Maintenance, frozen VMs, pause and pending plans, and what each change writes to the HA sink.

/** One sink call, its arguments copied (the controls hand over their live sets). */
type SinkCall =
  ["maintenance", string[]] | ["frozen", string[]] | ["pending", string, PendingPlan | undefined] | ["paused", string | undefined] | ["migration", string];

function recordingSink(): { sink: StateSink; calls: SinkCall[] } {
  const calls: SinkCall[] = [];
  const sink: StateSink = {
    migration: (r: MigrationRecord) => void calls.push(["migration", r.requestId]),
    dispatched: async () => undefined,
    maintenance: (hosts) => void calls.push(["maintenance", [...hosts].sort()]),
    frozen: (vms) => void calls.push(["frozen", [...vms].sort()]),
    pending: (planId, p) => void calls.push(["pending", planId, p]),
    paused: (reason) => void calls.push(["paused", reason]),
  };
  return { sink, calls };
}

const plan = (id: string): Plan => ({
  id,
  createdAt: 1000,
  mode: "cycle",
  snapshotDigest: "d",
  moves: [],
  decisions: [],
  indicators: { imbalanceBefore: 0, imbalanceAfter: 0, hostsFreed: [], migrations: 0, bytesToMove: 0, overloadedBefore: 0, overloadedAfter: 0 },
  emptyHosts: [],
  frozen: [],
  adaptation: null,
  memAdaptation: null,
  power: [],
});

const ids = (ps: PendingPlan[]): string[] => ps.map((p) => p.plan.id);

describe("OperatorControls: maintenance", () => {
  it("enterMaintenance adds hosts and writes the whole set", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    c.enterMaintenance(["b", "a"]);
    c.enterMaintenance(["c"]);
    expect([...c.maintenance].sort()).toEqual(["a", "b", "c"]);
    expect(calls).toEqual([
      ["maintenance", ["a", "b"]],
      ["maintenance", ["a", "b", "c"]],
    ]);
  });

  it("releaseHost reopens a host and writes the rest; false and no write for a host not in maintenance", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    c.enterMaintenance(["a", "b"]);
    calls.length = 0;
    expect(c.releaseHost("a")).toBe(true);
    expect([...c.maintenance]).toEqual(["b"]);
    expect(calls).toEqual([["maintenance", ["b"]]]);
    expect(c.releaseHost("a")).toBe(false);
    expect(c.releaseHost("zz")).toBe(false);
    expect(calls).toHaveLength(1);
  });
});

describe("OperatorControls: frozen VMs", () => {
  it("freeze writes the set only when it changed", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    c.freeze(["v2", "v1"]);
    expect([...c.frozen].sort()).toEqual(["v1", "v2"]);
    expect(calls).toEqual([["frozen", ["v1", "v2"]]]);
    // The planner hands over its frozen list every cycle: already frozen VMs write nothing.
    c.freeze(["v1"]);
    c.freeze([]);
    expect(calls).toHaveLength(1);
    c.freeze(["v1", "v3"]);
    expect(calls).toEqual([
      ["frozen", ["v1", "v2"]],
      ["frozen", ["v1", "v2", "v3"]],
    ]);
  });

  it("releaseVm unfreezes and writes; false and no write for a VM not frozen", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    c.freeze(["v1", "v2"]);
    calls.length = 0;
    expect(c.releaseVm("v1")).toBe(true);
    expect([...c.frozen]).toEqual(["v2"]);
    expect(calls).toEqual([["frozen", ["v2"]]]);
    expect(c.releaseVm("v1")).toBe(false);
    expect(calls).toHaveLength(1);
  });
});

describe("OperatorControls: pause", () => {
  it("pause keeps and writes the reason; resume says whether it was paused and writes only then", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    expect(c.pausedReason).toBeUndefined();
    expect(c.resume()).toBe(false);
    expect(calls).toEqual([]);
    c.pause("kernel upgrade");
    expect(c.pausedReason).toBe("kernel upgrade");
    c.pause("still upgrading");
    expect(c.pausedReason).toBe("still upgrading");
    expect(c.resume()).toBe(true);
    expect(c.pausedReason).toBeUndefined();
    expect(c.resume()).toBe(false);
    expect(calls).toEqual([
      ["paused", "kernel upgrade"],
      ["paused", "still upgrading"],
      ["paused", undefined],
    ]);
  });
});

describe("OperatorControls: pending plans", () => {
  it("propose keeps the plan and writes it", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    c.propose(plan("p1"), 5000);
    expect(c.held()).toEqual([{ plan: plan("p1"), expiresAt: 5000 }]);
    expect(calls).toEqual([["pending", "p1", { plan: plan("p1"), expiresAt: 5000 }]]);
  });

  it(`keeps at most ${MAX_PENDING_PLANS} plans: the next one evicts the oldest and writes its deletion`, () => {
    expect(MAX_PENDING_PLANS).toBe(100);
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    for (let i = 0; i < MAX_PENDING_PLANS; i++) c.propose(plan(`p${i}`), 10_000 + i);
    expect(c.held()).toHaveLength(MAX_PENDING_PLANS);
    expect(calls.filter((x) => x[0] === "pending" && x[2] === undefined)).toEqual([]);
    calls.length = 0;

    c.propose(plan("p100"), 20_000);
    expect(c.held()).toHaveLength(MAX_PENDING_PLANS);
    expect(ids(c.held())[0]).toBe("p1");
    expect(ids(c.held()).at(-1)).toBe("p100");
    expect(c.take("p0")).toBeUndefined();
    // The new plan is written and the evicted one deleted, so the bucket holds the same 100.
    expect(calls).toContainEqual(["pending", "p100", { plan: plan("p100"), expiresAt: 20_000 }]);
    expect(calls).toContainEqual(["pending", "p0", undefined]);
    expect(calls).toHaveLength(2);
  });

  it("take returns the plan once, removes it and writes the deletion", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    c.propose(plan("p1"), 5000);
    c.propose(plan("p2"), 5000);
    calls.length = 0;
    expect(c.take("p1")).toEqual({ plan: plan("p1"), expiresAt: 5000 });
    expect(ids(c.held())).toEqual(["p2"]);
    expect(calls).toEqual([["pending", "p1", undefined]]);
    expect(c.take("p1")).toBeUndefined();
    expect(c.take("nope")).toBeUndefined();
    expect(calls).toHaveLength(1);
  });

  it("take hands out a plan even when it has expired (approve judges the expiry)", () => {
    const c = new OperatorControls(undefined);
    c.propose(plan("p1"), 5000);
    expect(c.pending(6000)).toEqual([]);
    expect(c.take("p1")).toEqual({ plan: plan("p1"), expiresAt: 5000 });
  });

  it("expire(now) drops the plans whose expiry is at or before now, and writes each deletion", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    c.propose(plan("early"), 1000);
    c.propose(plan("exact"), 2000);
    c.propose(plan("late"), 3000);
    calls.length = 0;
    c.expire(2000);
    expect(ids(c.held())).toEqual(["late"]);
    expect(calls).toEqual([
      ["pending", "early", undefined],
      ["pending", "exact", undefined],
    ]);
    c.expire(2000);
    expect(calls).toHaveLength(2);
  });

  it("pending(now) lists the plans not yet expired, oldest first; held() lists every plan kept", () => {
    const c = new OperatorControls(undefined);
    c.propose(plan("p1"), 3000);
    c.propose(plan("p2"), 1000);
    c.propose(plan("p3"), 4000);
    expect(ids(c.pending(999))).toEqual(["p1", "p2", "p3"]);
    expect(ids(c.pending(1000))).toEqual(["p1", "p3"]);
    expect(ids(c.pending(3500))).toEqual(["p3"]);
    expect(ids(c.held())).toEqual(["p1", "p2", "p3"]);
  });

  it("proposing a plan id again keeps one entry, as the newest", () => {
    const c = new OperatorControls(undefined);
    c.propose(plan("p1"), 1000);
    c.propose(plan("p2"), 1000);
    c.propose(plan("p1"), 9000);
    expect(c.held()).toEqual([
      { plan: plan("p2"), expiresAt: 1000 },
      { plan: plan("p1"), expiresAt: 9000 },
    ]);
  });
});

describe("OperatorControls: HA", () => {
  it("restore replaces everything and writes nothing", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    c.enterMaintenance(["old-host"]);
    c.freeze(["old-vm"]);
    c.pause("old reason");
    c.propose(plan("old-plan"), 1000);
    calls.length = 0;

    c.restore({
      maintenance: ["h1", "h2"],
      frozen: ["v1"],
      // Stored in any order: kept oldest (earliest expiry) first.
      pending: [
        { plan: plan("later"), expiresAt: 9000 },
        { plan: plan("sooner"), expiresAt: 8000 },
      ],
      pausedReason: "restored reason",
    });
    expect(calls).toEqual([]);
    expect([...c.maintenance].sort()).toEqual(["h1", "h2"]);
    expect([...c.frozen]).toEqual(["v1"]);
    expect(c.pausedReason).toBe("restored reason");
    expect(ids(c.held())).toEqual(["sooner", "later"]);
    expect(c.persisted()).toEqual({
      maintenance: ["h1", "h2"],
      frozen: ["v1"],
      pending: [
        { plan: plan("sooner"), expiresAt: 8000 },
        { plan: plan("later"), expiresAt: 9000 },
      ],
      pausedReason: "restored reason",
    });
  });

  it("restore without a pause reason un-pauses; changes after a restore are written again", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    c.pause("x");
    c.restore({ maintenance: [], frozen: [], pending: [], pausedReason: undefined });
    expect(c.pausedReason).toBeUndefined();
    calls.length = 0;
    c.enterMaintenance(["h1"]);
    expect(calls).toEqual([["maintenance", ["h1"]]]);
  });

  it("after a restore, the bound evicts the plan that expires first", () => {
    const { sink, calls } = recordingSink();
    const c = new OperatorControls(sink);
    const stored = Array.from({ length: MAX_PENDING_PLANS }, (_, i) => ({ plan: plan(`s${i}`), expiresAt: 100_000 - i }));
    c.restore({ maintenance: [], frozen: [], pending: stored, pausedReason: undefined });
    c.propose(plan("new"), 200_000);
    expect(calls).toContainEqual(["pending", `s${MAX_PENDING_PLANS - 1}`, undefined]);
    expect(c.held().map((p) => p.plan.id)).not.toContain(`s${MAX_PENDING_PLANS - 1}`);
  });

  it("persisted() is what restore() takes back", () => {
    const a = new OperatorControls(undefined);
    a.enterMaintenance(["h1"]);
    a.freeze(["v1", "v2"]);
    a.pause("p");
    a.propose(plan("p1"), 1000);
    a.propose(plan("p2"), 2000);
    const b = new OperatorControls(undefined);
    b.restore(a.persisted());
    expect(b.persisted()).toEqual(a.persisted());
  });

  it("works without a sink (no HA)", () => {
    const c = new OperatorControls(undefined);
    c.enterMaintenance(["h"]);
    c.freeze(["v"]);
    c.pause("r");
    for (let i = 0; i <= MAX_PENDING_PLANS; i++) c.propose(plan(`p${i}`), 1000);
    expect(c.releaseHost("h")).toBe(true);
    expect(c.releaseVm("v")).toBe(true);
    expect(c.resume()).toBe(true);
    expect(c.take("p1")).toBeDefined();
    c.expire(1000);
    expect(c.held()).toEqual([]);
  });
});
