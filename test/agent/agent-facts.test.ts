import { connect, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { collect as collectOn, until } from "./support/collect.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../agent/nats-agent.js";
import { SimFabric } from "../../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../../agent/sim/sim-hypervisor.js";
import { AgentConfig, type SimConfigInput } from "../../shared/config/agent-config.js";
import { silentLogger } from "../../shared/logger.js";
import { requestJson } from "../../shared/nats/json.js";
import { CheckIncomingResult, CpuBaselineResult, MigrationEvent, RemoveDisksResult, type CheckIncomingRequest } from "../../shared/schemas/agent-api.js";
import { AgentFacts } from "../../shared/schemas/facts.js";
import { Heartbeat } from "../../shared/schemas/host-metrics.js";
import { agentSubjects } from "../../shared/subjects.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";

// Facts on the bus with the sim driver on a real nats-server: a mixed simulated cluster (an older
// CPU generation on sim-old, a network only sim-new has), facts published on start and on change,
// the heartbeat's digest, get-facts, the destination's check, remove-disks after a copy.

let server: NatsServerHandle;
let nc: NatsConnection;
const fabric = new SimFabric();
const agents: AgentHandle[] = [];
const DISK = "/var/lib/libvirt/images/db1-vda.qcow2";

const cfg = (host: string, sim: SimConfigInput) =>
  AgentConfig.parse({
    host,
    driver: "sim",
    interval: 0.2,
    heartbeat_interval: 0.1,
    nats: { servers: [server.url] },
    facts: { interval: 1 },
    sim: { cpus: 8, mem_mib: 16_384, migration_mibs: 1000, start_delay_s: 0.05, ...sim },
  });

const collect = <T>(subject: string, schema: { parse(v: unknown): T }) => collectOn(nc, subject, schema);

const request = <T>(subject: string, body: unknown, data?: { parse(v: unknown): T }) =>
  requestJson<T>(nc, subject, body, { timeoutMs: 3000, ...(data ? { data: data as never } : {}) });
const NEW = agentSubjects("sim-new");
const OLD = agentSubjects("sim-old");
let published: { got: AgentFacts[]; sub: Subscription };

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  published = collect(NEW.facts, AgentFacts);
  agents.push(
    await startAgent({
      config: cfg("sim-new", {
        facts: { cpu_model: "Skylake-Server", cpu_features: ["avx2", "avx512f"], cpu_models: ["qemu64", "Haswell", "Skylake-Server"], networks: ["db-net"] },
        vms: [
          { name: "web1", mem_mib: 512, facts: { cpu_model: "Skylake-Server", cpu_features: ["avx512f"] } },
          { name: "db1", mem_mib: 512, facts: { networks: ["db-net"], disks: [{ target: "vda", path: DISK, size_gib: 0.5 }] } },
        ],
      }),
      logger: silentLogger(),
      fabric,
    }),
  );
  agents.push(
    await startAgent({
      config: cfg("sim-old", { facts: { cpu_model: "Haswell", cpu_features: ["avx2"], cpu_models: ["qemu64", "Haswell"], networks: ["db-net"] } }),
      logger: silentLogger(),
      fabric,
    }),
  );
});

afterAll(async () => {
  published?.sub.unsubscribe();
  await Promise.all(agents.map((a) => a.stop()));
  await nc?.close();
  await server?.stop();
});

