import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecoveryStatusReply } from "../../shared/schemas/orchestrator-api.js";
import { startHaCluster, type HaCluster } from "../ha/ha-cluster.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { waitUntil } from "./sim-cluster.js";

// A leader killed in the middle of a recovery (real nats-server with JetStream, two HA
// orchestrators, sim agents): the standby takes over, reads the incident and the restarts already
// recorded from the HA bucket and finishes the recovery. Every VM ends up started exactly once.

const base = { facts: { shared_paths: ["/srv/shared"] }, start_delay_s: 0, cpus: 8, mem_mib: 16_384, migration_mibs: 2000 };
const disk = (path: string) => ({ facts: { disks: [{ target: "vda", path, size_gib: 1 }] } });
const VMS = ["web1", "app1", "api1"];

describe("host failure recovery across a leader failover", () => {
  let server: NatsServerHandle;
  let c: HaCluster;
  beforeAll(async () => {
    server = await startNatsServer({ jetstream: true });
    c = await startHaCluster({
      servers: [server.url],
      interval: 0.3,
      leaseTtl: 1,
      bucket: "recovery-ha",
      orchestrators: ["o1", "o2"],
      hosts: {
        a: { ...base, vms: [] },
        b: { ...base, vms: VMS.map((name) => ({ name, mem_mib: 512, cpu: 5, ...disk(`/srv/shared/${name}.qcow2`) })) },
        c: { ...base, vms: [] },
      },
      policy: {
        // One recovery pass every 1.5 s, one restart per pass: the leader can be killed between two.
        interval: 1.5,
        stale_after: 1,
        automation: "manual",
        failure_detect_after: 2,
        failure_peer_probes: 2,
        max_concurrent_restarts: 1,
        restart_priorities: { vms: { web1: "high", app1: "medium", api1: "low" } },
      },
    });
  }, 60_000);
  afterAll(async () => {
    await c?.stop();
    await server?.stop();
  });

  const status = async (): Promise<RecoveryStatusReply> => {
    const r = await c.leaderApi("recoveryStatus", {});
    if (!r.ok) throw new Error(r.error.message);
    return r.data;
  };

  it("the standby finishes a recovery its killed predecessor began, starting nothing twice", async () => {
    await waitUntil(
      async () => {
        const r = await c.leaderApi("records", {});
        return r.ok && r.data.records.length === VMS.length;
      },
      20_000,
      "the VMs to be recorded",
    );
    await c.agents.get("b")!.stop(); // b loses its power: agent and libvirt gone (no power driver)
    await waitUntil(async () => (await status()).hosts.some((h) => h.host === "b" && h.state === "failed"), 20_000, "b to be failed");
    const confirmed = await c.leaderApi("recover", { host: "b", confirmFenced: true });
    expect(confirmed.ok, JSON.stringify(confirmed)).toBe(true);

    // Kill the leader once it has recorded the first restart (and before the last).
    await waitUntil(async () => (await status()).restarts.length >= 1, 20_000, "a first restart");
    const first = c.leader()!;
    const before = (await status()).restarts.length;
    await first.crash();
    expect(before).toBeLessThan(VMS.length);

    await waitUntil(
      async () => {
        const s = await status();
        return s.hosts.some((h) => h.host === "b" && h.state === "recovered");
      },
      30_000,
      "b to be recovered by the new leader",
    );
    expect(c.leader()).not.toBe(first);
    const s = await status();
    expect(s.restarts.map((r) => r.restart.vm).sort()).toEqual([...VMS].sort());
    expect(s.restarts.every((r) => r.outcome === "started")).toBe(true);
    // Recorded under both leaders' epochs: the old one's restarts were not made again.
    expect(new Set(s.restarts.map((r) => r.restart.epoch)).size).toBe(2);
    for (const vm of VMS)
      expect(
        ["a", "c"].filter((h) => c.sim(h).hasVm(vm)),
        vm,
      ).toHaveLength(1);
  }, 90_000);
});
