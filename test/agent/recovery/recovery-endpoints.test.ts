import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../../agent/nats-agent.js";
import { SimFabric } from "../../../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../../../agent/sim/sim-hypervisor.js";
import { simDefinitionXml } from "../../../agent/sim/sim-definition.js";
import { AgentConfig } from "../../../shared/config/agent-config.js";
import { silentLogger } from "../../../shared/logger.js";
import { requestJson } from "../../../shared/nats/json.js";
import { GuestStateResult, PauseVmResult, ProbeHostResult, StartRecordedVmResult } from "../../../shared/schemas/agent-api.js";
import { agentSubjects } from "../../../shared/subjects.js";
import { startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";

// probe-host, start-recorded-vm, guest-state and pause-vm on a real nats-server with sim agents: a
// peer's libvirt answers while its hypervisor is up and not once it is down; a recorded VM is defined
// and started once per request id, never over a domain of that name, never for a deposed leader;
// bad input (malformed JSON, the wrong schema, a hostile VM name) gets a clear error and changes nothing.

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
/** Sends a body as it is (malformed JSON included) and returns the reply envelope. */
const raw = async (subject: string, body: string): Promise<{ ok: boolean; error?: { code: string; message: string }; data?: unknown }> =>
  JSON.parse(new TextDecoder().decode((await nc.request(subject, body, { timeout: 5000 })).data)) as never;
/** VM names that must never reach libvirt: options, shell syntax, paths, control characters, oversize. */
const HOSTILE_NAMES = ["; rm -rf /", "$(touch /tmp/ballast-pwned)", "--all", "-domain", "../../etc/passwd", "a b", "a\nb", "", "x".repeat(201), "*", "a>b"];
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

  it("waits as long as the request's timeoutS says (the orchestrator's failure_probe_timeout), 1.5 s without it", async () => {
    const hv = agents.get("rx-a")!.hypervisor as SimHypervisor;
    const seen: (number | undefined)[] = [];
    const own = hv.probeHost.bind(hv);
    hv.probeHost = (address: string, timeoutMs?: number) => {
      seen.push(timeoutMs);
      return own(address);
    };
    try {
      const r = await requestJson(
        nc,
        agentSubjects("rx-a").probeHost,
        { host: "rx-b", address: "rx-b", timeoutS: 4 },
        { timeoutMs: 5000, data: ProbeHostResult },
      );
      expect(r.ok && r.data.ok).toBe(true);
      await probe("rx-a", "rx-b");
      const bad = await raw(agentSubjects("rx-a").probeHost, JSON.stringify({ host: "rx-b", address: "rx-b", timeoutS: 0 }));
      expect(bad.error?.code).toBe("BAD_REQUEST");
    } finally {
      hv.probeHost = own;
    }
    expect(seen).toEqual([4000, 1500]);
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

describe("guest-state", () => {
  const hv = () => agents.get("rx-b")!.hypervisor as SimHypervisor;
  const ask = (vm: string) => requestJson(nc, agentSubjects("rx-b").guestState, { vm }, { timeoutMs: 5000, data: GuestStateResult });

  it("answers libvirt's state of a VM defined here; the sim has no guest agent channel (none)", async () => {
    const r = await ask("here1");
    expect(r.ok && r.data).toEqual({
      vm: "here1",
      host: "rx-b",
      state: "running",
      guestAgent: "none",
      detail: expect.stringContaining("no guest agent channel"),
    });
    hv().setVmState("here1", "shutoff");
    try {
      const off = await ask("here1");
      expect(off.ok && off.data).toMatchObject({ state: "shut off", guestAgent: "none" });
    } finally {
      hv().setVmState("here1", "running");
    }
  });

  it("a VM not defined here is UNKNOWN_VM", async () => {
    const r = await ask("elsewhere1");
    expect(!r.ok && r.error).toMatchObject({ code: "UNKNOWN_VM", message: expect.stringContaining("elsewhere1") });
  });

  it("refuses malformed JSON, the wrong schema and hostile names with a clear error", async () => {
    const subject = agentSubjects("rx-b").guestState;
    const before = hv().vms();
    const bad = await raw(subject, '{"vm": "here1"');
    expect(bad).toMatchObject({ ok: false, error: { code: "BAD_JSON", message: expect.stringContaining("not valid JSON") } });
    for (const body of [{}, { vm: 5 }, { vm: "here1", extra: true }, ["here1"], "here1", { vm: null }]) {
      const r = await raw(subject, JSON.stringify(body));
      expect(r, JSON.stringify(body)).toMatchObject({
        ok: false,
        error: { code: "BAD_REQUEST", message: expect.stringContaining("invalid request for guestState") },
      });
    }
    for (const vm of HOSTILE_NAMES) {
      const r = await raw(subject, JSON.stringify({ vm }));
      expect(r, vm).toMatchObject({ ok: false, error: { code: "BAD_REQUEST", message: expect.stringMatching(/vm/) } });
    }
    expect(hv().vms()).toEqual(before);
  });
});

describe("pause-vm, bad input", () => {
  const hv = () => agents.get("rx-b")!.hypervisor as SimHypervisor;
  const subject = () => agentSubjects("rx-b").pauseVm;

  it("refuses malformed JSON, the wrong schema and hostile names with a clear error, pausing nothing", async () => {
    const before = hv().vms();
    expect(before.find((v) => v.name === "here1")?.state).toBe("running");
    const bad = await raw(subject(), '{"vm": "here1", "recordHost": "rx-a", "epoch": ');
    expect(bad).toMatchObject({ ok: false, error: { code: "BAD_JSON", message: expect.stringContaining("not valid JSON") } });
    for (const body of [
      {},
      { vm: "here1", recordHost: "rx-a" }, // no epoch
      { vm: "here1", recordHost: "rx-a", epoch: -1 },
      { vm: "here1", recordHost: "rx-a", epoch: "1" },
      { vm: "here1", recordHost: "rx-a", epoch: 1.5 },
      { vm: "here1", recordHost: "rx.a", epoch: 1 }, // a host id is one subject token
      { vm: "here1", recordHost: "rx-a", epoch: 1, destroy: true },
      ["here1"],
    ]) {
      const r = await raw(subject(), JSON.stringify(body));
      expect(r, JSON.stringify(body)).toMatchObject({
        ok: false,
        error: { code: "BAD_REQUEST", message: expect.stringContaining("invalid request for pauseVm") },
      });
    }
    // A hostile name with an epoch far ahead: refused before the epoch is looked at.
    for (const vm of HOSTILE_NAMES) {
      const r = await raw(subject(), JSON.stringify({ vm, recordHost: "rx-a", epoch: 1_000_000 }));
      expect(r, vm).toMatchObject({ ok: false, error: { code: "BAD_REQUEST", message: expect.stringMatching(/vm/) } });
    }
    expect(hv().vms()).toEqual(before);
    // Nothing changed, the newest epoch included: a pause under epoch 1 is still carried out.
    const ok = await requestJson(nc, subject(), { vm: "here1", recordHost: "rx-a", epoch: 1 }, { timeoutMs: 5000, data: PauseVmResult });
    expect(ok.ok && ok.data).toMatchObject({ vm: "here1", host: "rx-b", paused: true, state: "paused" });
    const guest = await requestJson(nc, agentSubjects("rx-b").guestState, { vm: "here1" }, { timeoutMs: 5000, data: GuestStateResult });
    expect(guest.ok && guest.data).toMatchObject({ state: "paused" });
  });
});
