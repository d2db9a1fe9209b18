import { Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../agent/nats-agent.js";
import { SimFabric } from "../../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../../agent/sim/sim-hypervisor.js";
import { callOrchestrator } from "../../cli/client.js";
import { renderRecords } from "../../cli/render-records.js";
import { startOrchestrator, type RunningOrchestrator } from "../../orchestrator/main.js";
import { decodeRecord } from "../../orchestrator/shell/ha/ha-records.js";
import { VmRecordEntry } from "../../orchestrator/shell/vm-records.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { NatsConfig } from "../../shared/config/nats-config.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { silentLogger } from "../../shared/logger.js";
import { connectNats } from "../../shared/nats/connect.js";
import type { RecordsReply } from "../../shared/schemas/orchestrator-api.js";
import type { VmRecord } from "../../shared/schemas/vm-record.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { sleep, waitUntil } from "./sim-cluster.js";

// The VM records on a real nats-server with JetStream, real sim agents and the real orchestrator:
// created from the agents' facts and definitions, moved with a migration, kept while their host is
// silent, removed after the grace once the VM is gone from a reporting host, and read back from
// the bucket by the next orchestrator.

const BUCKET = "test-vm-records";
const GRACE_S = 1;
let server: NatsServerHandle;
let nc: NatsConnection;
const fabric = new SimFabric();
const agents = new Map<string, AgentHandle>();
let orch: RunningOrchestrator;

const shared = { facts: { shared_paths: ["/srv/shared"] }, start_delay_s: 0, cpus: 8, mem_mib: 16_384, migration_mibs: 2000 };
const HOSTS: Record<string, object> = {
  a: {
    ...shared,
    vms: [
      { name: "web1", mem_mib: 256, cpu: 10, facts: { disks: [{ target: "vda", path: "/srv/shared/web1.qcow2", size_gib: 1 }] } },
      { name: "db1", mem_mib: 256, cpu: 10, facts: { disks: [{ target: "vda", path: "/var/lib/libvirt/images/db1.qcow2", size_gib: 1 }] } },
    ],
  },
  b: { ...shared, vms: [] },
  c: { ...shared, vms: [{ name: "app1", mem_mib: 256, cpu: 10, facts: { disks: [{ target: "vda", path: "/srv/shared/app1.qcow2", size_gib: 1 }] } }] },
};
const policy = {
  interval: 0.3,
  stale_after: 1,
  automation: "manual",
  rules: [{ name: "front", type: "anti-affinity", strength: "should", vms: ["web1", "app1"] }],
  restart_priorities: { vms: { db1: "high" }, rules: { front: "low" } },
};

const startOrch = (instance: string) =>
  startOrchestrator({
    config: OrchestratorConfig.parse({
      nats: { servers: [server.url], request_timeout: 2 },
      policy,
      log_level: "silent",
      records: { bucket: BUCKET, removal_grace: GRACE_S },
    }),
    log: silentLogger(),
    mapping: new Map(Object.keys(HOSTS).map((h) => [h, h])),
    instance,
  });

const records = async (body: { vm?: string; host?: string } = {}): Promise<RecordsReply> => {
  const r = await callOrchestrator(nc, { request_timeout: 5 }, "records", body);
  if (!r.ok) throw new Error(`records: ${r.error.code} ${r.error.message}`);
  return r.data;
};
const byVm = async () => new Map((await records()).records.map((r) => [r.vm, r]));
const inBucket = async (vm: string): Promise<VmRecord | undefined> => {
  const kv = await new Kvm(nc).open(BUCKET);
  const e = await kv.get(`vm.${vm}`);
  return e && e.operation === "PUT" && e.length > 0 ? decodeRecord(VmRecordEntry, `vm.${vm}`, e.string()).record : undefined;
};
const sim = (h: string) => agents.get(h)!.hypervisor as SimHypervisor;

beforeAll(async () => {
  server = await startNatsServer({ jetstream: true });
  for (const [host, s] of Object.entries(HOSTS))
    agents.set(
      host,
      await startAgent({
        config: AgentConfig.parse({ host, driver: "sim", interval: 0.3, heartbeat_interval: 0.3, nats: { servers: [server.url] }, sim: s }),
        logger: silentLogger(),
        fabric,
        stopGraceMs: 200,
      }),
    );
  orch = await startOrch("first");
  nc = await connectNats(NatsConfig.parse({ servers: [server.url] }), "test-operator");
}, 30_000);

afterAll(async () => {
  await nc?.close().catch(() => undefined);
  await orch?.stop().catch(() => undefined);
  for (const a of agents.values()) await a.stop().catch(() => undefined);
  await server?.stop();
});

describe("VM records in JetStream KV (real nats-server, sim agents, real orchestrator)", () => {
  it("creates a record of every VM: its definition, disks shared or local, priority by VM, rule, default", async () => {
    await waitUntil(async () => (await records()).records.length === 3, 10_000, "three records");
    const got = await byVm();
    expect(got.get("web1")).toMatchObject({ host: "a", restartPriority: "low", epoch: 0, disks: [{ target: "vda", shared: true, localWritable: false }] });
    expect(got.get("db1")).toMatchObject({ host: "a", restartPriority: "high", disks: [{ target: "vda", shared: false, localWritable: true }] });
    expect(got.get("app1")).toMatchObject({ host: "c", restartPriority: "low" });
    // The listing leaves the XML out; one VM asked for carries it, and so does the bucket.
    expect(got.get("web1")!.definition).toBeUndefined();
    const one = (await records({ vm: "web1" })).records[0]!;
    expect(one.definition).toContain("<name>web1</name>");
    expect(one.definition).toContain("/srv/shared/web1.qcow2");
    const kv = await inBucket("web1");
    expect(kv).toMatchObject({ vm: "web1", host: "a", definition: one.definition, definitionDigest: one.definitionDigest });
    expect((await records()).store).toEqual({ kind: "kv", bucket: BUCKET });
    expect((await records({ host: "c" })).records.map((r) => r.vm)).toEqual(["app1"]);
    // What `ballast records` prints of them.
    const table = renderRecords(await records());
    expect(table).toContain(`kept in: KV bucket ${BUCKET}`);
    expect(table).toMatch(/^db1\s+a\s+high\s+1 local, 0 shared\s/m);
    expect(table).toMatch(/^web1\s+a\s+low\s+all shared \(1\)\s/m);
    expect(renderRecords(await records({ vm: "web1" }))).toContain("definition (secrets removed):\n<domain type='kvm'>");
  });

  it("follows a successful migration: the record's host is the destination, in the bucket too", async () => {
    const m = await callOrchestrator(nc, { request_timeout: 5 }, "migrate", { vm: "web1", to: "b" });
    expect(m.ok, JSON.stringify(m)).toBe(true);
    await waitUntil(async () => (await inBucket("web1"))?.host === "b", 10_000, "web1's record on b");
    expect((await byVm()).get("web1")!.host).toBe("b");
  });

  it("keeps the records of a silent host's VMs past the grace", async () => {
    await agents.get("c")!.stop();
    // Silent: no metrics for longer than stale_after; then more than the grace passes.
    await sleep((policy.stale_after + 2 * GRACE_S) * 1000 + 500);
    orch.orchestrator.recordsTick();
    await sleep(300);
    orch.orchestrator.recordsTick();
    await orch.orchestrator.records.settled();
    expect((await byVm()).get("app1")).toMatchObject({ host: "c" });
    expect(await inBucket("app1")).toMatchObject({ host: "c" });
  });

  it("removes the record of a VM gone from every host once the grace has passed, not before", async () => {
    sim("a").removeVm("db1");
    await waitUntil(() => !orch.orchestrator.view.hostVms("a").some((v) => v.name === "db1"), 5000, "a's metrics without db1");
    orch.orchestrator.recordsTick();
    await orch.orchestrator.records.settled();
    // Gone for less than the grace: still there.
    expect((await byVm()).has("db1")).toBe(true);
    await sleep(GRACE_S * 1000 + 200);
    orch.orchestrator.recordsTick();
    await orch.orchestrator.records.settled();
    await waitUntil(async () => !(await byVm()).has("db1"), 3000, "db1's record removed");
    expect(await inBucket("db1")).toBeUndefined();
    expect((await byVm()).has("web1")).toBe(true);
  });

  it("a new orchestrator reads the records from the bucket, the silent host's too", async () => {
    await orch.stop();
    orch = await startOrch("second");
    // app1's host is stopped: its record can only come from the bucket.
    const got = await byVm();
    expect([...got.keys()].sort()).toEqual(["app1", "web1"]);
    expect(got.get("app1")).toMatchObject({ host: "c", restartPriority: "low" });
    expect(got.get("web1")).toMatchObject({ host: "b" });
  });
});
