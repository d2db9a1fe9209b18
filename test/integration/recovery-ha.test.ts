import { describe, expect, it } from "vitest";
import { failBUntilFirstRestart, HA_VMS as VMS, recoveryHaScene } from "./recovery-cluster.js";
import { waitUntil } from "./sim-cluster.js";

// A leader killed in the middle of a recovery (real nats-server with JetStream, two HA
// orchestrators, sim agents): the standby takes over, reads the incident and the restarts already
// recorded from the HA bucket and finishes the recovery. Every VM ends up started exactly once.

describe("host failure recovery across a leader failover", () => {
  const scene = recoveryHaScene("recovery-ha");
  const status = () => scene.status();

  it("the standby finishes a recovery its killed predecessor began, starting nothing twice", async () => {
    const { c } = scene;
    await failBUntilFirstRestart(scene); // no power driver: an operator confirms b off

    // Kill the leader once it has recorded the first restart (and before the last).
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
