import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { agentSubjects } from "../../shared/subjects.js";
import type { MigrationEvent } from "../../shared/schemas/agent-api.js";
import { startSimCluster, waitUntil, type SimCluster } from "./sim-cluster.js";
import { createOrchestratorMetrics } from "../../orchestrator/shell/http/orchestrator-metrics.js";

// Issue 14 item 1: an agent could forge another host's migration outcome. Here hv-b (a plain NATS
// connection publishing on its own subject, as a hostile agent with its own credentials can)
// reports the failure, then the success, of a migration that runs from hv-a; and hv-a itself
// reports an outcome naming another VM. None of it may count: the migration stays running, a new
// migrate of the VM is ALREADY_MIGRATING (a forged success used to free it), the real outcome
// from hv-a settles it, and the rejected events are counted.

const INTERVAL = 0.25;

describe("forged migration outcomes (issue 14 item 1)", () => {
  let c: SimCluster;
  let forger: NatsConnection;

  beforeAll(async () => {
    const host = (vms: { name: string; mem_mib: number }[]) => ({
      cpus: 8,
      mem_mib: 32768,
      // 2 GiB at 512 MiB/s: about 4 s, time to forge.
      migration_mibs: 512,
      start_delay_s: 0.05,
      vms: vms.map((v) => ({ ...v, vcpus: 1, cpu: 5 })),
    });
    c = await startSimCluster({
      interval: INTERVAL,
      hosts: { a: host([{ name: "big", mem_mib: 2048 }]), b: host([{ name: "b-1", mem_mib: 1024 }]), c: host([]) },
      policy: { interval: INTERVAL, automation: "manual", stale_after: 5, host_settle: 0.5 },
    });
    forger = await connect({ servers: c.server.url });
    await waitUntil(async () => (await c.api("status", {})).data.hosts.filter((h) => h.fresh).length === 3, 15_000, "all hosts to report");
  }, 60_000);

  afterAll(async () => {
    await forger?.close();
    await c?.stop();
  });

  it("counts only the outcome the migration's source agent publishes", async () => {
    const m = await c.api("migrate", { vm: "big", to: "c", requestId: "op-forged-1" });
    expect(m.ok, JSON.stringify(m)).toBe(true);
    await waitUntil(async () => (await c.api("status", {})).data.migrations.ongoing.some((r) => r.requestId === "op-forged-1"), 5000, "the migration to run");

    const event = (type: MigrationEvent["type"], over: Partial<MigrationEvent> = {}): MigrationEvent => ({
      v: 1,
      type,
      ts: Date.now(),
      requestId: "op-forged-1",
      vm: "big",
      source: "b",
      destination: "c",
      ...over,
    });
    const publish = (host: string, ev: MigrationEvent) => forger.publish(agentSubjects(host).events, JSON.stringify(ev));
    // hv-b speaks for itself (source b, on its own subject): bus-intake lets it through.
    publish("b", event("migration.failed", { error: "forged by hv-b" }));
    publish("b", event("migration.progress", { progress: 99 }));
    publish("b", event("migration.succeeded", { stats: { durationMs: 1, downtimeMs: 1, dataTotalBytes: 1 } }));
    // The real source, naming another VM and another destination.
    publish("a", event("migration.failed", { source: "a", vm: "b-1", error: "confused hv-a" }));
    publish("a", event("migration.succeeded", { source: "a", destination: "b" }));
    await forger.flush();

    const finished = async () => (await c.api("history", { vm: "big" })).data.find((r) => r.requestId === "op-forged-1");
    const view = c.orch.orchestrator.view as Partial<typeof c.orch.orchestrator.view>;
    await waitUntil(async () => (view.rejectedOutcomes?.() ?? 0) >= 5 || (await finished()) !== undefined, 5000, "the forged events to be handled");
    // Not settled by any forgery: still running, and the VM still busy.
    expect(await finished()).toBeUndefined();
    const ongoing = (await c.api("status", {})).data.migrations.ongoing.find((r) => r.requestId === "op-forged-1");
    expect(ongoing?.progress).not.toBe(99);
    const again = await c.api("migrate", { vm: "big", to: "b" });
    expect(again).toMatchObject({ ok: false, error: { code: "ALREADY_MIGRATING" } });
    expect(view.rejectedOutcomes?.()).toBe(5);

    // hv-a's real outcome settles it.
    await waitUntil(async () => (await finished()) !== undefined, 20_000, "the real outcome");
    const done = await finished();
    expect(done?.state).toBe("SUCCEEDED");
    expect(done?.error).toBeUndefined();
    expect(c.fabric.whereIs("big")).toEqual(["c"]);
    expect(view.rejectedOutcomes?.()).toBe(5);
    // Where operators look: the Prometheus counter.
    const metrics = createOrchestratorMetrics(c.orch.orchestrator, { processMetrics: false });
    expect(await metrics.text()).toMatch(/^ballast_migration_events_rejected_total 5$/m);
  }, 40_000);
});
