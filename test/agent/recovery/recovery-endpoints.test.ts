import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../../agent/nats-agent.js";
import { SimFabric } from "../../../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../../../agent/sim/sim-hypervisor.js";
import { simDefinitionXml } from "../../../agent/sim/sim-definition.js";
import { AgentConfig } from "../../../shared/config/agent-config.js";
import { silentLogger } from "../../../shared/logger.js";
import { requestJson } from "../../../shared/nats/json.js";
import { ProbeHostResult, StartRecordedVmResult } from "../../../shared/schemas/agent-api.js";
import { agentSubjects } from "../../../shared/subjects.js";
import { startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";

// probe-host and start-recorded-vm on a real nats-server with sim agents: a peer's libvirt answers
// while its hypervisor is up and not once it is down; a recorded VM is defined and started once per
// request id, never over a domain of that name, never for a deposed leader.

let server: NatsServerHandle;
let nc: NatsConnection;
const fabric = new SimFabric();
const agents = new Map<string, AgentHandle>();
const sim = { cpus: 4, mem_mib: 16_384, start_delay_s: 0, vms: [{ name: "here1", mem_mib: 512 }] };
const cfg = (host: string) => AgentConfig.parse({ host, driver: "sim", interval: 0.2, heartbeat_interval: 0.2, nats: { servers: [server.url] }, sim });

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  for (const h of ["rx-a", "rx-b"]) agents.set(h, await startAgent({ config: cfg(h), logger: silentLogger(), fabric }));
});
afterAll(async () => {
  for (const a of agents.values()) await a.stop();
  await nc?.close();
  await server?.stop();
});

const probe = (from: string, host: string) =>
  requestJson(nc, agentSubjects(from).probeHost, { host, address: host }, { timeoutMs: 5000, data: ProbeHostResult });
const startVm = (on: string, body: object) => requestJson(nc, agentSubjects(on).startRecordedVm, body, { timeoutMs: 5000, data: StartRecordedVmResult });
const xml = (name: string, memMiB = 768, vcpus = 3) =>
  simDefinitionXml({ name, memMiB, vcpus }, { domainType: "kvm", arch: "x86_64", machine: "pc-q35-7.2", disks: [], interfaces: [] } as never);

describe("probe-host", () => {
  it("answers ok while the peer's hypervisor is up, and not once it is down", async () => {
    const up = await probe("rx-a", "rx-b");
    expect(up.ok && up.data).toMatchObject({ host: "rx-b", from: "rx-a", ok: true, timedOut: false });
    const hv = agents.get("rx-b")!.hypervisor as SimHypervisor;
    hv.stop();
    try {
      const down = await probe("rx-a", "rx-b");
      expect(down.ok && down.data).toMatchObject({ ok: false, detail: expect.stringContaining("Connection refused") });
    } finally {
      hv.start();
    }
  });

  it("refuses to probe its own host", async () => {
    const r = await probe("rx-a", "rx-a");
    expect(!r.ok && r.error.code).toBe("BAD_REQUEST");
  });
});

describe("start-recorded-vm", () => {
  const hv = () => agents.get("rx-a")!.hypervisor as SimHypervisor;

  it("defines and starts the VM once per request id", async () => {
    const body = { requestId: "r-1-aa", vm: "moved1", definition: xml("moved1"), epoch: 2 };
    const first = await startVm("rx-a", body);
    expect(first.ok && first.data).toEqual({ requestId: "r-1-aa", vm: "moved1", host: "rx-a", started: true, detail: expect.any(String) });
    expect(
      hv()
        .vms()
        .find((v) => v.name === "moved1"),
    ).toMatchObject({ state: "running", memMiB: 768, vcpus: 3 });
    // The same request again (a resend, a new leader with a newer epoch): the first answer, no second start.
    const again = await startVm("rx-a", { ...body, epoch: 3 });
    expect(again).toEqual(first);
    expect(
      hv()
        .vms()
        .filter((v) => v.name === "moved1"),
    ).toHaveLength(1);
    // The same id for another definition is a conflict.
    const other = await startVm("rx-a", { ...body, definition: xml("moved1", 1024) });
    expect(!other.ok && other.error.code).toBe("IDEMPOTENCY_CONFLICT");
  });

  it("refuses a name already defined here, changing nothing", async () => {
    const r = await startVm("rx-a", { requestId: "r-2-bb", vm: "here1", definition: xml("here1", 4096), epoch: 3 });
    expect(r.ok && r.data).toMatchObject({ started: false, detail: expect.stringContaining("already defined here") });
    expect(
      hv()
        .vms()
        .find((v) => v.name === "here1")?.memMiB,
    ).toBe(512);
  });

  it("refuses a definition of another name, and a deposed leader's command", async () => {
    const wrong = await startVm("rx-a", { requestId: "r-3-cc", vm: "moved2", definition: xml("moved3"), epoch: 3 });
    expect(!wrong.ok && wrong.error.code).toBe("BAD_REQUEST");
    const stale = await startVm("rx-a", { requestId: "r-4-dd", vm: "moved2", definition: xml("moved2"), epoch: 1 });
    expect(!stale.ok && stale.error.code).toBe("STALE_EPOCH");
    expect(hv().hasVm("moved2")).toBe(false);
    expect(hv().hasVm("moved3")).toBe(false);
  });
});
