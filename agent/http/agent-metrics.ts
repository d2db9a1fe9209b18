import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { MigrationEvent } from "../../shared/schemas/agent-api.js";
import type { HostMetrics } from "../../shared/schemas/host-metrics.js";
import type { VirshRunner } from "../virsh/virsh-runner.js";

// The agent's Prometheus metrics, in a registry of its own (several agents share one process in
// the demo and the tests). startAgent feeds them; GET /metrics serves them.

export class AgentMetrics {
  readonly registry = new Registry();
  private readonly collections: Counter<"outcome">;
  private readonly collectSeconds: Histogram;
  private readonly virshCalls: Counter<"command" | "outcome">;
  private readonly vms: Gauge<"state">;
  private readonly outgoing: Counter<"outcome">;
  private readonly running: Gauge;
  private readonly published: Counter;
  private readonly lastPublish: Gauge;
  /** Read at scrape time for ballast_agent_outgoing_migrations_running. */
  runningNow: (() => number) | undefined;

  constructor(o: { host: string; driver: string; version: string; processMetrics?: boolean }) {
    const registers = [this.registry];
    new Gauge({ name: "ballast_agent_info", help: "Always 1; host, driver and version are labels", labelNames: ["host", "driver", "version"], registers }).set(
      { host: o.host, driver: o.driver, version: o.version },
      1,
    );
    this.collections = new Counter({
      name: "ballast_agent_collections_total",
      help: "Metric collections, by outcome (ok, failed)",
      labelNames: ["outcome"],
      registers,
    });
    this.collections.inc({ outcome: "ok" }, 0);
    this.collections.inc({ outcome: "failed" }, 0);
    this.collectSeconds = new Histogram({
      name: "ballast_agent_collection_duration_seconds",
      help: "Time of one metric collection (domain listing + host sample)",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
    this.virshCalls = new Counter({
      name: "ballast_agent_virsh_calls_total",
      help: "virsh commands run, by command and outcome (ok, error)",
      labelNames: ["command", "outcome"],
      registers,
    });
    this.vms = new Gauge({ name: "ballast_agent_vms", help: "Domains in the last collection, by state", labelNames: ["state"], registers });
    this.outgoing = new Counter({
      name: "ballast_agent_outgoing_migrations_total",
      help: "Outgoing migrations by outcome (started, succeeded, failed, aborted)",
      labelNames: ["outcome"],
      registers,
    });
    for (const s of ["started", "succeeded", "failed", "aborted"]) this.outgoing.inc({ outcome: s }, 0);
    // prom-client calls collect() with the gauge as `this`; the count comes from this object.
    const runningNow = () => this.runningNow?.();
    this.running = new Gauge({
      name: "ballast_agent_outgoing_migrations_running",
      help: "Outgoing migrations running now",
      registers,
      collect() {
        const n = runningNow();
        if (n !== undefined) this.set(n);
      },
    });
    this.published = new Counter({ name: "ballast_agent_metrics_published_total", help: "HostMetrics messages published", registers });
    this.lastPublish = new Gauge({
      name: "ballast_agent_last_publish_timestamp_seconds",
      help: "Unix time of the last HostMetrics publish (0: none yet)",
      registers,
    });
    if (o.processMetrics ?? true) collectDefaultMetrics({ register: this.registry });
  }

  collected(m: HostMetrics, seconds: number): void {
    this.collections.inc({ outcome: "ok" });
    this.collectSeconds.observe(seconds);
    this.vms.reset();
    for (const v of m.vms) this.vms.inc({ state: v.state });
  }

  collectFailed(seconds: number): void {
    this.collections.inc({ outcome: "failed" });
    this.collectSeconds.observe(seconds);
  }

  publishedMetrics(nowMs: number): void {
    this.published.inc();
    this.lastPublish.set(nowMs / 1000);
  }

  migrationEvent(e: MigrationEvent): void {
    const outcome =
      e.type === "migration.started"
        ? "started"
        : e.type === "migration.succeeded"
          ? "succeeded"
          : e.type === "migration.failed"
            ? "failed"
            : e.type === "migration.aborted"
              ? "aborted"
              : undefined;
    if (outcome) this.outgoing.inc({ outcome });
  }

  /** Wraps a virsh runner so that each command it runs is counted. */
  countVirsh(runner: VirshRunner): VirshRunner {
    return {
      commandLine: (args) => runner.commandLine(args),
      run: async (args, opts) => {
        const command = /^[a-z-]{1,40}$/.test(args[0] ?? "") ? args[0]! : "other";
        try {
          const r = await runner.run(args, opts);
          this.virshCalls.inc({ command, outcome: "ok" });
          return r;
        } catch (e) {
          this.virshCalls.inc({ command, outcome: "error" });
          throw e;
        }
      },
    };
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }
}
