import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimCluster, waitUntil, type SimCluster } from "./sim-cluster.js";

// Issue 14 items 3 and 4 on a real orchestrator over a real nats-server (no credentials here:
// test/security/dry-run-eviction.test.ts has the identities).
//   3. In manual mode a hot host made every cycle propose the same move again: 15 pending plans in
//      30 s. An identical plan is now kept once (the newest), its older ids still approve it; and
//      approve of a plan that is not pending says what became of it.
//   4. Approving a dry run of an evacuation that cannot complete put the host in maintenance and
//      queued the moves that fit. Approve now refuses it as evacuate does (NO_DESTINATION, with the
//      blocking VMs), judged on the cluster of then.

const INTERVAL = 0.25;

describe("pending plans in manual mode (issue 14 item 3)", () => {
  let c: SimCluster;

  beforeAll(async () => {
    const vm = (name: string, cpu: number) => ({ name, vcpus: 4, mem_mib: 1024, cpu });
    const host = (vms: ReturnType<typeof vm>[]) => ({ cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms });
    c = await startSimCluster({
      interval: INTERVAL,
      // a: 350 % + 320 % of one core on 8 cores = 84 % > 80 %: a hot spot every cycle. No ties
      // (b is the clearly better destination, a-1 the bigger VM), so every cycle plans the same move.
      hosts: { a: host([vm("a-1", 350), vm("a-2", 320)]), b: host([vm("b-1", 10)]), c: host([vm("c-1", 200)]) },
      policy: { interval: INTERVAL, automation: "manual", stale_after: 5, max_over: 0.5, host_settle: 0.2, plan_ttl: 3, strategies: ["hotspot"] },
    });
  }, 60_000);

  afterAll(async () => {
    await c?.stop();
  });

  it("a cycle proposing the same move again keeps one pending plan; its first id still approves it", async () => {
    let firstId = "";
    await waitUntil(
      async () => {
        const p = (await c.api("status", {})).data.pendingPlans;
        if (firstId === "" && p.length > 0) firstId = p[0]!.id;
        return firstId !== "";
      },
      15_000,
      "a proposed plan",
    );
    const cycle0 = (await c.api("status", {})).data.cycle;
    await waitUntil(async () => (await c.api("status", {})).data.cycle >= cycle0 + 8, 15_000, "eight more cycles");
    const pending = (await c.api("status", {})).data.pendingPlans;
    expect(pending).toHaveLength(1);
    const newest = pending[0]!.id;
    expect(newest).not.toBe(firstId);

    const r = await c.api("approve", { planId: firstId });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    expect(r.data.planId).toBe(firstId);
    expect(r.data.queued).toBe(1);
    const applied = r.data.appliedAs!;
    expect(applied).toBeDefined();
    // The migration carries the id approved.
    await waitUntil(async () => (await c.api("history", {})).data.some((h) => h.planId === firstId && h.state === "SUCCEEDED"), 10_000, "the approved move");

    // Approved once: both ids say so.
    for (const id of [firstId, applied]) {
      const again = await c.api("approve", { planId: id });
      expect(again).toMatchObject({ ok: false, error: { code: "UNKNOWN_PLAN", details: { fate: "approved" } } });
      expect(again.error.message).toMatch(new RegExp(`^plan ${id} was already approved at \\d{4}-`));
    }
  }, 40_000);

  it("approve of a plan that expired, or was never proposed, says so", async () => {
    // A dry run of an operator (no credentials: anyone may approve), left to expire (plan_ttl 3 s).
    const d = await c.api("plan", { mode: "evacuate", host: "b" });
    expect(d.data.moves.length).toBeGreaterThan(0);
    await waitUntil(async () => !(await c.api("status", {})).data.pendingPlans.some((p) => p.id === d.data.id), 10_000, "the dry run to expire");
    const expired = await c.api("approve", { planId: d.data.id });
    expect(expired).toMatchObject({ ok: false, error: { code: "UNKNOWN_PLAN", details: { fate: "expired" } } });
    expect(expired.error.message).toMatch(/expired at .* \(plans are kept plan_ttl = 3 s\)/);

    const never = await c.api("approve", { planId: "p-0000000000000000" });
    expect(never).toMatchObject({ ok: false, error: { code: "UNKNOWN_PLAN", details: { fate: "unknown" } } });
    expect(never.error.message).toBe("no plan p-0000000000000000 was proposed to this orchestrator (test), or it is too old to be remembered");
  }, 20_000);
});

