import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { silentLogger } from "../../shared/logger.js";
import { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import { agentSubjects, orchestratorSubjects } from "../../shared/subjects.js";
import type { MigrateRequest, CheckIncomingRequest, RemoveDisksRequest } from "../../shared/schemas/agent-api.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import type { OrchestratorEndpoint, ReplyOf, RequestInput } from "../../shared/schemas/orchestrator-api.js";
import { startOrchestrator, type RunningOrchestrator } from "../../orchestrator/main.js";
import { createOrchestratorMetrics } from "../../orchestrator/shell/http/orchestrator-metrics.js";
import { callOrchestrator } from "../../cli/client.js";
import { main } from "../../cli/main.js";
import { loose, type LooseReply } from "../support/loose-reply.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { FakeAgent, hostFacts, vmFacts } from "./fake-agents.js";
import { waitUntil } from "./sim-cluster.js";

// Issue 15, the orchestrator's side: facts intake (published, and asked for when a heartbeat's
// digest differs), the destination's check before a move (a refusal is SKIPPED, costs no cooldown
// and marks the pair), pairs recorded from libvirt's failures and forgotten when facts change,
// copy-storage from the policy, the source copies removed only after a success the destination's
// inventory confirms, cpu-baseline, and `facts`. A real nats-server and the real orchestrator;
// the agents are faked over NATS (fake-agents.ts) so each test chooses what they answer.

const BEAT_MS = 100;

describe("facts, destination checks and local disks (orchestrator over NATS, fake agents)", () => {
  let server: NatsServerHandle;
  let orch: RunningOrchestrator;
  let nc: NatsConnection;
  const fleet = new Map<string, FakeAgent>();
  let a: FakeAgent, b: FakeAgent, c: FakeAgent;

  const api = async <E extends OrchestratorEndpoint>(endpoint: E, body: RequestInput<E>): Promise<LooseReply<ReplyOf<E>>> =>
    loose(await callOrchestrator(nc, { request_timeout: 10 }, endpoint, body));
  const record = async (requestId: string): Promise<MigrationRecord | undefined> =>
    (await api("history", { limit: 100 })).data.find((r) => r.requestId === requestId);
  const finished = async (requestId: string): Promise<MigrationRecord> => {
    await waitUntil(async () => (await record(requestId)) !== undefined, 10_000, `migration ${requestId} to finish`);
    return (await record(requestId))!;
  };
  const snapshot = async () => (await api("snapshot", {})).data;
  const requests = (agent: FakeAgent, endpoint: string) => agent.received.filter((r) => r.endpoint === endpoint).map((r) => r.body);

  beforeAll(async () => {
    server = await startNatsServer();
    a = await FakeAgent.start(server.url, "a", hostFacts(), fleet);
    b = await FakeAgent.start(server.url, "b", hostFacts(), fleet);
    c = await FakeAgent.start(server.url, "c", hostFacts(["avx512f"]), fleet);
    for (const [name, local] of [
      ["web-1", false],
      ["web-2", false],
      ["web-3", false],
      ["db-1", true],
    ] as const)
      a.vms.set(name, { name, memMiB: 1024, facts: vmFacts(name, local), listed: true });
    // b's facts messages are lost: the orchestrator must ask for them when its heartbeat's digest differs.
    b.publishFacts = false;
    b.getFactsDelayMs = 300;
    const config = OrchestratorConfig.parse({
      nats: { servers: [server.url], request_timeout: 1 },
      log_level: "silent",
      policy: { interval: 0.5, automation: "manual", stale_after: 5, local_disks: "copy", local_disk_source: "remove" },
    });
    orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(["a", "b", "c"].map((h) => [h, h])), instance: "facts-test" });
    nc = await connect({ servers: server.url, name: "operator" });
    for (const f of fleet.values()) {
      f.changed();
      f.beat(BEAT_MS);
    }
    await waitUntil(async () => (await api("status", {})).data.hosts.filter((h) => h.fresh && h.facts).length === 3, 15_000, "every host with facts");
  }, 30_000);

  afterAll(async () => {
    await nc?.close();
    await orch?.stop();
    for (const f of fleet.values()) await f.stop();
    await server?.stop();
  });

  it("keeps published facts, asks for missed ones by the heartbeat's digest, one request per host at a time", async () => {
    expect((await api("facts", { host: "a" })).data.facts?.digest).toBe(a.facts().digest);
    // b never published: its facts came from get-facts, asked because its heartbeat named a digest.
    expect((await api("facts", { host: "b" })).data.facts?.digest).toBe(b.facts().digest);
    expect(requests(b, "getFacts")).toHaveLength(1);
    expect(requests(a, "getFacts")).toHaveLength(0);

    // b's facts change, its facts message is lost again: the next heartbeats carry the new digest.
    b.hostFacts = hostFacts([], { networks: ["default", "storage-net"] });
    b.changed();
    await waitUntil(async () => (await api("facts", { host: "b" })).data.facts?.digest === b.facts().digest, 5000, "b's new facts");
    expect((await api("facts", { host: "b" })).data.facts?.hostFacts.networks).toEqual(["default", "storage-net"]);
    // Three heartbeats a request lasted: still one request per change, never two at once.
    expect(requests(b, "getFacts")).toHaveLength(2);
    expect(b.maxConcurrentGetFacts).toBe(1);
    const status = await api("status", {});
    expect(status.data.hosts.map((h) => [h.host, h.facts])).toEqual([
      ["a", true],
      ["b", true],
      ["c", true],
    ]);
    // The snapshot carries them: each host's, and each VM's from the host it runs on.
    const snap = await snapshot();
    expect(snap.hosts.find((h) => h.id === "c")?.facts?.cpu.features).toContain("avx512f");
    expect(snap.vms.find((v) => v.name === "db-1")?.facts?.disks[0]?.shared).toBe(false);
  });

  it("refuses facts one agent publishes for another host, and counts them", async () => {
    const forger = await connect({ servers: server.url });
    try {
      const forged = { ...b.facts(), host: "b", digest: "ffffffffffffffff" };
      forger.publish(agentSubjects("a").facts, JSON.stringify(forged));
      forger.publish(agentSubjects("c").facts, JSON.stringify({ v: 1, host: "c", junk: true }));
      await forger.flush();
      const view = orch.orchestrator.view;
      await waitUntil(() => view.facts().rejected >= 2, 5000, "the forged facts to be refused");
      expect(view.facts().rejected).toBe(2);
      expect((await api("facts", { host: "b" })).data.facts?.digest).toBe(b.facts().digest);
      expect((await api("facts", { host: "a" })).data.facts?.digest).toBe(a.facts().digest);
      const text = await createOrchestratorMetrics(orch.orchestrator, { processMetrics: false }).text();
      expect(text).toMatch(/^ballast_facts_rejected_total 2$/m);
      expect(text).toMatch(/^ballast_facts_hosts\{state="with"\} 3$/m);
      expect(text).toMatch(/^ballast_facts_hosts\{state="without"\} 0$/m);
    } finally {
      await forger.close();
    }
  });

  it("a destination's refusal is SKIPPED in its words, costs no cooldown, and marks the pair", async () => {
    c.checkIncoming = (req) => ({
      ok: true,
      data: {
        vm: req.vm,
        host: "c",
        ok: false,
        refusals: [
          {
            code: "CPU",
            message: "virsh hypervisor-cpu-compare: the CPU is incompatible with host CPU: Host CPU does not provide required features: vmx-tsc-scaling",
          },
        ],
      },
    });
    const m = await api("migrate", { vm: "web-1", to: "c", requestId: "chk-1" });
    expect(m.ok, JSON.stringify(m)).toBe(true);
    const r = await finished("chk-1");
    expect(r.state).toBe("SKIPPED");
    expect(r.error).toBe(
      "c refused: CPU: virsh hypervisor-cpu-compare: the CPU is incompatible with host CPU: Host CPU does not provide required features: vmx-tsc-scaling",
    );
    expect(r.checked).toMatchObject({ result: "refused", refusals: [{ code: "CPU" }] });
    // The check carried the VM's facts as its source published them.
    const asked = requests(c, "checkIncoming").at(-1) as CheckIncomingRequest;
    expect(asked).toMatchObject({ vm: "web-1", source: "a", memMiB: 1024, copyStorage: false, facts: vmFacts("web-1") });
    // Nothing was sent to the source.
    expect(requests(a, "migrate").some((x) => (x as MigrateRequest).vm === "web-1")).toBe(false);
    // Cooldowns come from the snapshot's history: a skipped check is not a move.
    const snap = await snapshot();
    expect(snap.history.filter((h) => h.vm === "web-1")).toEqual([]);
    expect(snap.incompatible).toEqual([expect.objectContaining({ vm: "web-1", destination: "c", error: expect.stringContaining("c refused: CPU:") })]);
    expect((await api("explain", { vm: "web-1" })).data.incompatible).toEqual([expect.objectContaining({ destination: "c" })]);
  });

  it("forgets the pair when the destination's facts change", async () => {
    c.hostFacts = hostFacts(["avx512f", "vmx-tsc-scaling"]);
    c.changed();
    await waitUntil(async () => (await snapshot()).incompatible.length === 0, 5000, "the pair to be forgotten");
    expect((await api("facts", { host: "c" })).data.facts?.hostFacts.cpu.features).toContain("vmx-tsc-scaling");
  });

  it("no answer to the check skips the move without marking the pair", async () => {
    c.checkIncoming = () => undefined;
    await api("migrate", { vm: "web-1", to: "c", requestId: "chk-2" });
    const r = await finished("chk-2");
    expect(r.state).toBe("SKIPPED");
    expect(r.error).toMatch(/^c did not answer check-incoming/);
    expect(r.checked?.result).toBe("no-answer");
    expect((await snapshot()).incompatible).toEqual([]);
    c.checkIncoming = (req) => ({ ok: true, data: { vm: req.vm, host: "c", ok: true, refusals: [] } });
  });

  it("records the pair when libvirt fails a migration for an incompatibility, and only then", async () => {
    const machine = "unsupported configuration: Emulator '/usr/bin/qemu-system-x86_64' does not support machine type 'pc-q35-9.0'";
    const transient = "operation failed: migration out job: unexpectedly failed";
    a.onMigrate = (req) => ({
      accept: { ok: true, data: { requestId: req.requestId, vm: req.vm, source: "a", destination: req.destination, accepted: true } },
      outcome: { ok: false, error: req.vm === "web-2" ? machine : transient },
    });
    await api("migrate", { vm: "web-2", to: "b", requestId: "fail-1" });
    await api("migrate", { vm: "web-3", to: "b", requestId: "fail-2" });
    expect((await finished("fail-1")).state).toBe("FAILED");
    expect((await finished("fail-2")).state).toBe("FAILED");
    const pairs = (await snapshot()).incompatible;
    expect(pairs.map((p) => [p.vm, p.destination, p.error])).toEqual([["web-2", "b", machine]]);
    const text = await createOrchestratorMetrics(orch.orchestrator, { processMetrics: false }).text();
    expect(text).toMatch(/^ballast_incompatible_pairs 1$/m);
    // ballast facts b lists it (b is its destination).
    expect((await api("facts", { host: "b" })).data.incompatible.map((p) => p.vm)).toEqual(["web-2"]);
  });

  it("copies local disks per policy, and removes the source copies only after success and the destination's inventory", async () => {
    a.onMigrate = (req) => ({
      accept: {
        ok: true,
        data: {
          requestId: req.requestId,
          vm: req.vm,
          source: "a",
          destination: req.destination,
          accepted: true,
          timeoutS: 137,
          ...(req.copyStorage ? { copyDisks: ["vda"], diskBytes: 1 << 28 } : {}),
          postcopy: false,
        },
      },
      outcome: { ok: true, stats: { durationMs: 40, postcopy: false } },
    });
    // b lists an arriving VM only when the test says so.
    b.listOnArrival = false;
    await api("migrate", { vm: "db-1", to: "b", requestId: "copy-1" });
    const r = await finished("copy-1");
    expect(r.state).toBe("SUCCEEDED");
    const sent = requests(a, "migrate").find((x) => (x as MigrateRequest).requestId === "copy-1") as MigrateRequest;
    expect(sent.copyStorage).toBe(true);
    expect((requests(b, "checkIncoming").at(-1) as CheckIncomingRequest).copyStorage).toBe(true);
    expect(r).toMatchObject({ copyStorage: true, timeoutS: 137, copyDisks: ["vda"], diskBytes: 1 << 28, postcopy: false, postcopySwitched: false });
    expect(r.sourceDisks).toEqual({ policy: "remove", paths: ["/var/lib/libvirt/images/db-1.qcow2"] });
    // The success is reported but b does not list the VM: several inventories later, nothing removed.
    const t0 = Date.now();
    await waitUntil(
      async () => ((await api("status", {})).data.hosts.find((h) => h.host === "b")?.lastMetrics ?? 0) > t0 + 3 * BEAT_MS,
      5000,
      "newer inventories of b",
    );
    expect(requests(a, "removeDisks")).toEqual([]);
    expect((await record("copy-1"))?.sourceDisks?.removed).toBeUndefined();

    b.list("db-1", true);
    await waitUntil(async () => (await record("copy-1"))?.sourceDisks?.removed !== undefined, 5000, "the source copies to be removed");
    expect(requests(a, "removeDisks")).toEqual([
      { requestId: "copy-1", vm: "db-1", paths: ["/var/lib/libvirt/images/db-1.qcow2"] } satisfies RemoveDisksRequest,
    ]);
    expect((await record("copy-1"))?.sourceDisks).toEqual({
      policy: "remove",
      paths: ["/var/lib/libvirt/images/db-1.qcow2"],
      removed: ["/var/lib/libvirt/images/db-1.qcow2"],
    });

    // A VM on shared storage: no copyStorage in the command, no source disks.
    b.listOnArrival = true;
    await api("migrate", { vm: "web-1", to: "b", requestId: "shared-1" });
    const s = await finished("shared-1");
    expect(s.state).toBe("SUCCEEDED");
    expect((requests(a, "migrate").find((x) => (x as MigrateRequest).requestId === "shared-1") as MigrateRequest).copyStorage).toBeUndefined();
    expect(s.sourceDisks).toBeUndefined();
    expect(requests(a, "removeDisks")).toHaveLength(1);
  });

  it("cpu-baseline: libvirt's from a group's agent, computed (and said so) when none answers", async () => {
    a.cpuBaseline = (cpus) => ({
      ok: true,
      data: {
        xml: `<cpu mode='custom' match='exact'><model fallback='forbid'>Skylake-Client-IBRS</model><!-- ${cpus.length} cpus --></cpu>`,
        model: "Skylake-Client-IBRS",
        features: ["pclmuldq"],
      },
    });
    c.cpuBaseline = () => ({ ok: false, error: { code: "HYPERVISOR_ERROR", message: "virsh hypervisor-cpu-baseline failed" } });
    const r = await api("cpuBaseline", {});
    expect(r.ok, JSON.stringify(r)).toBe(true);
    const groups = r.data.groups.map((g) => [g.kind, g.hosts, g.source, g.by ?? null]);
    expect(groups).toEqual([
      ["identical", ["a", "b"], "libvirt", "a"],
      ["identical", ["c"], "computed", null],
      ["arch-vendor", ["a", "b", "c"], "libvirt", "a"],
    ]);
    // a and b share one host-model CPU; the wide group sends the two distinct ones.
    expect(requests(a, "cpuBaseline").map((x) => (x as { cpus: string[] }).cpus.length)).toEqual([1, 2]);
    const computed = r.data.groups[1]!;
    expect(computed.features).toEqual(hostFacts(["avx512f", "vmx-tsc-scaling"]).cpu.features);
    expect(computed.usableModels).toEqual(["Haswell-noTSX", "Skylake-Client-IBRS", "qemu64"]);
    expect(computed.xml).toBeNull();
    expect(computed.note).toMatch(/not libvirt's baseline.*virsh hypervisor-cpu-baseline failed/);
    expect(r.data.groups[0]!.xml).toContain("<!-- 1 cpus -->");

    const none = await api("cpuBaseline", { hosts: ["c"] });
    expect(none.data.groups).toEqual([expect.objectContaining({ hosts: ["c"], source: "computed", model: null })]);
    const unknown = await api("cpuBaseline", { hosts: ["c", "nope"] });
    expect(unknown).toMatchObject({ ok: false, error: { code: "UNKNOWN_HOST" } });
  });

  it("facts: an unknown host and malformed requests get clear errors", async () => {
    expect(await api("facts", { host: "nope" })).toMatchObject({ ok: false, error: { code: "UNKNOWN_HOST", message: expect.stringContaining("nope") } });
    const raw = async (payload: string) =>
      JSON.parse(new TextDecoder().decode((await nc.request(orchestratorSubjects.facts, payload, { timeout: 5000 })).data)) as unknown;
    expect(await raw("{not json")).toMatchObject({ ok: false, error: { code: "BAD_JSON" } });
    expect(await raw("{}")).toMatchObject({ ok: false, error: { code: "BAD_REQUEST", message: expect.stringContaining("host") } });
    expect(await raw('{"host":"a","extra":1}')).toMatchObject({ ok: false, error: { code: "BAD_REQUEST" } });
    // The VMs that moved to b are in b's facts now (asked for by b's new digest: its facts messages are lost).
    await waitUntil(async () => (await api("facts", { host: "b" })).data.facts?.digest === b.facts().digest, 5000, "b's facts with its new VMs");
    expect((await api("facts", { host: "b" })).data.facts?.vms.map((v) => v.name)).toEqual(["db-1", "web-1"]);
  });

  it("the CLI says it in words: facts, cpu-baseline, history, explain", async () => {
    const run = async (...args: string[]) => {
      let out = "";
      let err = "";
      const code = await main([...args, "-s", server.url, "--timeout", "10"], { out: (x) => (out += x + "\n"), err: (x) => (err += x + "\n") });
      return { code, out, err };
    };
    const nope = await run("facts", "nope");
    expect(nope.code).toBe(1);
    expect(nope.err).toMatch(/^error UNKNOWN_HOST: host nope is not known/);
    const facts = await run("facts", "b");
    expect(facts.code).toBe(0);
    expect(facts.out).toMatch(/^b: facts of .* digest [0-9a-f]+$/m);
    expect(facts.out).toMatch(/^networks: default storage-net {3}bridges: br0$/m);
    expect(facts.out).toMatch(/^db-1 +yes +custom qemu64 +pc-i440fx-7\.2 +vda:local +default +-$/m);
    expect(facts.out).toMatch(/^web-2 +b +.*does not support machine type 'pc-q35-9\.0'$/m);
    const base = await run("cpu-baseline", "a", "b");
    expect(base.code).toBe(0);
    expect(base.out).toContain("hosts with identical CPUs: a, b\n  libvirt's baseline (computed on a)\n  model: Skylake-Client-IBRS\n  features: pclmuldq");
    expect(base.out).toContain("  paste into the domain definition:\n    <cpu mode='custom' match='exact'>");
    const computed = await run("cpu-baseline", "c");
    expect(computed.out).toContain("COMPUTED from the facts, not libvirt's baseline");
    const history = await run("history", "--vm", "db-1");
    expect(history.out).toContain("copied vda (256MiB); limit 137s; source copies removed: /var/lib/libvirt/images/db-1.qcow2");
    const skipped = await run("history", "--vm", "web-1");
    expect(skipped.out).toContain("c refused: CPU: virsh hypervisor-cpu-compare: the CPU is incompatible with host CPU");
    const explain = await run("explain", "web-2");
    expect(explain.out).toContain("facts (from a): migratable");
    expect(explain.out).toMatch(/^refused by b since .*: unsupported configuration: Emulator/m);
    const db = await run("explain", "db-1");
    expect(db.out).toContain("facts (from b): migratable; local disks (copied when it moves, per local_disks): vda /var/lib/libvirt/images/db-1.qcow2");
  });

  it("a restarted orchestrator asks every agent for its facts again by the heartbeats' digests", async () => {
    await orch.stop();
    const before = requests(a, "getFacts").length;
    const config = OrchestratorConfig.parse({
      nats: { servers: [server.url], request_timeout: 1 },
      log_level: "silent",
      policy: { interval: 0.5, automation: "manual", stale_after: 5 },
    });
    orch = await startOrchestrator({ config, log: silentLogger(), mapping: new Map(["a", "b", "c"].map((h) => [h, h])), instance: "facts-test-2" });
    await waitUntil(async () => (await api("status", {})).data.hosts.filter((h) => h.facts).length === 3, 10_000, "facts of every host again");
    expect(requests(a, "getFacts").length).toBe(before + 1);
    expect((await api("facts", { host: "a" })).data.facts?.digest).toBe(a.facts().digest);
  });
});
