import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startHttpCluster, waitUntil, type HttpCluster } from "./http-cluster.js";
import { parsePromText, sampleValue, scrape, type Sample } from "./prom-text.js";
import { BALLAST_VERSION } from "../../../../shared/version.js";

// GET /metrics of a real running stack (nats-server, sim agents, orchestrator, each daemon with
// http.listen set): the series exist, and the right ones move when a VM migrates.

const INTERVAL = 0.25;

describe("Prometheus metrics over HTTP, from a running sim cluster", () => {
  let c: HttpCluster;

  beforeAll(async () => {
    const vm = (name: string) => ({ name, vcpus: 2, mem_mib: 2048, cpu: 20 });
    c = await startHttpCluster({
      interval: INTERVAL,
      allowActions: false,
      hosts: {
        a: { cpus: 8, mem_mib: 32768, migration_mibs: 4000, start_delay_s: 0.05, vms: [vm("a-1"), vm("a-2")] },
        b: { cpus: 8, mem_mib: 32768, migration_mibs: 4000, start_delay_s: 0.05, vms: [vm("b-1")] },
      },
      // Nothing moves by itself: only the operator's migrate below.
      policy: {
        interval: INTERVAL,
        stale_after: 2,
        max_over: 600,
        load_threshold: 95,
        load_target: 90,
        vm_cooldown: 600,
        host_settle: 0.5,
        mem_reserve_mib: 512,
      },
    });
    await waitUntil(async () => (await c.api("status", {})).data.hosts.filter((h) => h.fresh).length === 2, 10_000, "both hosts to report");
  });

  afterAll(async () => {
    await c?.stop();
  });

  const v = (s: Sample[], name: string, labels: Record<string, string> = {}) => sampleValue(s, name, labels);

  it("exposes host, queue, plan and cycle series with values that match the cluster", async () => {
    await waitUntil(async () => (v(await scrape(c.url), "ballast_cycles_total") ?? 0) >= 2, 10_000, "two cycles");
    const s = await scrape(c.url);
    expect(v(s, "ballast_host_running_vms", { host: "a" })).toBe(2);
    expect(v(s, "ballast_host_running_vms", { host: "b" })).toBe(1);
    expect(v(s, "ballast_host_vms", { host: "a" })).toBe(2);
    expect(v(s, "ballast_host_fresh", { host: "a" })).toBe(1);
    expect(v(s, "ballast_host_metrics_age_seconds", { host: "a" })).toBeLessThan(2);
    // 2 VMs at 20 % of one core on 8 cores = 5 %.
    expect(v(s, "ballast_host_cpu_percent", { host: "a" })).toBeCloseTo(5, 0);
    expect(v(s, "ballast_host_memory_percent", { host: "a" })).toBeGreaterThan(0);
    expect(v(s, "ballast_migration_queue_length")).toBe(0);
    expect(v(s, "ballast_migrations_in_flight")).toBe(0);
    expect(v(s, "ballast_paused")).toBe(0);
    expect(v(s, "ballast_pending_plans")).toBe(0);
    // Two hosts are too few to measure a swing: the configured trigger is in force.
    expect(v(s, "ballast_cpu_trigger_percent")).toBe(95);
    expect(v(s, "ballast_plan_duration_seconds_count", { mode: "cycle" })).toBeGreaterThanOrEqual(2);
    expect(v(s, "ballast_plan_moves_count", { mode: "cycle" })).toBeGreaterThanOrEqual(2);
    expect(v(s, "ballast_plan_moves_sum", { mode: "cycle" })).toBe(0);
    // Every strategy/outcome pair is there from the start, at zero.
    expect(v(s, "ballast_migrations_started_total", { strategy: "hotspot" })).toBe(0);
    expect(v(s, "ballast_migrations_finished_total", { strategy: "consolidate", outcome: "skipped" })).toBe(0);
    // The version in package.json (0.1.0 when this was written; read once, shared/version.ts).
    expect(v(s, "ballast_orchestrator_info", { version: BALLAST_VERSION })).toBe(1);
    expect(s.some((x) => x.name === "process_cpu_user_seconds_total")).toBe(true);
  });

  it("follows pause and pending plans", async () => {
    await c.api("pause", { reason: "metrics test" });
    expect(v(await scrape(c.url), "ballast_paused")).toBe(1);
    await c.api("resume", {});
    expect(v(await scrape(c.url), "ballast_paused")).toBe(0);
    // A dry-run plan with moves waits for approval .
    let moves = 0;
    await waitUntil(
      async () => {
        const p = await c.api("plan", { mode: "evacuate", host: "a" });
        moves = p.ok ? p.data.moves.length : 0;
        return moves > 0;
      },
      5_000,
      "an evacuation plan for a",
    );
    const s = await scrape(c.url);
    expect(v(s, "ballast_pending_plans")).toBeGreaterThanOrEqual(1);
    expect(v(s, "ballast_plan_moves_count", { mode: "evacuate" })).toBeGreaterThanOrEqual(1);
    expect(v(s, "ballast_plan_moves_sum", { mode: "evacuate" })).toBeGreaterThanOrEqual(moves);
  });

  it("counts a migration: started, succeeded, duration, plan size, VMs per host, and the agents' side", async () => {
    const before = await scrape(c.url);
    const agentA = c.agents.get("a")!.metricsUrl!;
    const agentBefore = await scrape(agentA);
    const r = await c.api("migrate", { vm: "a-1", to: "b" });
    expect(r.ok).toBe(true);
    await waitUntil(async () => (await c.api("history", {})).data.some((m) => m.vm === "a-1" && m.state === "SUCCEEDED"), 15_000, "a-1 to move");
    // The hosts' gauges follow the next metrics of both agents.
    // Each agent reports on its own tick, so wait for both: under load a's report can lag b's.
    await waitUntil(
      async () => {
        const s = await scrape(c.url);
        return v(s, "ballast_host_running_vms", { host: "a" }) === 1 && v(s, "ballast_host_running_vms", { host: "b" }) === 2;
      },
      10_000,
      "a to report 1 VM and b 2",
    );
    const after = await scrape(c.url);
    const d = (name: string, labels: Record<string, string> = {}) => (v(after, name, labels) ?? 0) - (v(before, name, labels) ?? 0);
    expect(d("ballast_migrations_started_total", { strategy: "manual" })).toBe(1);
    expect(d("ballast_migrations_finished_total", { strategy: "manual", outcome: "succeeded" })).toBe(1);
    expect(d("ballast_migrations_finished_total", { strategy: "manual", outcome: "failed" })).toBe(0);
    expect(d("ballast_migration_duration_seconds_count", { outcome: "succeeded" })).toBe(1);
    expect(d("ballast_migration_duration_seconds_sum", { outcome: "succeeded" })).toBeGreaterThan(0);
    expect(d("ballast_plan_duration_seconds_count", { mode: "manual" })).toBe(1);
    expect(d("ballast_plan_moves_sum", { mode: "manual" })).toBe(1);
    expect(v(after, "ballast_host_running_vms", { host: "a" })).toBe(1);
    expect(v(after, "ballast_host_running_vms", { host: "b" })).toBe(2);
    expect(v(after, "ballast_migrations_in_flight")).toBe(0);

    // The source agent saw it go out; collections and publishes go on.
    const agentAfter = await scrape(agentA);
    const da = (name: string, labels: Record<string, string> = {}) => (v(agentAfter, name, labels) ?? 0) - (v(agentBefore, name, labels) ?? 0);
    expect(da("ballast_agent_outgoing_migrations_total", { outcome: "started" })).toBe(1);
    expect(da("ballast_agent_outgoing_migrations_total", { outcome: "succeeded" })).toBe(1);
    expect(da("ballast_agent_outgoing_migrations_total", { outcome: "failed" })).toBe(0);
    expect(v(agentAfter, "ballast_agent_outgoing_migrations_running")).toBe(0);
    expect(da("ballast_agent_collections_total", { outcome: "ok" })).toBeGreaterThan(0);
    expect(v(agentAfter, "ballast_agent_collections_total", { outcome: "failed" })).toBe(0);
    expect(da("ballast_agent_collection_duration_seconds_count")).toBeGreaterThan(0);
    expect(da("ballast_agent_metrics_published_total")).toBeGreaterThan(0);
    expect(v(agentAfter, "ballast_agent_last_publish_timestamp_seconds")!).toBeGreaterThan(Date.now() / 1000 - 5);
    expect(v(agentAfter, "ballast_agent_info", { host: "a", driver: "sim" })).toBe(1);
    await waitUntil(async () => v(await scrape(agentA), "ballast_agent_vms", { state: "running" }) === 1, 5_000, "agent a to list 1 running VM");
    // The destination agent sent nothing.
    const agentB = await scrape(c.agents.get("b")!.metricsUrl!);
    expect(v(agentB, "ballast_agent_outgoing_migrations_total", { outcome: "started" })).toBe(0);
  });

  it("answers HEAD and refuses other methods; a bad exposition line would fail the parser", async () => {
    expect((await fetch(`${c.url}/metrics`, { method: "HEAD" })).status).toBe(200);
    expect((await fetch(`${c.url}/metrics`, { method: "POST" })).status).toBe(405);
    expect(() => parsePromText("not a metric line at all !")).toThrow();
    const agentUrl = c.agents.get("b")!.metricsUrl!;
    expect((await fetch(`${agentUrl}/`)).status).toBe(404);
  });
});
