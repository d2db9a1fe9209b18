import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { StrategyName } from "../../../shared/schemas/plan.js";
import type { Plan } from "../../../shared/schemas/plan.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { HostStatus, StatusReply } from "../../../shared/schemas/orchestrator-api.js";
import type { OrchestratorEvent } from "../../../shared/schemas/orchestrator-events.js";
import { BALLAST_VERSION } from "../../../shared/version.js";
import { HostFailureState } from "../../../shared/schemas/recovery.js";
import { PowerState } from "../../../shared/schemas/power.js";
import type { EventHub } from "../event-hub.js";
import type { OrchestratorView } from "../orchestrator.js";

// The orchestrator's Prometheus metrics, in a registry of its own (never prom-client's global
// one: tests run several orchestrators in one process). Gauges are read from the orchestrator
// when scraped; counters and histograms are fed by its migration, plan and cycle hooks.

/** Finished-migration outcomes, as label values. */
export const MIGRATION_OUTCOMES = ["succeeded", "failed", "skipped", "cancelled"] as const;

export interface OrchestratorMetrics {
  registry: Registry;
  /** The Prometheus text exposition of every metric. */
  text(): Promise<string>;
}

/** What the metrics read of the orchestrator: its status per scrape, and its hooks. */
export interface MetricsSource {
  api: { status(): StatusReply };
  view: Pick<OrchestratorView, "cpuTrigger" | "rejectedOutcomes"> & Partial<Pick<OrchestratorView, "facts" | "power">>;
  events: Pick<EventHub, "onEvent" | "onPlan">;
}

