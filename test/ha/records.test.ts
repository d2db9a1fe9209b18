import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { waitUntil } from "../integration/sim-cluster.js";
import { failoverHosts, leadThenStandBy, startHaCluster, type HaCluster } from "./ha-cluster.js";

// The VM records across an HA failover: two orchestrators in this process, one real nats-server
// with JetStream, three sim agents. Only the leader fetches and writes; the standby that takes
// over after the leader is killed reads the bucket and goes on writing under its own epoch.

const TTL = 1;
const INTERVAL = 0.25;
const VMS = ["a-1", "b-1", "big", "c-1"];

describe("HA: VM records survive the leader", () => {
  let server: NatsServerHandle;
  let c: HaCluster;

  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    c = await startHaCluster({
      servers: [server.url],
      interval: INTERVAL,
      leaseTtl: TTL,
      orchestrators: ["orch-a"],
      hosts: failoverHosts(256),
      policy: { interval: INTERVAL, stale_after: 2, automation: "manual", restart_priorities: { vms: { big: "high" }, rules: {} } },
    });
    await leadThenStandBy(c, "orch-a", ["orch-b"], 3);
  }, 40_000);

  afterAll(async () => {
    await c?.stop();
    await server?.stop();
  });

  it("the leader records every VM under its epoch; the standby fetches and keeps nothing", async () => {
    await waitUntil(
      async () => {
        const r = await c.leaderApi("records", {});
        return r.ok && r.data.records.length === VMS.length;
      },
      10_000,
      "every VM recorded",
    );
    const a = c.orchs.get("orch-a")!;
    const epoch = a.ha!.lease.epoch()!;
    const r = await c.leaderApi("records", {});
    expect(r.data.records.map((x) => [x.vm, x.epoch])).toEqual(VMS.map((vm) => [vm, epoch]));
    expect(r.data.records.find((x) => x.vm === "big")!.restartPriority).toBe("high");
    expect(r.data.store).toEqual({ kind: "kv", bucket: "ballast-vm-records" });
    // Asked of the standby, the answer is the leader's (forwarded); its own map stays empty.
    expect(c.orchs.get("orch-b")!.orchestrator.records.all()).toEqual([]);
    expect(c.orchs.get("orch-b")!.orchestrator.records.fetching).toBe(0);
  });

  it("after the leader is killed, the new leader has every record from the bucket and writes under its epoch", async () => {
    const a = c.orchs.get("orch-a")!;
    const before = (await c.leaderApi("records", { vm: "big" })).data.records[0]!;
    const oldEpoch = a.ha!.lease.epoch()!;
    await a.crash();
    c.orchs.delete("orch-a");
    const b = c.orchs.get("orch-b")!;
    await waitUntil(() => b.ha!.lease.isLeader(), 10_000, "orch-b to lead");
    // Read at the takeover, before any facts could have been fetched again.
    await waitUntil(() => b.orchestrator.records.all().length === VMS.length, 5000, "the records loaded");
    const big = (await c.leaderApi("records", { vm: "big" })).data.records[0]!;
    expect(big).toEqual(before);
    // A move under the new leader: the record follows, stamped with the new epoch.
    const m = await c.leaderApi("migrate", { vm: "a-1", to: "b" });
    expect(m.ok, JSON.stringify(m)).toBe(true);
    await waitUntil(
      async () => {
        const r = await c.leaderApi("records", { vm: "a-1" });
        return r.ok && r.data.records[0]?.host === "b";
      },
      10_000,
      "a-1's record on b",
    );
    const moved = (await c.leaderApi("records", { vm: "a-1" })).data.records[0]!;
    expect(moved.epoch).toBe(b.ha!.lease.epoch());
    expect(moved.epoch).toBeGreaterThan(oldEpoch);
  });
});
