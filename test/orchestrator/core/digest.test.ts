import { describe, expect, it } from "vitest";
import { planId, snapshotDigest, sortedInputs } from "../../../orchestrator/core/digest.js";
import { plan } from "../../../orchestrator/core/planner.js";
import { flight, host, NOW, policy, snapshot, vm } from "./builders.js";

// The working copy and both digests share one sort per snapshot within a plan() call; the values
// must be exactly those of computing each digest on its own.

const s = () =>
  snapshot([host("b"), host("a"), host("c")], [vm("y1", "b"), vm("x1", "a"), vm("z1", "c"), vm("x2", "a")], {
    inFlight: [flight("z1", "c", "a"), flight("x2", "a", "b")],
  });

describe("digests with shared sorting", () => {
  it("gives plan() the same ids as computing each digest alone, call after call", () => {
    const snap = s();
    const p1 = plan(snap, policy(), NOW);
    const p2 = plan(snap, policy(), NOW);
    const alone = { id: planId(structuredClone(snap), policy(), NOW, { mode: "cycle" }), digest: snapshotDigest(structuredClone(snap)) };
    expect([p1.id, p1.snapshotDigest]).toEqual([alone.id, alone.digest]);
    expect([p2.id, p2.snapshotDigest]).toEqual([alone.id, alone.digest]);
    const shuffled = { ...snap, hosts: [...snap.hosts].reverse(), vms: [...snap.vms].reverse(), inFlight: [...snap.inFlight!].reverse() };
    expect(plan(shuffled, policy(), NOW).id).toBe(p1.id);
  });

  it("does not reuse sorted copies once the snapshot's lists change", () => {
    const snap = s();
    const before = snapshotDigest(snap);
    const sorted = sortedInputs(snap);
    planId(snap, policy(), NOW, { mode: "cycle" });
    snap.vms.push(vm("w1", "c"));
    expect(sortedInputs(snap)).not.toBe(sorted);
    const after = snapshotDigest(snap);
    expect(after).not.toBe(before);
    expect(after).toBe(snapshotDigest(structuredClone(snap)));
    snap.vms = snap.vms.map((v) => (v.name === "w1" ? { ...v, host: "a" } : v));
    expect(snapshotDigest(snap)).toBe(snapshotDigest(structuredClone(snap)));
    expect(snapshotDigest(snap)).not.toBe(after);
  });
});
