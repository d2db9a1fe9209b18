import { connect, type NatsConnection } from "@nats-io/transport-node";
import { collect as collectOn, until } from "./support/collect.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type AgentHandle } from "../../agent/nats-agent.js";
import { SimFabric } from "../../agent/sim/sim-fabric.js";
import type { SimHypervisor } from "../../agent/sim/sim-hypervisor.js";
import { AgentConfig } from "../../shared/config/agent-config.js";
import { silentLogger } from "../../shared/logger.js";
import { requestJson } from "../../shared/nats/json.js";
import { AgentStatus, MigrateAccepted, MigrationEvent, Pong } from "../../shared/schemas/agent-api.js";
import { Heartbeat, HostMetrics } from "../../shared/schemas/host-metrics.js";
import { agentSubjects } from "../../shared/subjects.js";
import { runAgent } from "../../agent/main.js";
import type { Hypervisor } from "../../agent/ports/hypervisor.js";
import { HypervisorError } from "../../shared/errors.js";
import { startNatsServer, type NatsServerHandle } from "../support/nats-server.js";
import { unusedHypervisorMethods } from "./support/unused-hypervisor.js";

// Two sim agents on a real nats-server, talking to each other through one SimFabric.

let server: NatsServerHandle;
let nc: NatsConnection;
const fabric = new SimFabric();
const agents: AgentHandle[] = [];
const A = agentSubjects("sim-a");

const cfg = (host: string, vms: Array<{ name: string; mem_mib: number; cpu: number }>) =>
  AgentConfig.parse({
    host,
    driver: "sim",
    interval: 0.2,
    heartbeat_interval: 0.1,
    load_source: "domains",
    nats: { servers: [server.url] },
    sim: { cpus: 4, mem_mib: 16_384, migration_mibs: 1000, start_delay_s: 0.05, vms },
  });

const collect = <T>(subject: string, schema: { parse(v: unknown): T }) => collectOn(nc, subject, schema);

const simOf = (a: AgentHandle) => a.hypervisor as SimHypervisor;
const request = (subject: string, body: unknown) => requestJson(nc, subject, body, { timeoutMs: 3000 });

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connect({ servers: server.url });
  agents.push(
    await startAgent({
      config: cfg("sim-a", [
        { name: "web1", mem_mib: 512, cpu: 100 },
        { name: "db1", mem_mib: 512, cpu: 50 },
      ]),
      logger: silentLogger(),
      fabric,
    }),
  );
  agents.push(await startAgent({ config: cfg("sim-b", []), logger: silentLogger(), fabric }));
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await nc?.close();
  await server?.stop();
});

