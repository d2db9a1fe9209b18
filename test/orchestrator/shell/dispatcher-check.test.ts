import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostMetrics } from "../../support/host-metrics.js";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Dispatcher, type DispatchFacts } from "../../../orchestrator/shell/dispatcher.js";
import { ClusterState } from "../../../orchestrator/shell/cluster-state.js";
import { MigrationTracker } from "../../../orchestrator/shell/migration-tracker.js";
import { FactsStore } from "../../../orchestrator/shell/facts-store.js";
import { defaultPolicy } from "../../../shared/config/policy.js";
import { silentLogger } from "../../../shared/logger.js";
import { agentSubjects } from "../../../shared/subjects.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { HostMetrics } from "../../../shared/schemas/host-metrics.js";
import { startNatsServer, type NatsServerHandle } from "../../support/nats-server.js";
import { hostFacts, vmFacts } from "../../integration/fake-agents.js";

// The destination check against agents that cannot answer it, on a real nats-server: an agent
// older than facts (nobody serves its check-incoming, it publishes no facts) cannot check, and the
// move goes ahead unchecked, said once in the log; an agent that publishes facts but does not
// answer is not trusted, and the move is skipped without marking the pair.

const policy = {
  ...defaultPolicy(),
  stale_after: 30,
  local_disks: "copy" as const,
  max_concurrent_total: 4,
  max_concurrent_per_source: 4,
  max_concurrent_per_destination: 4,
};
const metrics = (host: string, vms: string[]): HostMetrics => hostMetrics(host, vms, { availMiB: 30000, vmMemMiB: 1024 });
const rec = (id: string, destination: string, vm = "v1"): MigrationRecord => ({
  requestId: id,
  vm,
  source: "a",
  destination,
  strategy: "manual",
  code: "MANUAL",
  reason: "r",
  state: "PENDING",
  queuedAt: 0,
  memMiB: 1024,
  cpuPercent: 5,
});

describe("Dispatcher's destination check with agents that cannot answer it", () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  const sent: { requestId: string; copyStorage?: boolean }[] = [];

  beforeAll(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url });
    nc.subscribe(agentSubjects("a").migrate, {
      callback: (_e, m) => {
        const b = JSON.parse(new TextDecoder().decode(m.data)) as { requestId: string; vm: string; destination: string; copyStorage?: boolean };
        sent.push({ requestId: b.requestId, ...(b.copyStorage !== undefined ? { copyStorage: b.copyStorage } : {}) });
        m.respond(JSON.stringify({ ok: true, data: { requestId: b.requestId, vm: b.vm, source: "a", destination: b.destination, accepted: true } }));
      },
    });
    await nc.flush();
  });

  afterAll(async () => {
    await nc?.close();
    await server?.stop();
  });

  const setup = (publishes: boolean) => {
    const now = 10_000;
    const state = new ClusterState();
    for (const [h, vms] of [
      ["a", ["v1", "v2", "v3"]],
      ["old", []],
      ["slow", []],
    ] as const)
      state.ingestMetrics(metrics(h, [...vms]), now, policy);
    const facts = new FactsStore();
    const vms = ["v1", "v2", "v3"].map((name) => ({ name, ...vmFacts(name, true) }));
    facts.ingest({ v: 1, host: "a", ts: 1, digest: "0000aaaa", hostFacts: hostFacts(), vms }, now);
    const pairs: unknown[] = [];
    const f: DispatchFacts = { view: facts, publishesFacts: () => publishes, incompatible: (p) => void pairs.push(p) };
    const tracker = new MigrationTracker(100);
    const logged: string[] = [];
    const log = silentLogger();
    log.warn = ((_o: unknown, msg: string) => void logged.push(msg)) as typeof log.warn;
    const d = new Dispatcher(
      nc,
      state,
      tracker,
      {
        policy: () => policy,
        mapping: () =>
          new Map([
            ["old", "10.0.0.9"],
            ["slow", "10.0.0.8"],
          ]),
        maintenance: () => new Set(),
        paused: () => false,
        epoch: () => undefined,
        requestTimeoutMs: 500,
        facts: f,
      },
      { now: () => now },
      log,
    );
    return { d, tracker, pairs, logged };
  };

  it("an older destination agent (no facts, no check-incoming): unchecked, sent, said once", async () => {
    const { d, tracker, pairs, logged } = setup(false);
    for (const id of ["old-1", "old-2"]) {
      const r = rec(id, "old");
      tracker.enqueue(r);
      await d.pump();
      expect(r.state).toBe("ONGOING");
      expect(r.checked).toMatchObject({ result: "not-checked", note: expect.stringContaining("older agent") });
      tracker.finish(r, "SUCCEEDED", 10_000);
    }
    expect(sent.filter((s) => s.requestId.startsWith("old-"))).toEqual([
      { requestId: "old-1", copyStorage: true },
      { requestId: "old-2", copyStorage: true },
    ]);
    expect(logged.filter((m) => m.includes("check-incoming"))).toHaveLength(1);
    expect(pairs).toEqual([]);
  });

  it("a destination that publishes facts but does not serve the check: skipped, no pair", async () => {
    const { d, tracker, pairs } = setup(true);
    const r = rec("new-1", "old");
    tracker.enqueue(r);
    await d.pump();
    expect(r.state).toBe("SKIPPED");
    expect(r.error).toMatch(/^old did not answer check-incoming: .*no responders/);
    expect(sent.some((s) => s.requestId === "new-1")).toBe(false);
    expect(pairs).toEqual([]);
  });

  it("checks the moves that can start now at once, not one after another", async () => {
    let running = 0;
    let most = 0;
    const sub = nc.subscribe(agentSubjects("slow").checkIncoming, {
      callback: (_e, m) => {
        running++;
        most = Math.max(most, running);
        const b = JSON.parse(new TextDecoder().decode(m.data)) as { vm: string };
        setTimeout(() => {
          running--;
          m.respond(JSON.stringify({ ok: true, data: { vm: b.vm, host: "slow", ok: true, refusals: [] } }));
        }, 200);
      },
    });
    await nc.flush();
    const { d, tracker } = setup(true);
    const rs = ["v1", "v2", "v3"].map((vm, i) => rec(`par-${i}`, "slow", vm));
    for (const r of rs) tracker.enqueue(r);
    await d.pump();
    expect(rs.map((r) => [r.state, r.checked?.result])).toEqual([
      ["ONGOING", "ok"],
      ["ONGOING", "ok"],
      ["ONGOING", "ok"],
    ]);
    expect(most).toBe(3);
    sub.unsubscribe();
  });
});