describe("facts on the bus (sim driver, real nats-server)", () => {
  it("publishes the facts once its VMs are known; the heartbeat carries their digest; get-facts answers the same", async () => {
    await until(() => published.got.some((f) => f.vms.length === 2));
    const f = published.got.at(-1)!;
    expect(f).toMatchObject({ v: 1, host: "sim-new", hostFacts: { cpu: { model: "Skylake-Server", features: ["avx2", "avx512f"] }, networks: ["db-net"] } });
    expect(f.vms.map((v) => v.name)).toEqual(["db1", "web1"]);
    expect(f.vms[0]).toMatchObject({ disks: [{ target: "vda", source: DISK, shared: false }], interfaces: [{ type: "network", source: "db-net" }] });
    const beats = collect(NEW.heartbeat, Heartbeat);
    await until(() => beats.got.length > 0);
    beats.sub.unsubscribe();
    expect(beats.got.at(-1)!.factsDigest).toBe(f.digest);
    const got = await request(NEW.getFacts, {}, AgentFacts);
    expect(got).toEqual({ ok: true, data: f });
    // Nothing changed: no new message on the facts subject, although host facts are re-read every second.
    const n = published.got.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(published.got.length).toBe(n);
  });

  it("publishes again when a VM appears, and only then", async () => {
    const before = published.got.at(-1)!.digest;
    (agents[0]!.hypervisor as SimHypervisor).addVm({ name: "new1", mem_mib: 256 });
    await until(() => published.got.at(-1)!.vms.some((v) => v.name === "new1"));
    expect(published.got.at(-1)!.digest).not.toBe(before);
  });

  it("check-incoming: the older generation refuses a VM needing avx512f in libvirt-like words; the newer accepts it", async () => {
    const { name: _n, ...vm } = (await agents[0]!.facts()).vms.find((v) => v.name === "web1")!;
    const body: CheckIncomingRequest = { vm: "web1", source: "sim-new", memMiB: 512, facts: vm, copyStorage: false };
    const old = await request(OLD.checkIncoming, body, CheckIncomingResult);
    expect(old).toEqual({
      ok: true,
      data: {
        vm: "web1",
        host: "sim-old",
        ok: false,
        refusals: [
          { code: "CPU", message: expect.stringMatching(/Unknown or unusable CPU model Skylake-Server/) },
          { code: "CPU", message: expect.stringMatching(/does not provide required features: avx512f$/) },
        ],
      },
    });
    // Too big for the host's free memory: MEMORY, from the agent's own metrics.
    const big = await request(
      OLD.checkIncoming,
      { ...body, memMiB: 1_000_000, facts: { ...vm, cpu: { ...vm.cpu, model: "Haswell", required: [] } } },
      CheckIncomingResult,
    );
    expect(big.ok && big.data.refusals.map((r) => r.code)).toEqual(["MEMORY"]);
  });

  it("moves a local-disk VM with copyStorage, then remove-disks takes the source copy (refused while the VM is still there)", async () => {
    const A = agentSubjects("sim-new");
    const events = collect(A.events, MigrationEvent);
    const srcSim = agents[0]!.hypervisor as SimHypervisor;
    const dstSim = agents[1]!.hypervisor as SimHypervisor;
    const early = await request(A.removeDisks, { requestId: "m1", vm: "db1", paths: [DISK] }, RemoveDisksResult);
    expect(early).toMatchObject({ ok: false, error: { code: "VM_STILL_DEFINED" } });
    const db1 = (await agents[0]!.facts()).vms.find((v) => v.name === "db1")!;
    const { name: _n, ...vm } = db1;
    expect(await request(OLD.checkIncoming, { vm: "db1", source: "sim-new", memMiB: 512, facts: vm, copyStorage: true }, CheckIncomingResult)).toMatchObject({
      ok: true,
      data: { ok: true },
    });
    expect(await request(A.migrate, { requestId: "m0", vm: "db1", destination: "sim-old", destinationAddress: "sim-old" })).toMatchObject({
      ok: false,
      error: { code: "LOCAL_DISKS" },
    });
    const accepted = await request(A.migrate, { requestId: "m1", vm: "db1", destination: "sim-old", destinationAddress: "sim-old", copyStorage: true });
    expect(accepted).toMatchObject({ ok: true, data: { copyDisks: ["vda"], diskBytes: 512 * 1024 * 1024 } });
    await until(() => events.got.some((e) => e.type === "migration.succeeded"));
    events.sub.unsubscribe();
    expect(dstSim.hasFile(DISK) && srcSim.hasFile(DISK)).toBe(true);
    // Coming back would overwrite the copy left at the source: DISK_EXISTS.
    const back = await request(A.checkIncoming, { vm: "db1", source: "sim-old", memMiB: 512, facts: vm, copyStorage: true }, CheckIncomingResult);
    expect(back.ok && back.data.refusals.map((r) => r.code)).toEqual(["DISK_EXISTS"]);
    expect(await request(A.removeDisks, { requestId: "m1", vm: "db1", paths: [DISK] }, RemoveDisksResult)).toEqual({
      ok: true,
      data: { vm: "db1", removed: [DISK], kept: [] },
    });
    expect(srcSim.hasFile(DISK)).toBe(false);
  });

  it("cpu-baseline: the features every given CPU has", async () => {
    const r = await request(
      NEW.cpuBaseline,
      {
        cpus: [
          "<cpu><model>Haswell</model><feature policy='require' name='avx2'/><feature policy='require' name='aes'/></cpu>",
          "<cpu><model>Haswell</model><feature policy='require' name='avx2'/></cpu>",
        ],
      },
      CpuBaselineResult,
    );
    expect(r).toMatchObject({ ok: true, data: { model: "Haswell", features: ["avx2"] } });
  });
});
