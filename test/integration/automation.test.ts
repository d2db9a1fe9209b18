import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startSimCluster, waitUntil, sleep, type SimCluster } from "./sim-cluster.js";

// Partial automation: cycles only propose; an operator approves a plan by id; a plan expires
// after plan_ttl and is cancelled when the cluster drifted from the snapshot it was made on.

const INTERVAL = 0.25;

describe("partial automation over real NATS", () => {
  let c: SimCluster;

  beforeAll(async () => {
    const vm = (name: string, memGiB = 2) => ({ name, vcpus: 4, mem_mib: memGiB * 1024, cpu: 5 });
    c = await startSimCluster({
      interval: INTERVAL,
      hosts: {
        a: { cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms: [vm("a-1"), vm("a-2", 3), vm("a-3", 4)] },
        b: { cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms: [vm("b-1")] },
        c: { cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms: [vm("c-1")] },
      },
      policy: {
        interval: INTERVAL,
        stale_after: 2,
        max_over: 1,
        load_threshold: 80,
        load_target: 70,
        max_load_candidate: 70,
        vm_cooldown: 600,
        host_settle: 0.5,
        mem_reserve_mib: 512,
        automation: "partial",
        plan_ttl: 2,
      },
    });
    await waitUntil(async () => (await c.api("status", {})).data.hosts.filter((h) => h.fresh).length === 3, 10_000, "hosts to report");
  });

  afterAll(async () => {
    await c?.stop();
  });

  const pendingPlan = async (): Promise<string> => {
    let id = "";
    await waitUntil(
      async () => {
        const s = await c.api("status", {});
        id = s.data.pendingPlans.at(-1)?.id ?? "";
        return id !== "";
      },
      10_000,
      "a proposed plan",
    );
    return id;
  };

  it("proposes without acting, and an approved plan runs", async () => {
    c.sim("a").setVmCpu("a-1", 350);
    c.sim("a").setVmCpu("a-2", 350);
    const id = await pendingPlan();
    await sleep(500);
    expect((await c.api("history", {})).data).toEqual([]);
    const r = await c.api("approve", { planId: id });
    expect(r.ok).toBe(true);
    expect(r.data.queued).toBe(1);
    await waitUntil(async () => (await c.api("history", {})).data.some((m) => m.state === "SUCCEEDED" && m.planId === id), 10_000, "the approved move");
    for (const v of ["a-1", "a-2"]) c.sim(c.fabric.whereIs(v)[0]!).setVmCpu(v, 5);
  });

  it("an expired plan cannot be approved", async () => {
    const id = (await c.api("plan", { mode: "evacuate", host: "c" })).data.id as string;
    await sleep(2500);
    const r = await c.api("approve", { planId: id });
    expect(r.ok).toBe(false);
    expect(r.error.code).toBe("UNKNOWN_PLAN");
    expect(r.error.message).toMatch(/expired/);
    expect(c.fabric.whereIs("c-1")).toEqual(["c"]);
  });

  it("a plan is cancelled when the cluster drifted from its snapshot", async () => {
    const p = (await c.api("plan", { mode: "evacuate", host: "c" })).data;
    expect(p.moves.map((m) => m.vm)).toEqual(["c-1"]);
    // The VM moves by other means (an operator, another tool) before the plan is approved.
    const m = await c.api("migrate", { vm: "c-1", to: p.moves[0]!.destination === "a" ? "b" : "a" });
    expect(m.ok).toBe(true);
    await waitUntil(() => c.fabric.whereIs("c-1")[0] !== "c", 10_000, "c-1 to leave c");
    await sleep(INTERVAL * 3000);
    const r = await c.api("approve", { planId: p.id });
    expect(r.ok).toBe(false);
    expect(r.error.code).toBe("PLAN_EXPIRED");
    expect(r.error.message).toContain("drifted");
    expect((await c.api("status", {})).data.migrations.queued).toEqual([]);
  });

  it("an operator migrate with a request_id runs once however often it is sent", async () => {
    const body = { vm: "b-1", to: "c", requestId: "op-42" };
    const [r1, r2] = await Promise.all([c.api("migrate", body), c.api("migrate", body)]);
    const r3 = await c.api("migrate", body);
    expect(r1.ok && r2.ok && r3.ok).toBe(true);
    expect(r1.data.queued[0]!.requestId).toBe("op-42");
    expect(r2.data).toEqual(r1.data);
    expect(r3.data).toEqual(r1.data);
    await waitUntil(() => c.fabric.whereIs("b-1")[0] === "c", 10_000, "b-1 on c");
    await sleep(500);
    expect((await c.api("history", { vm: "b-1" })).data).toHaveLength(1);
  });

  it("pause refuses operator moves and resume re-enables them", async () => {
    expect((await c.api("pause", { reason: "test" })).ok).toBe(true);
    const r = await c.api("migrate", { vm: "b-1", to: "c" });
    expect(r.ok).toBe(false);
    expect(r.error.code).toBe("PAUSED");
    expect((await c.api("status", {})).data.paused).toBe(true);
    expect((await c.api("resume", {})).ok).toBe(true);
    expect((await c.api("status", {})).data.paused).toBe(false);
  });
});
