import { describe, expect, it } from "vitest";
import { MAX_PENDING_PLANS, PendingPlans } from "../../../orchestrator/shell/pending-plans.js";
import type { PendingPlan } from "../../../orchestrator/shell/persisted-state.js";
import type { Plan, PlannedMove } from "../../../shared/schemas/plan.js";

// Issue 14 item 3: plans kept for approve, by kind. Dry runs of identities that may not approve
// never push out plans that can be approved, cycles' proposals are kept apart from dry runs, an
// identical newer plan replaces an older one (whose id still approves it), and a plan that left
// is remembered with its fate.

const move = (vm: string, source = "a", destination = "b"): PlannedMove => ({
  seq: 0,
  vm,
  source,
  destination,
  strategy: "balance",
  code: "IMBALANCE",
  reason: "r",
  numbers: {},
  costMiB: 1024,
  brokenShouldRules: [],
});

const plan = (id: string, moves: PlannedMove[] = [move("v1")], createdAt = 1000): Plan => ({
  id,
  createdAt,
  mode: "cycle",
  snapshotDigest: "d",
  moves,
  decisions: [],
  indicators: { imbalanceBefore: 0, imbalanceAfter: 0, hostsFreed: [], migrations: moves.length, bytesToMove: 0, overloadedBefore: 0, overloadedAfter: 0 },
  emptyHosts: [],
  frozen: [],
  adaptation: null,
  memAdaptation: null,
  power: [],
});

const operator = { by: "_INBOX_operator-alice", mayApprove: true };
const readonly = { by: "_INBOX_readonly-audit", mayApprove: false };

function shelf() {
  const stored = new Map<string, PendingPlan>();
  const writes: [string, boolean][] = [];
  const p = new PendingPlans((id, entry) => {
    writes.push([id, entry !== undefined]);
    if (entry) stored.set(id, entry);
    else stored.delete(id);
  });
  return { p, stored, writes, ids: () => p.held().map((x) => x.plan.id) };
}

describe("PendingPlans: kinds", () => {
  it(`${MAX_PENDING_PLANS + 50} read-only dry runs push out none of an operator's or a cycle's plans`, () => {
    const { p, stored } = shelf();
    p.propose({ plan: plan("op-plan", [move("v1")]), expiresAt: 9e9, dryRun: operator });
    p.propose({ plan: plan("cycle-plan", [move("v2")]), expiresAt: 9e9 });
    for (let i = 0; i < MAX_PENDING_PLANS + 50; i++) p.propose({ plan: plan(`ro-${i}`, [move(`x${i}`)]), expiresAt: 9e9, dryRun: readonly });
    expect(p.take("op-plan")?.plan.id).toBe("op-plan");
    expect(p.take("cycle-plan")?.plan.id).toBe("cycle-plan");
    // The read-only shelf keeps its newest 100; the HA store holds exactly what is kept.
    expect(p.held()).toHaveLength(MAX_PENDING_PLANS);
    expect([...stored.keys()].sort()).toEqual(
      p
        .held()
        .map((x) => x.plan.id)
        .sort(),
    );
    expect(p.fate("ro-0")).toMatchObject({ state: "dropped", kind: "other" });
  });

  it("operators' dry runs never push out a cycle's proposals, nor the reverse", () => {
    const { p } = shelf();
    p.propose({ plan: plan("cycle-plan", [move("v2")]), expiresAt: 9e9 });
    for (let i = 0; i < MAX_PENDING_PLANS + 1; i++) p.propose({ plan: plan(`op-${i}`, [move(`x${i}`)]), expiresAt: 9e9, dryRun: operator });
    expect(p.held().map((x) => x.plan.id)).toContain("cycle-plan");
    expect(p.fate("op-0")).toMatchObject({ state: "dropped", kind: "approver" });
  });
});

