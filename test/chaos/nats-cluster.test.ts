import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { startNatsCluster, type NatsClusterHandle } from "../support/nats-cluster.js";
import { sleep, waitUntil } from "../integration/sim-cluster.js";
import { checkPlacement, failoverHosts, startHaCluster, type HaCluster } from "../ha/ha-cluster.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";

// Three clustered nats-servers (routes on loopback), JetStream on each, the HA state in an R3 KV
// bucket. Two HA orchestrators and three sim agents know all three URLs. The server the leader
// is connected to is SIGKILLed while a VM is being copied: clients reconnect to the survivors,
// the migration completes, no migration is started twice, and afterwards every VM runs on
// exactly one host, as the leader believes.

const TTL = 3;
const INTERVAL = 0.25;
const VMS = ["big", "a-1", "b-1", "c-1"];

/** Resolves with the time (performance.now) of the connection's next reconnect. */
function nextReconnect(nc: NatsConnection): Promise<number> {
  return (async () => {
    for await (const s of nc.status()) if (s.type === "reconnect") return performance.now();
    throw new Error("connection closed before it reconnected");
  })();
}

describe("chaos: a three-server NATS cluster loses a server during a migration", () => {
  let cluster: NatsClusterHandle;
  let c: HaCluster;

  beforeAll(async () => {
    cluster = await startNatsCluster();
    c = await startHaCluster({
      servers: cluster.urls,
      interval: INTERVAL,
      leaseTtl: TTL,
      replicas: 3,
      bucket: "ballast-chaos",
      orchestrators: ["orch-a", "orch-b"],
      // "big" is copied for about 6 s.
      hosts: failoverHosts(6144),
      policy: { interval: INTERVAL, stale_after: 5, max_over: 1, vm_cooldown: 600, host_settle: 0.5, mem_reserve_mib: 512 },
    });
    await waitUntil(
      async () => {
        if (!c.leader()) return false;
        const s = await c.api("status", {}).catch(() => undefined);
        return s?.ok === true && s.data.hosts.filter((h) => h.fresh).length === 3;
      },
      30_000,
      "a leader and three fresh hosts",
    );
  }, 90_000);

  afterAll(async () => {
    await c?.stop();
    await cluster?.stop();
  });

  it("clients reconnect to the survivors, the migration completes, nothing is started twice", async () => {
    const lead = c.leader()!;
    const r = await c.leaderApi("migrate", { vm: "big", to: "b", requestId: "chaos-big-1" });
    expect(r.ok).toBe(true);
    const requestId = (r.data.queued as MigrationRecord[])[0]!.requestId;
    await waitUntil(() => c.applied.has(requestId), 10_000, "the agent to start the migration");
    await sleep(1000); // well inside the ~6 s copy

    // Kill the server the leader talks to: the hardest case, the lease and state writes move too.
    const leaderServer = lead.nc.getServer();
    const victim = cluster.servers.findIndex((s) => leaderServer.endsWith(`:${s.port}`));
    expect(victim).toBeGreaterThanOrEqual(0);
    // Whether the bucket's stream leader dies too (then its two replicas elect a new one first).
    const kvLeader = (await (await jetstreamManager(c.nc)).streams.info("KV_ballast-chaos")).cluster?.leader;
    const reconnected = nextReconnect(lead.nc);
    const t0 = performance.now();
    const killedAt = Date.now();
    await cluster.kill(victim);
    const reconnectMs = (await reconnected) - t0;
    expect(c.fabric.whereIs("big")).toEqual(["a"]);

    const lastMetrics = () => {
      const l = c.leader();
      return l ? Math.min(...l.orchestrator.api.status().hosts.map((h) => h.lastMetrics)) : 0;
    };
    await waitUntil(() => lastMetrics() > killedAt + 500, 30_000, "metrics from every host after the kill");
    const metricsMs = performance.now() - t0;
    // What the cluster looked like if the wait runs out: which leader, what it knows of the copy.
    const state = (): string => {
      const l = c.leader();
      const known = l?.orchestrator.view.migrations.history({ vm: "big", limit: 5 }).map((m) => `${m.requestId}:${m.state}`) ?? [];
      const ongoing = l?.orchestrator.view.migrations.ongoing().map((m) => `${m.requestId}:${m.state}`) ?? [];
      return (
        `leader ${l ? `${l.ha!.instance} epoch ${l.ha!.lease.epoch()}` : "none"} after ${Math.round(performance.now() - t0)} ms; ` +
        `big on ${c.fabric.whereIs("big").join("+")}; leader's history of big [${known.join(", ")}], ongoing [${ongoing.join(", ")}]`
      );
    };
    await waitUntil(
      () =>
        c
          .leader()
          ?.orchestrator.view.migrations.history({ vm: "big", limit: 5 })
          .some((m) => m.requestId === requestId && m.state === "SUCCEEDED") === true,
      30_000,
      "the leader to see the migration succeed",
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}: ${state()}`);
    });
    const doneMs = performance.now() - t0;

    // A new command after the kill runs once too (the KV bucket and the agents still answer).
    const r2 = await c.leaderApi("migrate", { vm: "c-1", to: "a", requestId: "chaos-after-1" }, 30_000);
    expect(r2.ok).toBe(true);
    await waitUntil(() => c.fabric.whereIs("c-1").join() === "a" && c.leader()?.orchestrator.view.migrations.ongoing().length === 0, 30_000, "c-1 on a");
    const afterMs = performance.now() - t0;
    await sleep(4 * INTERVAL * 1000);

    const now = c.leader()!;
    const place = checkPlacement(c, now, VMS);
    console.log(
      `[nats cluster] killed n${victim + 1} (the leader's server; the KV stream leader was ${kvLeader}) 1 s into a ~6 s copy; leader reconnected after ${Math.round(reconnectMs)} ms; ` +
        `metrics from all 3 hosts after ${Math.round(metricsMs)} ms; migration SUCCEEDED seen after ${Math.round(doneMs)} ms; ` +
        `next migration done after ${Math.round(afterMs)} ms; leader ${lead.ha!.instance} -> ${now.ha!.instance} (epoch ${now.ha!.lease.epoch()}); ` +
        `migrations started per request id: ${[...c.applied].map(([id, a]) => `${id}=${a.count}`).join(", ")}; ` +
        `commands seen per id: ${[...c.sent].map(([id, s]) => `${id}=${s.count}`).join(", ")}; ${place.map((p) => `${p.vm}@${p.hosts.join("+")}`).join(" ")}`,
    );
    expect(c.fabric.whereIs("big")).toEqual(["b"]);
    for (const [id, a] of c.applied) expect(a.count, id).toBe(1);
    expect([...c.applied.values()].filter((a) => a.vm === "big")).toHaveLength(1);
    for (const p of place) {
      expect(p.hosts, p.vm).toHaveLength(1);
      expect(p.view, p.vm).toEqual(p.hosts);
    }
  }, 120_000);
});