describe("approving an evacuation that cannot complete (issue 14 item 4)", () => {
  let c: SimCluster;

  beforeAll(async () => {
    const vm = (name: string, mem: number) => ({ name, vcpus: 1, mem_mib: mem, cpu: 5 });
    const host = (mem: number, vms: ReturnType<typeof vm>[]) => ({ cpus: 8, mem_mib: mem, reserve_mib: 512, migration_mibs: 20000, start_delay_s: 0.05, vms });
    c = await startSimCluster({
      interval: INTERVAL,
      // x's two VMs of 6 GiB; y has room for one of them only while y-1 (6 GiB) is there.
      hosts: { x: host(16384, [vm("x-1", 6144), vm("x-2", 6100)]), y: host(16384, [vm("y-1", 6144)]) },
      policy: { interval: INTERVAL, automation: "manual", stale_after: 5, host_settle: 0.2, mem_reserve_mib: 512, max_mem_candidate: 100, strategies: [] },
    });
    await waitUntil(async () => (await c.api("status", {})).data.hosts.filter((h) => h.fresh).length === 2, 15_000, "both hosts to report");
  }, 60_000);

  afterAll(async () => {
    await c?.stop();
  });

  it("is refused as evacuate refuses it: NO_DESTINATION naming the blocking VM; no maintenance, nothing queued", async () => {
    const check = await c.api("evacuate", { host: "x", dryRun: true });
    expect(check.data).toMatchObject({ canDrain: false });
    const dry = await c.api("plan", { mode: "evacuate", host: "x" });
    expect(dry.data.moves.map((m) => m.vm)).toHaveLength(1); // the moves that fit

    const r = await c.api("approve", { planId: dry.data.id });
    expect(r).toMatchObject({ ok: false, error: { code: "NO_DESTINATION" } });
    expect(r.error.message).toMatch(new RegExp(`^plan ${dry.data.id} was not applied: host x cannot be drained now: x-[12]: `));
    const reasons = (r.error.details as { reasons: { subject: string }[] }).reasons;
    expect(reasons.map((d) => d.subject)).toContain(dry.data.moves[0]!.vm === "x-1" ? "x-2" : "x-1");
    const s = (await c.api("status", {})).data;
    expect(s.hosts.find((h) => h.host === "x")?.maintenance).toBe(false);
    expect(s.migrations).toEqual({ queued: [], ongoing: [] });
    expect(c.fabric.whereIs("x-1")).toEqual(["x"]);
    expect(c.fabric.whereIs("x-2")).toEqual(["x"]);
    // Refused once: the plan is gone, and approve says why.
    const again = await c.api("approve", { planId: dry.data.id });
    expect(again).toMatchObject({ ok: false, error: { code: "UNKNOWN_PLAN", details: { fate: "cancelled" } } });
    expect(again.error.message).toContain("cannot be drained now");
  });

  it("a partial plan made when the host could not drain is not applied once it can: it would leave VMs behind", async () => {
    const dry = await c.api("plan", { mode: "evacuate", host: "x" });
    expect(dry.data.moves).toHaveLength(1);
    const left = dry.data.moves[0]!.vm === "x-1" ? "x-2" : "x-1";
    // Room appears on y (not emptied: empty hosts take no VMs here).
    c.sim("y").addVm({ name: "y-2", vcpus: 1, mem_mib: 256, cpu: 5 });
    c.sim("y").removeVm("y-1");
    const drainable = async () => {
      const d = (await c.api("evacuate", { host: "x", dryRun: true })).data;
      return "canDrain" in d && d.canDrain;
    };
    await waitUntil(drainable, 10_000, "x to become drainable");
    const r = await c.api("approve", { planId: dry.data.id });
    expect(r).toMatchObject({ ok: false, error: { code: "PLAN_EXPIRED", details: { missing: [left] } } });
    expect(r.error.message).toContain(`it does not drain host x (no move for ${left}:`);
    expect((await c.api("status", {})).data.hosts.find((h) => h.host === "x")?.maintenance).toBe(false);

    // A plan made now drains it, and approve applies it.
    const full = await c.api("plan", { mode: "evacuate", host: "x" });
    expect(full.data.moves).toHaveLength(2);
    const ok = await c.api("approve", { planId: full.data.id });
    expect(ok).toMatchObject({ ok: true, data: { planId: full.data.id, queued: 2 } });
    expect((await c.api("status", {})).data.hosts.find((h) => h.host === "x")?.maintenance).toBe(true);
    await waitUntil(() => c.fabric.whereIs("x-1")[0] === "y" && c.fabric.whereIs("x-2")[0] === "y", 10_000, "x to be drained");
  }, 30_000);
});