describe("agent on NATS (sim driver, real nats-server)", () => {
  it("publishes valid metrics and heartbeats", async () => {
    const metrics = collect(A.metrics, HostMetrics);
    const beats = collect(A.heartbeat, Heartbeat);
    await until(() => metrics.got.length >= 2 && beats.got.length >= 2);
    metrics.sub.unsubscribe();
    beats.sub.unsubscribe();
    const m = metrics.got.at(-1)!;
    expect(m).toMatchObject({ host: "sim-a", cpus: 4, loadSource: "domains", memTotalMiB: 16_384 });
    expect(m.vms.map((v) => v.name).sort()).toEqual(["db1", "web1"]);
    // Per-VM CPU from cpu.time deltas; host load = (100 + 50) / 4 cores.
    // cpu.time and the wall clock of the delta are read at slightly different moments, so a late
    // timer on a busy machine shows as a percent or two either way.
    expect(Math.abs(m.vms.find((v) => v.name === "web1")!.cpuPercent! - 100)).toBeLessThan(3);
    expect(Math.abs(m.cpuPercent - 37.5)).toBeLessThan(1);
    expect(metrics.got[1]!.seq).toBeGreaterThan(metrics.got[0]!.seq);
    expect(beats.got.at(-1)).toMatchObject({ host: "sim-a", collectOk: true, migrationsRunning: 0 });
  });

  it("is discoverable with $SRV.PING and answers ping and status", async () => {
    const seen: Array<{ name: string; metadata?: Record<string, string> }> = [];
    const inbox = nc.subscribe("_INBOX.srvping", { callback: (_e, m) => void seen.push(m.json()) });
    nc.publish("$SRV.PING.ballast-agent", "", { reply: "_INBOX.srvping" });
    await until(() => seen.length >= 2);
    inbox.unsubscribe();
    expect(seen.map((s) => s.metadata?.host).sort()).toEqual(["sim-a", "sim-b"]);
    expect(seen.every((s) => s.name === "ballast-agent" && s.metadata?.driver === "sim")).toBe(true);

    const pong = await request(A.ping, {});
    expect(pong.ok && Pong.parse(pong.data)).toMatchObject({ host: "sim-a", driver: "sim" });
    const status = await request(A.status, {});
    expect(status.ok).toBe(true);
    if (status.ok) expect(AgentStatus.parse(status.data)).toMatchObject({ driver: "sim", migrations: [] });
  });

  it("migrates a VM between two agents; events started → succeeded with stats", async () => {
    const events = collect(A.events, MigrationEvent);
    const r = await request(A.migrate, { requestId: "mig-1", vm: "web1", destination: "sim-b", destinationAddress: "sim-b" });
    // Its time limit scales with its memory: 120 s + 4 × 512 MiB / 100 MiB/s (the defaults), rounded up.
    expect(r).toEqual({
      ok: true,
      data: MigrateAccepted.parse({ requestId: "mig-1", vm: "web1", source: "sim-a", destination: "sim-b", accepted: true, timeoutS: 141 }),
    });
    await until(() => events.got.some((e) => e.type === "migration.succeeded" || e.type === "migration.failed"));
    events.sub.unsubscribe();
    expect(events.got[0]?.type).toBe("migration.started");
    const done = events.got.at(-1)!;
    expect(done).toMatchObject({ type: "migration.succeeded", requestId: "mig-1", vm: "web1", source: "sim-a", destination: "sim-b" });
    expect(done.stats?.durationMs).toBeGreaterThan(0);
    expect(done.stats?.dataTotalBytes).toBe(512 * 1024 * 1024);
    expect(simOf(agents[0]!).hasVm("web1")).toBe(false);
    expect(fabric.whereIs("web1")).toEqual(["sim-b"]);
    // The destination's metrics show it (first sample after arrival has no CPU figure yet).
    const m = await agents[1]!.collectNow();
    expect(m.vms.map((v) => v.name)).toEqual(["web1"]);
    const status = await request(A.status, {});
    if (!status.ok) throw new Error("status failed");
    expect(AgentStatus.parse(status.data).migrations).toMatchObject([{ requestId: "mig-1", phase: "succeeded" }]);
  });

  it("answers a repeated requestId with the first answer and runs once", async () => {
    const events = collect(A.events, MigrationEvent);
    const body = { requestId: "mig-2", vm: "db1", destination: "sim-b", destinationAddress: "sim-b" };
    const first = await request(A.migrate, body);
    const again = await request(A.migrate, body);
    expect(first.ok).toBe(true);
    expect(again).toEqual(first);
    await until(() => events.got.some((e) => e.type === "migration.succeeded"));
    const third = await request(A.migrate, body);
    expect(third).toEqual(first);
    await new Promise((r) => setTimeout(r, 200));
    events.sub.unsubscribe();
    expect(events.got.filter((e) => e.type === "migration.started")).toHaveLength(1);
    expect(fabric.whereIs("db1")).toEqual(["sim-b"]);
  });

  // Issue 14, item 2. Before: `ok: true` with the first answer, for a request about another VM.
  it("refuses a requestId reused for a different request with IDEMPOTENCY_CONFLICT (409), naming what differs", async () => {
    const events = collect(A.events, MigrationEvent);
    const m = await nc.request(A.migrate, JSON.stringify({ requestId: "mig-2", vm: "web1", destination: "sim-b", destinationAddress: "sim-b" }), {
      timeout: 3000,
    });
    expect(m.json()).toEqual({
      ok: false,
      error: {
        code: "IDEMPOTENCY_CONFLICT",
        message: 'request id mig-2 was already used for a different migrate request (vm was "db1", now "web1"); send a new id for a new request',
        details: { requestId: "mig-2", differences: { vm: { was: "db1", now: "web1" } } },
      },
    });
    expect(m.headers?.get("Nats-Service-Error-Code")).toBe("409");
    await new Promise((r) => setTimeout(r, 200));
    events.sub.unsubscribe();
    expect(events.got).toEqual([]);
  });

  it("refuses bad requests with a clear error and changes nothing", async () => {
    const B = agentSubjects("sim-b");
    const before = JSON.stringify(
      simOf(agents[1]!)
        .vms()
        .map((v) => v.name),
    );
    const events = collect(B.events, MigrationEvent);
    const raw = async (data: string) => {
      const m = await nc.request(B.migrate, data, { timeout: 3000 });
      return { body: m.json<{ ok: boolean; error?: { code: string; message: string } }>(), header: m.headers?.get("Nats-Service-Error-Code") };
    };
    const malformed = await raw("{not json");
    expect(malformed.body).toMatchObject({ ok: false, error: { code: "BAD_JSON" } });
    expect(malformed.header).toBe("400");
    const cases: Array<[unknown, string, RegExp]> = [
      [{ vm: "web1" }, "BAD_REQUEST", /requestId/],
      [{ requestId: "h1", vm: "web1; rm -rf /", destination: "sim-a", destinationAddress: "sim-a" }, "BAD_REQUEST", /vm: VM name/],
      [{ requestId: "h2", vm: "web1", destination: "../../etc", destinationAddress: "sim-a" }, "BAD_REQUEST", /destination/],
      [{ requestId: "h3", vm: "web1", destination: "sim-a", destinationAddress: '"; rm -rf /' }, "BAD_REQUEST", /destinationAddress/],
      [{ requestId: "h4", vm: "web1", destination: "sim-a", destinationAddress: "sim-a", extra: 1 }, "BAD_REQUEST", /extra|Unrecognized/],
      [{ requestId: "bad id!", vm: "web1", destination: "sim-a", destinationAddress: "sim-a" }, "BAD_REQUEST", /requestId/],
      [{ requestId: "h5", vm: "ghost", destination: "sim-a", destinationAddress: "sim-a" }, "UNKNOWN_VM", /ghost/],
      [{ requestId: "h6", vm: "web1", destination: "sim-b", destinationAddress: "sim-b" }, "SAME_HOST", /sim-b/],
    ];
    for (const [body, code, text] of cases) {
      const r = await request(B.migrate, body);
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.error.code).toBe(code);
        expect(r.error.message).toMatch(text);
      }
    }
    const abort = await request(B.abort, {});
    expect(abort).toMatchObject({ ok: false, error: { code: "BAD_REQUEST", message: expect.stringMatching(/give vm or requestId/) } });
    await new Promise((r) => setTimeout(r, 100));
    events.sub.unsubscribe();
    expect(events.got).toEqual([]);
    expect(
      JSON.stringify(
        simOf(agents[1]!)
          .vms()
          .map((v) => v.name),
      ),
    ).toBe(before);
    expect(fabric.whereIs("web1")).toEqual(["sim-b"]);
    const st = await request(B.status, {});
    expect(st.ok && AgentStatus.parse(st.data).migrations).toEqual([]);
  });

  it("reports a failed migration with libvirt-like text when the destination is unreachable", async () => {
    const B = agentSubjects("sim-b");
    const events = collect(B.events, MigrationEvent);
    const r = await request(B.migrate, { requestId: "mig-3", vm: "web1", destination: "sim-z", destinationAddress: "10.1.2.3" });
    expect(r.ok).toBe(true);
    await until(() => events.got.some((e) => e.type === "migration.failed"));
    events.sub.unsubscribe();
    expect(events.got.at(-1)?.error).toBe("unable to connect to server at '10.1.2.3:16509': Connection refused");
    expect(fabric.whereIs("web1")).toEqual(["sim-b"]);
  });

  it("keeps sending heartbeats with collectOk false when collection fails, and never overlaps collections", async () => {
    let calls = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const broken: Hypervisor = {
      name: "broken",
      async listDomains() {
        calls++;
        await gate;
        throw new HypervisorError("Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory");
      },
      migrate: () => Promise.reject(new Error("unused")),
      abortMigration: async () => {},
      inspectMigration: () => Promise.reject(new Error("unused")),
      ...unusedHypervisorMethods,
    };
    const config = AgentConfig.parse({ host: "broken-1", interval: 0.1, heartbeat_interval: 0.1, nats: { servers: [server.url] } });
    const agent = await startAgent({
      config,
      logger: silentLogger(),
      hypervisor: broken,
      metricsSource: { sample: async () => ({ cpus: 1, cpuPercent: 0, load1: 0, load5: 0, load15: 0, memTotalMiB: 1, memAvailableMiB: 1 }) },
    });
    try {
      const beats = collect(agentSubjects("broken-1").heartbeat, Heartbeat);
      // While the first collection hangs, the loop and direct callers join it instead of starting more.
      const p1 = agent.collectNow().catch((e: Error) => e);
      const p2 = agent.collectNow().catch((e: Error) => e);
      await until(() => beats.got.length >= 2);
      expect(calls).toBe(1);
      release();
      expect((await p1) as Error).toBe(await p2);
      await until(() => beats.got.some((b) => !b.collectOk));
      beats.sub.unsubscribe();
      expect(beats.got.find((b) => !b.collectOk)?.collectError).toMatch(/libvirt-sock/);
    } finally {
      await agent.stop();
    }
  });

  it("runAgent exits with 2 on an invalid config, naming the key", async () => {
    const chunks: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((c: string) => (chunks.push(String(c)), true)) as typeof process.stderr.write;
    try {
      expect(await runAgent(undefined, { BALLAST_MIGRATION__MAX_CONCURRENT: "0", BALLAST_HOST: "x" })).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(chunks.join("")).toMatch(/migration\.max_concurrent/);
  });
});