describe("PendingPlans: identical plans", () => {
  it("keeps an identical newer plan once; the older id still approves it", () => {
    const { p, writes, ids } = shelf();
    // A manual-mode cluster proposing the same move every cycle.
    for (let i = 0; i < 15; i++) p.propose({ plan: plan(`c${i}`, [move("v1"), move("v2", "a", "c")], 1000 + i), expiresAt: 5000 + i });
    expect(ids()).toEqual(["c14"]);
    expect(p.held()[0]).toMatchObject({ expiresAt: 5014 });
    expect(p.held()[0]?.sameAs?.[0]).toBe("c13");
    // Each replaced plan is deleted from the HA store.
    expect(writes.filter(([id, kept]) => id === "c0" && !kept)).toHaveLength(1);
    const taken = p.take("c3", 7000);
    expect(taken?.plan.id).toBe("c14");
    expect(ids()).toEqual([]);
    expect(p.fate("c3")).toEqual({ state: "approved", at: 7000, as: "c14" });
    expect(p.fate("c14")).toEqual({ state: "approved", at: 7000, as: "c14" });
  });

  it("different moves, another kind, or no moves at all are not merged", () => {
    const { p, ids } = shelf();
    p.propose({ plan: plan("a", [move("v1", "a", "b")]), expiresAt: 9e9 });
    p.propose({ plan: plan("b", [move("v1", "a", "c")]), expiresAt: 9e9 });
    p.propose({ plan: plan("c", [move("v1", "a", "b")]), expiresAt: 9e9, dryRun: operator });
    p.propose({ plan: plan("d", [move("v1", "a", "b")]), expiresAt: 9e9, dryRun: readonly });
    p.propose({ plan: plan("e", []), expiresAt: 9e9 });
    p.propose({ plan: plan("f", []), expiresAt: 9e9 });
    expect(ids()).toEqual(["a", "b", "c", "d", "e", "f"]);
  });

  it("a read-only identity's identical dry run does not replace an operator's plan", () => {
    const { p } = shelf();
    p.propose({ plan: plan("op", [move("v1")]), expiresAt: 9e9, dryRun: operator });
    p.propose({ plan: plan("ro", [move("v1")]), expiresAt: 9e9, dryRun: readonly });
    expect(p.take("op")?.plan.id).toBe("op");
  });
});

describe("PendingPlans: fates", () => {
  it("remembers expired, cancelled, and says nothing of an id never proposed", () => {
    const { p } = shelf();
    p.propose({ plan: plan("e", [move("v1")]), expiresAt: 2000 });
    p.propose({ plan: plan("k", [move("v2")]), expiresAt: 9000 });
    p.expire(2000);
    expect(p.fate("e")).toEqual({ state: "expired", at: 2000 });
    expect(p.take("e")).toBeUndefined();
    const k = p.take("k", 3000)!;
    p.settle(k, { state: "cancelled", at: 3000, why: "drifted" });
    expect(p.fate("k")).toEqual({ state: "cancelled", at: 3000, why: "drifted" });
    expect(p.fate("never")).toBeUndefined();
  });

  it("restore keeps kinds and the ids identical plans replaced", () => {
    const a = shelf();
    a.p.propose({ plan: plan("c1", [move("v1")]), expiresAt: 5000 });
    a.p.propose({ plan: plan("c2", [move("v1")]), expiresAt: 6000 });
    a.p.propose({ plan: plan("ro", [move("v9")]), expiresAt: 7000, dryRun: readonly });
    const b = shelf();
    b.p.restore(a.p.held());
    expect(b.writes).toEqual([]);
    expect(b.p.held()).toEqual(a.p.held());
    expect(b.p.take("c1")?.plan.id).toBe("c2");
    for (let i = 0; i < MAX_PENDING_PLANS; i++) b.p.propose({ plan: plan(`x${i}`, [move(`x${i}`)]), expiresAt: 9e9 });
    expect(b.p.held().map((x) => x.plan.id)).toContain("ro");
  });
});
