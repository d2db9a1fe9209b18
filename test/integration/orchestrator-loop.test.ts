import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StatusReply } from "../../shared/schemas/orchestrator-api.js";
import type { LooseReply } from "../support/loose-reply.js";
import { startSimCluster, waitUntil, sleep, type SimCluster } from "./sim-cluster.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";

// The whole loop for real: nats-server, sim agents, orchestrator. Host a has 8 cores; its VMs
// are idle until a test makes two of them busy (2 x 350 % of one core = 87.5 % of the host).

const INTERVAL = 0.25;
const MAX_OVER = 1.5;

describe("orchestrator loop over real NATS with sim agents", () => {
  let c: SimCluster;

  beforeAll(async () => {
    const vm = (name: string, memGiB = 2) => ({ name, vcpus: 4, mem_mib: memGiB * 1024, cpu: 5 });
    c = await startSimCluster({
      interval: INTERVAL,
      hosts: {
        a: { cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms: [vm("a-1"), vm("a-2", 3), vm("a-3", 4)] },
        b: { cpus: 8, mem_mib: 32768, migration_mibs: 20000, start_delay_s: 0.05, vms: [vm("b-1"), vm("b-2")] },
        // c is at max_vm_per_host: never a valid destination.
        c: { cpus: 64, mem_mib: 262144, migration_mibs: 20000, start_delay_s: 0.05, vms: [vm("c-1"), vm("c-2"), vm("c-3")] },
      },
      policy: {
        interval: INTERVAL,
        stale_after: 2,
        max_over: MAX_OVER,
        load_threshold: 80,
        load_target: 70,
        max_load_candidate: 70,
        max_vm_per_host: 3,
        vm_cooldown: 600,
        host_settle: 0.5,
        mem_reserve_mib: 512,
      },
    });
    await waitUntil(
      async () => {
        const s = await c.api("status", {});
        return s.ok && s.data.hosts.filter((h) => h.fresh).length === 3;
      },
      10_000,
      "all three hosts to report",
    );
  });

  afterAll(async () => {
    await c?.stop();
  });

  const history = async (): Promise<MigrationRecord[]> => {
    const r = await c.api("history", { limit: 100 });
    expect(r.ok).toBe(true);
    return r.data;
  };

  it("does nothing about an overload shorter than max_over", async () => {
    c.sim("a").setVmCpu("a-1", 350);
    c.sim("a").setVmCpu("a-2", 350);
    await sleep(MAX_OVER * 1000 * 0.5);
    c.sim("a").setVmCpu("a-1", 5);
    c.sim("a").setVmCpu("a-2", 5);
    await sleep(MAX_OVER * 1000 * 1.5);
    expect(await history()).toEqual([]);
    const status = await c.api("status", {});
    expect(status.data.migrations.ongoing).toEqual([]);
    const d = await c.api("decisions", { host: "a", limit: 500 });
    expect(d.ok).toBe(true);
  });

  it("moves exactly one VM to a valid destination when the overload outlasts max_over", async () => {
    c.sim("a").setVmCpu("a-1", 350);
    c.sim("a").setVmCpu("a-2", 350);
    await waitUntil(async () => (await history()).some((r) => r.state === "SUCCEEDED"), 15_000, "a migration to succeed");
    await sleep(INTERVAL * 1000 * 6);
    const h = await history();
    expect(h).toHaveLength(1);
    const m = h[0]!;
    expect(m).toMatchObject({ source: "a", destination: "b", state: "SUCCEEDED", strategy: "hotspot" });
    expect(["a-1", "a-2"]).toContain(m.vm);
    expect(m.stats?.durationMs).toBeGreaterThan(0);
    // The VM runs on exactly one host, and the orchestrator's view agrees.
    expect(c.fabric.whereIs(m.vm)).toEqual(["b"]);
    const explain = await c.api("explain", { vm: m.vm });
    expect(explain.data.runningOn).toEqual(["b"]);
    expect(explain.data.whyHere).toContain("moved here from a");
    expect(explain.data.cpuLevels).toMatch(/^as configured \(load_threshold \d+ %\)$/);
  });

  it("the cooldown stops the moved VM from moving back while the load stays", async () => {
    const moved = (await history())[0]!;
    // Now b is the hot one: the moved VM and a b VM burn CPU; a has room again.
    c.sim("b").setVmCpu("b-1", 400);
    c.sim("b").setVmCpu(moved.vm, 350);
    c.sim("a").setVmCpu(moved.vm === "a-1" ? "a-2" : "a-1", 5);
    await sleep((MAX_OVER + 2) * 1000);
    const h = await history();
    expect(h.filter((r) => r.vm === moved.vm)).toHaveLength(1);
    const d = await c.api("decisions", { vm: moved.vm, limit: 1000 });
    expect(d.data.some((x) => x.code === "VM_COOLDOWN")).toBe(true);
    // b-1 may have been moved off b by now (it was b's cheapest fix): calm it wherever it runs.
    for (const vm of ["b-1", moved.vm]) c.sim(c.fabric.whereIs(vm)[0]!).setVmCpu(vm, 5);
  });

  it("respects max_vm_per_host on every move", async () => {
    for (const r of await history()) {
      if (r.state === "SUCCEEDED") expect(r.destination).not.toBe("c");
    }
    const s = await c.api("status", {});
    for (const h of s.data.hosts) if (h.host !== "c") expect(h.vms).toBeLessThanOrEqual(3);
  });

  it.each([
    ["migrate", "{not json", "BAD_JSON"],
    ["migrate", JSON.stringify({ vm: 42 }), "BAD_REQUEST"],
    ["migrate", JSON.stringify({ vm: "a-3", to: "b", extra: true }), "BAD_REQUEST"],
    ["migrate", JSON.stringify({ vm: "no-such-vm" }), "UNKNOWN_VM"],
    ["migrate", JSON.stringify({ vm: "a-3", to: "nowhere" }), "UNKNOWN_HOST"],
    ["migrate", JSON.stringify({ vm: "a-3; rm -rf /" }), "BAD_REQUEST"],
    ["migrate", JSON.stringify({ vm: "../../etc/passwd" }), "BAD_REQUEST"],
    ["evacuate", JSON.stringify({ host: "a.b.*" }), "BAD_REQUEST"],
    ["evacuate", JSON.stringify({ host: "ghost" }), "UNKNOWN_HOST"],
    ["approve", JSON.stringify({ plan_id: "nope" }), "UNKNOWN_PLAN"],
    ["explain", JSON.stringify({ vm: "ghost" }), "UNKNOWN_VM"],
    ["history", JSON.stringify({ limit: -1 }), "BAD_REQUEST"],
    ["plan", JSON.stringify({ mode: "evacuate" }), "BAD_REQUEST"],
  ] as const)("bad request to %s (%s) gets %s and changes nothing", async (endpoint, payload, code) => {
    const before = await history();
    const where = ["a-3", "b-1"].map((v) => c.fabric.whereIs(v));
    const { orchestratorSubjects } = await import("../../shared/subjects.js");
    const r = await c.raw(orchestratorSubjects[endpoint], payload);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe(code);
      expect(r.error.message.length).toBeGreaterThan(5);
    }
    await sleep(100);
    expect(await history()).toEqual(before);
    expect(["a-3", "b-1"].map((v) => c.fabric.whereIs(v))).toEqual(where);
    expect((await c.api("status", {})).data.migrations).toEqual({ queued: [], ongoing: [] });
  });

  it("an operator migrate to a host that cannot take the VM is refused with the numbers", async () => {
    const r = await c.api("migrate", { vm: "a-3", to: "c" });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe("NO_DESTINATION");
      expect(r.error.message).toContain("max_vm_per_host");
      expect(JSON.stringify(r.error)).toContain("DEST_TOO_MANY_VMS");
    }
  });

  it("a NATS client that is not ours can query status and ask for a plan on the documented subjects", async () => {
    const s = JSON.parse(new TextDecoder().decode((await c.nc.request("ballast.orch.status", "", { timeout: 3000 })).data)) as LooseReply<StatusReply>;
    expect(s.ok).toBe(true);
    expect(s.data.hosts.map((h) => h.host)).toEqual(["a", "b", "c"]);
    const p = JSON.parse(new TextDecoder().decode((await c.nc.request("ballast.orch.plan", "{}", { timeout: 3000 })).data));
    expect(p.ok).toBe(true);
    expect(p.data).toHaveProperty("moves");
    expect(p.data).toHaveProperty("decisions");
    const ping = JSON.parse(new TextDecoder().decode((await c.nc.request("$SRV.PING.ballast-orchestrator", "", { timeout: 3000 })).data));
    expect(ping.name).toBe("ballast-orchestrator");
  });
});
