import type { NatsConnection } from "@nats-io/transport-node";
import type { Service } from "@nats-io/services";
import type { AgentConfig } from "../shared/config/agent-config.js";
import { BallastError, describeError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { connectNats } from "../shared/nats/connect.js";
import { MigrationEvent, type AgentStatus } from "../shared/schemas/agent-api.js";
import { Heartbeat, type HostMetrics } from "../shared/schemas/host-metrics.js";
import { HostMetricsFast } from "../shared/schemas/host-metrics-fast.js";
import { agentSubjects } from "../shared/subjects.js";
import { BALLAST_VERSION } from "../shared/version.js";
import { createDriver } from "./create-driver.js";
import { MetricsCollector } from "./metrics/collector.js";
import { MigrationManager } from "./migration/migration-manager.js";
import { registerAgentService } from "./nats/agent-service.js";
import { every } from "./periodic.js";
import { systemClock, type Clock } from "./ports/clock.js";
import type { HostMetricsSource } from "./ports/host-metrics-source.js";
import type { Hypervisor } from "./ports/hypervisor.js";
import type { SimFabric } from "./sim/sim-fabric.js";
import type { AgentMetrics } from "./http/agent-metrics.js";
import { startAgentMetricsServer, type MetricsServer } from "./http/metrics-server.js";

export interface StartAgentOptions {
  config: AgentConfig;
  logger: Logger;
  /** Defaults to the configured driver (virsh or sim). */
  hypervisor?: Hypervisor;
  /** Defaults to systeminformation (virsh) or the simulated host (sim). */
  metricsSource?: HostMetricsSource;
  clock?: Clock;
  /** Shared by the sim agents of one process so they can migrate to each other. */
  fabric?: SimFabric;
  /** Use this connection instead of connecting (it is then not drained on stop). */
  nc?: NatsConnection;
  /** On stop, running migrations get this long to finish before they are aborted, ms (default 5000). */
  stopGraceMs?: number;
}

export interface AgentHandle {
  host: string;
  hypervisor: Hypervisor;
  migrations: MigrationManager;
  /** `http://host:port` of GET /metrics, when `http.listen` is set. */
  metricsUrl?: string;
  /** Collects (or joins the collection in progress), publishes nothing. */
  collectNow(): Promise<HostMetrics>;
  stop(): Promise<void>;
}

/** Starts one agent: connects to NATS, registers the service, publishes metrics and heartbeats. */
export async function startAgent(o: StartAgentOptions): Promise<AgentHandle> {
  const { config } = o;
  const host = config.host;
  const clock = o.clock ?? systemClock;
  const log = o.logger.child({ host });
  const subjects = agentSubjects(host);
  // Prometheus metrics only when served (http.listen); prom-client is loaded only then: it costs
  // the agent about 10 MiB of memory.
  const metrics: AgentMetrics | undefined =
    config.http.listen !== null
      ? new (await import("./http/agent-metrics.js")).AgentMetrics({ host, driver: o.hypervisor?.name ?? config.driver, version: BALLAST_VERSION })
      : undefined;
  const driver = createDriver({
    config,
    logger: log,
    clock,
    hypervisor: o.hypervisor,
    metricsSource: o.metricsSource,
    fabric: o.fabric,
    // With virsh and metrics served, every virsh command is counted.
    wrapVirshRunner: metrics ? (runner) => metrics.countVirsh(runner) : undefined,
  });
  const { hypervisor } = driver;
  const startedAt = Math.round(clock.now());

  let nc: NatsConnection;
  try {
    nc = o.nc ?? (await connectNats(config.nats, `ballast-agent-${host}`));
  } catch (e) {
    driver.close();
    throw e;
  }

  const publish = <T>(subject: string, schema: { safeParse(v: unknown): { success: boolean; error?: { message: string } } }, value: T): boolean => {
    const r = schema.safeParse(value);
    if (!r.success) {
      log.error({ subject, err: r.error?.message }, "refusing to publish an invalid message");
      return false;
    }
    try {
      nc.publish(subject, JSON.stringify(value));
      return true;
    } catch (e) {
      log.warn({ subject, err: describeError(e) }, "publish failed");
      return false;
    }
  };

  const migrations = new MigrationManager({
    host,
    hypervisor,
    clock,
    logger: log,
    maxConcurrent: config.migration.max_concurrent,
    timeoutMs: config.migration.timeout * 1000,
    onEvent: (e) => {
      log.info({ type: e.type, vm: e.vm, requestId: e.requestId, destination: e.destination, error: e.error }, "migration event");
      publish(subjects.events, MigrationEvent, e);
      metrics?.migrationEvent(e);
    },
  });
  if (metrics) metrics.runningNow = () => migrations.runningCount;

  const collector = new MetricsCollector({
    host,
    hypervisor,
    source: driver.metricsSource,
    clock,
    logger: log,
    loadSource: config.load_source,
    isMigrating: (vm) => migrations.isMigrating(vm),
  });
  let lastMetrics: HostMetrics | null = null;
  let lastCollect: { ok: boolean; error?: string } = { ok: true };
  let inFlight: Promise<HostMetrics> | undefined;
  // One collection at a time: a caller arriving during one gets its result.
  const collectNow = (): Promise<HostMetrics> => {
    const t0 = performance.now();
    inFlight ??= collector
      .collect()
      .then(
        (m) => {
          lastMetrics = m;
          lastCollect = { ok: true };
          metrics?.collected(m, (performance.now() - t0) / 1000);
          return m;
        },
        (e: unknown) => {
          lastCollect = { ok: false, error: describeError(e).slice(0, 2000) };
          metrics?.collectFailed((performance.now() - t0) / 1000);
          throw e;
        },
      )
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };

  let service: Service | undefined;
  try {
    service = await registerAgentService(nc, {
      host,
      driver: hypervisor.name,
      version: BALLAST_VERSION,
      logger: log,
      handlers: {
        ping: () => ({ host, ts: clock.now(), agentVersion: BALLAST_VERSION, driver: hypervisor.name }),
        status: (): AgentStatus => ({ metrics: lastMetrics, migrations: migrations.migrations(), driver: hypervisor.name, agentVersion: BALLAST_VERSION }),
        migrate: async (req) => {
          const r = await migrations.request(req);
          if (!r.ok) throw new BallastError(r.error.code, r.error.message, { details: r.error.details });
          return r.data;
        },
        abort: (req) => migrations.abort(req),
      },
    });
  } catch (e) {
    driver.close();
    if (!o.nc) await nc.close().catch(() => undefined);
    throw e;
  }

  let metricsServer: MetricsServer | undefined;
  if (metrics && config.http.listen !== null) {
    try {
      metricsServer = await startAgentMetricsServer({ listen: config.http.listen, metrics, logger: log });
    } catch (e) {
      await service?.stop().catch(() => undefined);
      driver.close();
      if (!o.nc) await nc.close().catch(() => undefined);
      throw new Error(`cannot serve metrics on ${config.http.listen}: ${describeError(e)}`, { cause: e });
    }
  }

  let hbSeq = 0;
  const metricsLoop = every(config.interval * 1000, async () => {
    try {
      const m = await collectNow();
      // The fast check (zod's verdict, proven by its property test): zod's own walk over 200 VMs
      // every cycle was a large share of the agent's garbage.
      if (publish(subjects.metrics, HostMetricsFast, m)) metrics?.publishedMetrics(Date.now());
    } catch (e) {
      log.warn({ err: describeError(e) }, "metrics collection failed");
    }
  });
  const heartbeatLoop = every(config.heartbeat_interval * 1000, async () => {
    const hb: Heartbeat = {
      v: 1,
      host,
      ts: Math.round(clock.now()),
      seq: hbSeq++,
      agentVersion: BALLAST_VERSION,
      startedAt,
      collectOk: lastCollect.ok,
      ...(lastCollect.error !== undefined ? { collectError: lastCollect.error } : {}),
      migrationsRunning: migrations.runningCount,
    };
    publish(subjects.heartbeat, Heartbeat, hb);
  });
  log.info({ driver: hypervisor.name, version: BALLAST_VERSION, subjects: subjects.migrate.replace(/\.migrate$/, ".*") }, "agent started");

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all([metricsLoop.stop(), heartbeatLoop.stop()]);
      await metricsServer?.close().catch(() => undefined);
      await service?.stop().catch(() => undefined);
      // Give running migrations a moment; after that abort them rather than leave them unobserved.
      const grace = o.stopGraceMs ?? 5000;
      const idle = migrations.idle();
      const finished = await Promise.race([idle.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), grace).unref())]);
      if (!finished) await migrations.abortAll();
      if (!o.nc) await nc.drain().catch(() => undefined);
      driver.close();
      log.info("agent stopped");
    })());

  return { host, hypervisor, migrations, ...(metricsServer ? { metricsUrl: metricsServer.url } : {}), collectNow, stop };
}
