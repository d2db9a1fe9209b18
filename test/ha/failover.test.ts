import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { sleep, waitUntil } from "../integration/sim-cluster.js";
import { checkPlacement, failoverHosts, leadThenStandBy, startHaCluster, type HaCluster } from "./ha-cluster.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";

// Two orchestrators in this process, one real nats-server with JetStream, three sim agents.
// The leader is "killed" (crash(): lease renewals and NATS connection stop at once, nothing is
// given back) while a migration runs; the standby must take over within two lease periods,
// see the migration finish, keep its cooldown, and send nothing twice.

const TTL = 1; // lease period, seconds
const INTERVAL = 0.25;
const VMS = ["big", "a-1", "b-1", "c-1"];

describe("HA: leader killed during a migration", () => {
  let server: NatsServerHandle;
  let c: HaCluster;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    c = await startHaCluster({
      servers: [server.url],
      interval: INTERVAL,
      leaseTtl: TTL,
      orchestrators: ["orch-a"],
      // "big" is copied for about 4 s.
      hosts: failoverHosts(4096),
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
      },
    });
    await leadThenStandBy(c, "orch-a", ["orch-b"], 3);
  }, 40_000);

  afterAll(async () => {
    await c?.stop();
    await server?.stop();
  });

  it("a standby refuses mutating requests with NOT_LEADER naming the leader, and answers status", async () => {
    const b = c.orchs.get("orch-b")!;
    expect(b.ha!.lease.isLeader()).toBe(false);
    expect(() => b.orchestrator.api.pause({ reason: "x" })).toThrow(/standby; the leader is orch-a/);
    await expect(b.orchestrator.api.migrate({ vm: "big", to: "b" })).rejects.toMatchObject({ code: "NOT_LEADER" });
    // Refused here, sent again once this instance leads (in the next test): it must run then.
    await expect(b.orchestrator.api.migrate({ vm: "a-1", to: "c", requestId: "op-refused-by-standby" })).rejects.toMatchObject({ code: "NOT_LEADER" });
    const st = b.orchestrator.api.status();
    expect(st.ha).toEqual({ role: "standby", epoch: null, leaderInstance: "orch-a" });
    expect(c.orchs.get("orch-a")!.orchestrator.api.status().ha).toMatchObject({ role: "leader", leaderInstance: "orch-a" });
  });

  it("the standby takes over within two lease periods, sees the migration finish, keeps the cooldown, sends nothing twice", async () => {
    const a = c.orchs.get("orch-a")!;
    const b = c.orchs.get("orch-b")!;
    const epochA = a.ha!.lease.epoch()!;
    const r = await c.leaderApi("migrate", { vm: "big", to: "b", requestId: "op-failover-1" });
    expect(r.ok).toBe(true);
    const requestId = (r.data.queued as MigrationRecord[])[0]!.requestId;
    await waitUntil(() => a.orchestrator.view.migrations.ongoing().some((m) => m.vm === "big"), 5000, "the migration to start");
    await sleep(500); // well inside the ~4 s copy
    expect(c.fabric.whereIs("big")).toEqual(["a"]);

    const t0 = performance.now();
    await a.crash();
    c.orchs.delete("orch-a");
    await waitUntil(() => b.ha!.lease.isLeader(), TTL * 2000 + 1000, "orch-b to take over");
    const takeoverMs = performance.now() - t0;
    const epochB = b.ha!.lease.epoch()!;
    // The counter continues from the old leader's cycles (replicated decision log).
    const cycleAtTakeover = b.orchestrator.view.decisions.cycle;
    // The continued record: ONGOING, same request id, loaded from the bucket.
    const continued = b.orchestrator.view.migrations.get(requestId);
    const stillOngoing = continued?.state === "ONGOING";

    await waitUntil(
      () => b.orchestrator.view.migrations.history({ vm: "big", limit: 5 }).some((m) => m.requestId === requestId && m.state === "SUCCEEDED"),
      15_000,
      "orch-b to see the migration succeed",
    );
    const finishedSeenMs = performance.now() - t0;

    // Cooldown: b turns hot because of "big" (just moved); a and c are idle. "big" must stay
    // (vm_cooldown 600 s, its move taken over from the old leader's record); b-1 may go.
    c.sim("b").setVmCpu("big", 750);
    await sleep(3000);
    const bigMoves = [...c.sent.values()].filter((s) => s.vm === "big");
    const place = checkPlacement(c, b, VMS);
    const st = b.orchestrator.api.status();

    console.log(
      `[ha failover] lease_ttl=${TTL}s takeover=${Math.round(takeoverMs)} ms (limit ${2 * TTL * 1000} ms) epoch ${epochA} -> ${epochB}; ` +
        `record continued as ONGOING=${stillOngoing}; success seen by new leader after ${Math.round(finishedSeenMs)} ms; ` +
        `migrate commands for big: ${bigMoves.length} request id(s), sends per id ${bigMoves.map((s) => s.count).join(",")}; ` +
        `cycles by new leader=${st.cycle - cycleAtTakeover} (counter ${cycleAtTakeover} -> ${st.cycle}); placement ${JSON.stringify(place.map((p) => `${p.vm}@${p.hosts.join("+")}`))}`,
    );
    expect(takeoverMs).toBeLessThan(2 * TTL * 1000);
    expect(epochB).toBeGreaterThan(epochA);
    expect(stillOngoing).toBe(true);
    expect(bigMoves).toHaveLength(1);
    expect(bigMoves[0]!.count).toBe(1);
    expect(bigMoves[0]!.epochs).toEqual([epochA]);
    for (const s of c.sent.values()) expect(s.count).toBe(1);
    expect(c.fabric.whereIs("big")).toEqual(["b"]);
    expect(st.cycle - cycleAtTakeover).toBeGreaterThan(3); // the new leader did plan, and chose to leave big alone
    for (const p of place) {
      expect(p.hosts).toHaveLength(1);
      expect(p.view).toEqual(p.hosts);
    }
    expect(st.migrations).toEqual({ queued: [], ongoing: [] });

    // The request id refused while orch-b stood by was not remembered: now leading, it runs once.
    const late = await b.orchestrator.api.migrate({ vm: "a-1", to: "c", requestId: "op-refused-by-standby" });
    expect(late.queued.map((q) => q.requestId)).toEqual(["op-refused-by-standby"]);
    await waitUntil(() => c.fabric.whereIs("a-1").join() === "c" && b.orchestrator.view.migrations.ongoing().length === 0, 15_000, "a-1 on c");
    expect(c.applied.get("op-refused-by-standby")?.count).toBe(1);
  }, 60_000);

  it("a leader that loses its lease stops dispatching at once", async () => {
    const b = c.orchs.get("orch-b")!;
    // Someone else writes the lease (as a newer leader would): orch-b's next renewal fails.
    const { Kvm } = await import("@nats-io/kv");
    const kv = await new Kvm(c.nc).open("ballast-test");
    // orch-b may renew between our read and our write (wrong last sequence): read again.
    await waitUntil(
      async () => {
        const e = (await kv.get("leader"))!;
        const v = JSON.parse(e.string());
        return kv
          .update(
            "leader",
            JSON.stringify({ ...v, instance: "intruder", epoch: v.epoch + 1, renewedAt: Date.now(), expiresAt: Date.now() + 60_000 }),
            e.revision,
          )
          .then(
            () => true,
            () => false,
          );
      },
      5000,
      "the intruder's write",
    );
    const t0 = performance.now();
    await waitUntil(() => !b.ha!.lease.isLeader(), TTL * 1000, "orch-b to step down");
    const stepDownMs = performance.now() - t0;
    const before = c.sent.size;
    const r = await b.orchestrator.api.migrate({ vm: "a-1", to: "c" }).catch((x) => x);
    await b.orchestrator.pump();
    await sleep(300);
    console.log(
      `[ha lease lost] orch-b stepped down ${Math.round(stepDownMs)} ms after its lease was taken; migrate answered ${r.code}; commands sent since: ${c.sent.size - before}`,
    );
    expect(r.code).toBe("NOT_LEADER");
    expect(c.sent.size).toBe(before);
    await waitUntil(() => b.orchestrator.api.status().ha?.leaderInstance === "intruder", 2000, "orch-b to name the new holder");
  }, 20_000);
});
