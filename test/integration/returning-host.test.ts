import { describe, expect, it } from "vitest";
import { startAgent } from "../../agent/nats-agent.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { silentLogger } from "../../shared/logger.js";
import { agentSubjects } from "../../shared/subjects.js";
import { FakePower } from "./fake-power.js";
import { failingGuests, failingHosts, onDisk, recoveryClusterPerTest, recoveryHost } from "./recovery-cluster.js";
import { waitUntil, type SimCluster } from "./sim-cluster.js";

// The returning host end to end on a real nats-server, with sim agents and the real orchestrator:
// b loses its power, is fenced and its shared-disk VMs restarted on a/c; b comes back with its old
// domains defined (shut off by the power loss) and marked autostart. Its agent turns autostart off,
// starts only the VM no other host runs (its local-disk VM, still recorded on b) after asking the
// orchestrator, and leaves the others off. A copy then started by hand on b while another host runs
// it is paused there, with an alert and a decision; the copy the record names keeps running. A VM
// that migrates while listed running on two hosts is never paused.

const start = recoveryClusterPerTest();

const stateOn = (cl: SimCluster, host: string, vm: string) =>
  cl
    .sim(host)
    .vms()
    .find((v) => v.name === vm)?.state;

describe("the returning host (sim cluster, real NATS)", () => {
  it("does not start its old copies, turns autostart off, and a copy started by hand is paused with an alert", async () => {
    const power = new FakePower("b");
    const { cluster, alerts } = await start({ hosts: failingHosts(failingGuests({ autostart: true })), records: 3, powerDrivers: new Map([["b", power]]) });
    const hv = cluster.sim("b");
    // The agent turned the flag off at its start; its VMs ran, so it started nothing.
    expect(await cluster.agents.get("b")!.guardedStarts).toEqual(["app1", "db1", "web1"].map((vm) => expect.objectContaining({ vm, outcome: "running" })));
    expect(await hv.autostartDomains()).toEqual([]);

    // Power loss: agent, libvirt and guests gone.
    power.reading = "off";
    await cluster.agents.get("b")!.stop();
    await waitUntil(async () => (await cluster.api("recoveryStatus", { host: "b" })).data.hosts[0]?.state === "recovered", 30_000, "b to be recovered");
    const restarted = (await cluster.api("recoveryStatus", {})).data.restarts.filter((r) => r.outcome === "started");
    expect(restarted.map((r) => r.restart.vm).sort()).toEqual(["app1", "web1"]);
    const webAt = restarted.find((r) => r.restart.vm === "web1")!.restart.destination;
    // The records follow the copies that run now.
    await waitUntil(async () => (await cluster.api("records", { vm: "web1" })).data.records[0]?.host === webAt, 10_000, "web1's record to follow its restart");

    // b comes back: its domains are defined, shut off by the power loss, and marked autostart.
    for (const vm of ["web1", "app1", "db1"]) {
      hv.setVmState(vm, "shutoff");
      hv.setAutostart(vm, true);
    }
    hv.start();
    const config = AgentConfig.parse({ host: "b", nats: { servers: [cluster.server.url] }, driver: "sim", interval: 0.3, heartbeat_interval: 0.3 });
    const agent = await startAgent({ config, logger: silentLogger(), fabric: cluster.fabric, hypervisor: hv, stopGraceMs: 500 });
    cluster.agents.set("b", agent);
    const guarded = await agent.guardedStarts;
    const by = Object.fromEntries(guarded.map((g) => [g.vm, g]));
    expect(by.web1).toMatchObject({ outcome: "refused", reason: expect.stringMatching(new RegExp(`names ${webAt}|running or paused on`)) });
    expect(by.app1?.outcome).toBe("refused");
    // The local-disk VM waited for its host: recorded on b, run nowhere else, so b may start it.
    expect(by.db1?.outcome).toBe("started");
    expect(stateOn(cluster, "b", "web1")).toBe("shutoff");
    expect(stateOn(cluster, "b", "app1")).toBe("shutoff");
    expect(stateOn(cluster, "b", "db1")).toBe("running");
    expect(await hv.autostartDomains()).toEqual([]);

    // An operator starts b's old web1 by hand while webAt runs it: b's copy is paused, webAt's is not.
    await hv.startDefined("web1");
    await waitUntil(() => stateOn(cluster, "b", "web1") === "paused", 15_000, "b's web1 to be paused");
    await waitUntil(() => alerts.some((a) => a.alert === "duplicate_running"), 5_000, "the duplicate alert");
    expect(alerts.filter((a) => a.alert === "duplicate_running")).toEqual([expect.objectContaining({ host: "b", code: "DUPLICATE_PAUSED" })]);
    expect(alerts.find((a) => a.alert === "duplicate_running")!.message).toContain(webAt);
    expect(stateOn(cluster, webAt, "web1")).toBe("running");
    expect(hv.hasVm("web1")).toBe(true); // never destroyed or undefined
    const decisions = (await cluster.api("decisions", { vm: "web1", limit: 100 })).data.map((d) => d.code);
    expect(decisions).toContain("DUPLICATE_PAUSED");
    expect((await cluster.api("records", { vm: "web1" })).data.records[0]?.host).toBe(webAt);
  }, 90_000);

  it("never pauses a VM that migrates, though two hosts list it running", async () => {
    const hosts = {
      a: recoveryHost([]),
      // A slow copy: 4 GiB at 4 MiB/s, in flight for the whole test.
      c: recoveryHost([{ name: "mig1", mem_mib: 4096, cpu: 10, ...onDisk("/srv/shared/mig1.qcow2") }], { migration_mibs: 4 }),
    };
    const { cluster, alerts } = await start({ hosts, records: 1 });
    const r = await cluster.api("migrate", { vm: "mig1", to: "a" });
    expect(r.ok, JSON.stringify(r)).toBe(true);
    await waitUntil(
      () =>
        cluster
          .sim("c")
          .vms()
          .find((v) => v.name === "mig1")?.migrating === true,
      10_000,
      "mig1 to migrate",
    );
    // A second copy on the destination, as during a switch-over seen in two inventories.
    cluster.sim("a").addVm({ name: "mig1", mem_mib: 512 });
    // Fresh inventories of both list it running; several duplicate passes go by (one at least every 0.3 s).
    await waitUntil(
      async () => {
        const st = await cluster.api("status", {});
        return st.ok && ["a", "c"].every((h) => st.data.hosts.find((x) => x.host === h)?.vms === 1);
      },
      10_000,
      "both inventories to list mig1",
    );
    const passes = (await cluster.api("decisions", { limit: 1000 })).data.length;
    await waitUntil(async () => (await cluster.api("decisions", { limit: 1000 })).data.length > passes + 5, 10_000, "more passes");
    expect(stateOn(cluster, "a", "mig1")).toBe("running");
    expect(stateOn(cluster, "c", "mig1")).toBe("running");
    expect(alerts.filter((a) => a.alert === "duplicate_running")).toEqual([]);

    // The migration ends (aborted): now the copy on a, which the record does not name, is paused.
    const ab = await cluster.raw(agentSubjects("c").abort, JSON.stringify({ vm: "mig1" }));
    expect(ab.ok, JSON.stringify(ab)).toBe(true);
    await waitUntil(() => stateOn(cluster, "a", "mig1") === "paused", 15_000, "a's mig1 to be paused");
    expect(stateOn(cluster, "c", "mig1")).toBe("running");
    expect(alerts.filter((a) => a.alert === "duplicate_running")).toEqual([expect.objectContaining({ host: "a", code: "DUPLICATE_PAUSED" })]);
  }, 60_000);
});