export function createOrchestratorMetrics(orch: MetricsSource, opts: { processMetrics?: boolean } = {}): OrchestratorMetrics {
  const registry = new Registry();
  const registers = [registry];
  // One status() per scrape, shared by every gauge's collect() (they all run in the same turn).
  let cached: StatusReply | undefined;
  const view = (): StatusReply => {
    if (!cached) {
      cached = orch.api.status();
      setImmediate(() => (cached = undefined));
    }
    return cached;
  };
  const perHost = (name: string, help: string, value: (h: HostStatus, now: number) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["host"],
      registers,
      collect() {
        this.reset(); // a host that is gone loses its series
        const v = view();
        for (const h of v.hosts) this.set({ host: h.host }, value(h, v.now));
      },
    });
  perHost("ballast_host_cpu_percent", "CPU load of the host as the orchestrator sees it, percent of its capacity", (h) => h.cpuPercent);
  perHost("ballast_host_memory_percent", "Memory in use on the host as the orchestrator sees it, percent", (h) => h.memPercent);
  perHost("ballast_host_fresh", "1 when the host's metrics are recent enough to plan with (policy.stale_after), else 0", (h) => (h.fresh ? 1 : 0));
  perHost("ballast_host_metrics_age_seconds", "Seconds since the host's last metrics arrived", (h, now) => Math.max(0, (now - h.lastMetrics) / 1000));
  perHost("ballast_host_vms", "VMs the host reports (any state)", (h) => h.vms);
  perHost("ballast_host_running_vms", "Running VMs on the host", (h) => h.runningVms);
  new Gauge({
    name: "ballast_host_power_state",
    help: "Power management: 1 for the power state each switchable host is in (state=on|booting|shutting_down|off|unknown), 0 for the others; off and booting hosts are not failed",
    labelNames: ["host", "state"],
    registers,
    collect() {
      this.reset();
      for (const h of view().hosts) if (h.power) for (const s of PowerState.options) this.set({ host: h.host, state: s }, h.power.state === s ? 1 : 0);
    },
  });
  new Gauge({
    name: "ballast_host_failure_state",
    help: "Host failure: 1 for the state each host is in (state=healthy|agent_down|suspect|failed|fenced|recovering|recovered), 0 for the others (`ballast recovery status`)",
    labelNames: ["host", "state"],
    registers,
    collect() {
      this.reset();
      for (const h of view().hosts) for (const s of HostFailureState.options) this.set({ host: h.host, state: s }, (h.failure ?? "healthy") === s ? 1 : 0);
    },
  });
  perHost("ballast_host_maintenance", "1 when the host is in maintenance (being drained or drained)", (h) => (h.maintenance ? 1 : 0));

  const scalar = (name: string, help: string, value: (v: StatusReply) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(value(view()));
      },
    });
  scalar("ballast_migration_queue_length", "Migrations queued, not yet started", (v) => v.migrations.queued.length);
  scalar("ballast_migrations_in_flight", "Migrations running now", (v) => v.migrations.ongoing.length);
  scalar("ballast_pending_plans", "Plans waiting for approval (automation manual/partial, or dry runs)", (v) => v.pendingPlans.length);
  scalar("ballast_paused", "1 when the orchestrator is paused (no migration starts)", (v) => (v.paused ? 1 : 0));
  scalar("ballast_frozen_vms", "VMs frozen after ping-pong was detected", (v) => v.frozenVms.length);
  // The host_mapping file: a rejected reload keeps the older mapping in force, so nothing fails
  // loudly; alert on ballast_host_mapping_rejected == 1.
  scalar(
    "ballast_host_mapping_rejected",
    "1 when the newest version of the host_mapping file was rejected (the mapping read before stays in force; status says why), else 0",
    (v) => (v.hostMapping.error === null ? 0 : 1),
  );
  scalar("ballast_host_mapping_hosts", "Hosts in the host_mapping in force (hosts not in it are never a migration destination)", (v) => v.hostMapping.hosts);
  scalar(
    "ballast_host_mapping_loaded_timestamp_seconds",
    "When the host_mapping in force was read, seconds since the epoch; 0 for a mapping fixed at start (no file)",
    (v) => (v.hostMapping.loadedAt ?? 0) / 1000,
  );
  scalar(
    "ballast_host_mapping_warnings",
    "Warnings about the host_mapping in force, e.g. two hosts with one address (status lists them)",
    (v) => v.hostMapping.warnings.length,
  );
  new Gauge({
    name: "ballast_cpu_trigger_percent",
    help: "CPU trigger in force: load_threshold as the last cycle adapted it to the measured swing (policy headroom_min_share), or as configured",
    registers,
    collect() {
      this.set(orch.view.cpuTrigger());
    },
  });
  // Counted by the reconciler; the counter follows it at each scrape.
  let rejectedSeen = 0;
  new Counter({
    name: "ballast_migration_events_rejected_total",
    help: "Migration events refused: not published by the migration's source agent, or naming another VM or destination (forged or confused; the log names them)",
    registers,
    collect() {
      const n = orch.view.rejectedOutcomes();
      if (n > rejectedSeen) this.inc(n - rejectedSeen);
      rejectedSeen = n;
    },
  });
  // The agents' facts (facts-store.ts): a host without them receives no VM whose facts are known.
  const facts = orch.view.facts ? () => orch.view.facts!() : undefined;
  if (facts) {
    new Gauge({
      name: "ballast_facts_hosts",
      help: "Hosts reporting metrics, by whether the orchestrator holds their facts (state=with|without); a host without facts receives no VM whose facts are known",
      labelNames: ["state"],
      registers,
      collect() {
        const f = facts();
        this.set({ state: "with" }, f.hostsWithFacts);
        this.set({ state: "without" }, f.hostsWithoutFacts);
      },
    });
    const following = (name: string, help: string, value: () => number) => {
      let seen = 0;
      new Counter({
        name,
        help,
        registers,
        collect() {
          const n = value();
          if (n > seen) this.inc(n - seen);
          seen = n;
        },
      });
    };
    following("ballast_facts_refreshes_total", "Facts received and kept (published by agents, or answered to get-facts)", () => facts().refreshes);
    following(
      "ballast_facts_refresh_failures_total",
      "get-facts requests that failed (no answer, an error, or facts that did not fit)",
      () => facts().refreshFailures,
    );
    following(
      "ballast_facts_rejected_total",
      "Facts messages refused: invalid, or naming another host than the agent that published (or was asked for) them",
      () => facts().rejected,
    );
    new Gauge({
      name: "ballast_incompatible_pairs",
      help: "(VM, destination) pairs libvirt refused for an incompatibility, kept until the VM's or the host's facts change",
      registers,
      collect() {
        this.set(facts().incompatiblePairs);
      },
    });
  }
  new Gauge({ name: "ballast_orchestrator_info", help: "Always 1; the version is a label", labelNames: ["version"], registers }).set(
    { version: BALLAST_VERSION },
    1,
  );

  const started = new Counter({
    name: "ballast_migrations_started_total",
    help: "Migrations dispatched to a source agent",
    labelNames: ["strategy"],
    registers,
  });
  const finished = new Counter({
    name: "ballast_migrations_finished_total",
    help: "Migrations that ended, by strategy and outcome (succeeded, failed, skipped, cancelled)",
    labelNames: ["strategy", "outcome"],
    registers,
  });
  const duration = new Histogram({
    name: "ballast_migration_duration_seconds",
    help: "Wall time of a migration as the source agent measured it, by outcome",
    labelNames: ["outcome"],
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
    registers,
  });
  const downtime = new Histogram({
    name: "ballast_migration_downtime_seconds",
    help: "Guest downtime of a successful migration as libvirt reported it",
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  const planMoves = new Histogram({
    name: "ballast_plan_moves",
    help: "Moves per plan, by plan mode",
    labelNames: ["mode"],
    buckets: [0, 1, 2, 3, 5, 10, 20, 50, 100],
    registers,
  });
  const planSeconds = new Histogram({
    name: "ballast_plan_duration_seconds",
    help: "Decision latency: time of one plan() call, by plan mode",
    labelNames: ["mode"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers,
  });
  const cycles = new Counter({ name: "ballast_cycles_total", help: "Periodic (and `run`) cycles completed", registers });

  // Every strategy/outcome pair exists from the start at 0, so rate() and increase() see the first one.
  for (const s of StrategyName.options) {
    started.inc({ strategy: s }, 0);
    for (const o of MIGRATION_OUTCOMES) finished.inc({ strategy: s, outcome: o }, 0);
  }
  duration.zero({ outcome: "succeeded" });
  duration.zero({ outcome: "failed" });

  // Every change of a migration (queued, started, each progress, finished) is an event.
  const running = new Set<string>();
  const migrationChanged = (r: MigrationRecord): void => {
    if (r.state === "ONGOING") {
      if (!running.has(r.requestId)) {
        running.add(r.requestId);
        started.inc({ strategy: r.strategy });
      }
      return;
    }
    if (r.state === "PENDING") return;
    running.delete(r.requestId);
    const outcome = r.state.toLowerCase();
    finished.inc({ strategy: r.strategy, outcome });
    if (r.stats && (outcome === "succeeded" || outcome === "failed")) duration.observe({ outcome }, r.stats.durationMs / 1000);
    if (r.stats?.downtimeMs !== undefined && outcome === "succeeded") downtime.observe(r.stats.downtimeMs / 1000);
  };
  orch.events.onPlan((p: Plan, ms: number) => {
    planMoves.observe({ mode: p.mode }, p.moves.length);
    planSeconds.observe({ mode: p.mode }, ms / 1000);
  });
  const recoveryAlerts = new Counter({
    name: "ballast_recovery_alerts_total",
    help: "Host failure alerts, by kind (alert=isolated|fence_impossible|fence_failed|agent_down|host_returned|start_refused|start_failed)",
    labelNames: ["alert"],
    registers,
  });
  orch.events.onEvent((ev: OrchestratorEvent) => {
    if (ev.type === "cycle") cycles.inc();
    else if (ev.type === "migration") migrationChanged(ev.record);
    else recoveryAlerts.inc({ alert: ev.alert });
  });
  if (orch.view.power) {
    const ops = new Counter({
      name: "ballast_power_operations_total",
      help: "Calls of the hosts' power drivers, by host, operation (status, on, off) and result (ok, failed)",
      labelNames: ["host", "operation", "result"],
      registers,
    });
    for (const host of orch.view.power.hosts())
      for (const operation of ["on", "off"]) for (const result of ["ok", "failed"]) ops.inc({ host, operation, result }, 0);
    orch.view.power.onCall((c) => ops.inc({ host: c.host, operation: c.operation, result: c.ok ? "ok" : "failed" }));
  }
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  return { registry, text: () => registry.metrics() };
}
