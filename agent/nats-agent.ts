import { createHash } from "node:crypto";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Service } from "@nats-io/services";
import type { AgentConfig } from "../shared/config/agent-config.js";
import { BallastError, describeError } from "../shared/errors.js";
import type { Logger } from "../shared/logger.js";
import { connectNats } from "../shared/nats/connect.js";
import {
  MAX_DEFINITION_CHARS,
  MigrationEvent,
  type AgentStatus,
  type CheckIncomingResult,
  type GuestStateResult,
  type PauseVmResult,
  PROBE_TIMEOUT_DEFAULT_S,
  type ProbeHostResult,
  type VmDefinition,
} from "../shared/schemas/agent-api.js";
import { AgentFacts } from "../shared/schemas/facts.js";
import { Heartbeat, type HostMetrics } from "../shared/schemas/host-metrics.js";
import { HostMetricsFast } from "../shared/schemas/host-metrics-fast.js";
import { agentSubjects } from "../shared/subjects.js";
import { BALLAST_VERSION } from "../shared/version.js";
import { createDriver } from "./create-driver.js";
import { MetricsCollector } from "./metrics/collector.js";
import { MigrationManager } from "./migration/migration-manager.js";
import { FactsKeeper } from "./migration/facts-keeper.js";
import { incomingRefusals } from "./migration/incoming-checks.js";
import type { FactsSource } from "./facts/collect-facts.js";
import { FileMigrationJournal } from "./migration/migration-journal.js";
import { registerAgentService } from "./nats/agent-service.js";
import { stripSecrets } from "./virsh/strip-secrets.js";
import { RecordedStarts } from "./recovery/recorded-starts.js";
import { StartGuard, type GuardedStart } from "./recovery/start-guard.js";
import { requestJson } from "../shared/nats/json.js";
import { VmClaimReply } from "../shared/schemas/orchestrator-api.js";
import { orchestratorSubjects } from "../shared/subjects.js";
import { drainThenClose, within } from "../shared/nats/close-connection.js";
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
  /** Defaults to the driver's facts (virsh: libvirt; sim: the simulated host; a given hypervisor: none unless it is a SimHypervisor). */
  facts?: FactsSource;
  clock?: Clock;
  /** Shared by the sim agents of one process so they can migrate to each other. */
  fabric?: SimFabric;
  /** Use this connection instead of connecting (it is then not drained on stop). */
  nc?: NatsConnection;
  /**
   * On stop, running migrations get this long to finish while still watched, ms (default 0).
   * Then the agent lets go of them WITHOUT aborting: libvirt goes on with each (--p2p), and the
   * next start reports its outcome from the journal in `stateDir`.
   */
  stopGraceMs?: number;
  /**
   * Where the agent writes down its running migrations (`agent-<host>-migrations.json`), so the
   * next start can settle and report those a stop or crash left running. `ballast agent` uses
   * systemd's $STATE_DIRECTORY (/var/lib/ballast). Absent: nothing survives a restart.
   */
  stateDir?: string;
}

export interface AgentHandle {
  host: string;
  hypervisor: Hypervisor;
  migrations: MigrationManager;
  /** The newest facts (collected now if none yet); rejects when this agent has no facts source. */
  facts(): Promise<AgentFacts>;
  /** `http://host:port` of GET /metrics, when `http.listen` is set. */
  metricsUrl?: string;
  /** Collects (or joins the collection in progress), publishes nothing. */
  collectNow(): Promise<HostMetrics>;
  /** What the start guard did with the domains that had autostart on at start (recovery/start-guard.ts). */
  guardedStarts: Promise<GuardedStart[]>;
  stop(): Promise<void>;
}

/** Starts one agent: connects to NATS, registers the service, publishes metrics and heartbeats. */
export async function startAgent(o: StartAgentOptions): Promise<AgentHandle> {
  const { config } = o;
  const host = config.host;
  const clock = o.clock ?? systemClock;
  // The host once per line: `ballast agent`'s logger already carries it (createLogger's base).
  const log = o.logger.bindings().host === host ? o.logger : o.logger.child({ host });
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
    facts: o.facts,
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

  // Facts: published on start and whenever their digest changes; never on the metrics' beat.
  const factsKeeper = driver.facts
    ? new FactsKeeper({
        host,
        source: driver.facts,
        clock,
        logger: log,
        retryMs: config.facts.interval * 1000,
        onChange: (f) => {
          log.info({ digest: f.digest, vms: f.vms.length }, "facts changed; publishing");
          publish(subjects.facts, AgentFacts, f);
        },
      })
    : undefined;

  let journal: FileMigrationJournal | undefined;
  if (o.stateDir !== undefined) {
    try {
      journal = new FileMigrationJournal(o.stateDir, host, log);
    } catch (e) {
      log.error({ stateDir: o.stateDir, err: describeError(e) }, "cannot use the state directory; migrations running at a stop will not be reported after it");
    }
  }
  const migrations: MigrationManager = new MigrationManager({
    host,
    hypervisor,
    clock,
    logger: log,
    maxConcurrent: config.migration.max_concurrent,
    timeoutMs: config.migration.timeout * 1000,
    limits: { bandwidthMibs: config.migration.bandwidth_mibs, timeoutFactor: config.migration.timeout_factor, onTimeout: config.migration.on_timeout },
    ...(factsKeeper ? { vmFacts: (vm: string) => factsKeeper.vmNow(vm) } : {}),
    ...(journal ? { journal } : {}),
    onEvent: (e) => {
      log.info({ type: e.type, vm: e.vm, requestId: e.requestId, destination: e.destination, error: e.error }, "migration event");
      const sent = publish(subjects.events, MigrationEvent, e);
      metrics?.migrationEvent(e);
      // An outcome leaves the journal only once the server has it; otherwise the next start sends it again.
      if (sent && e.type !== "migration.started" && e.type !== "migration.progress")
        nc.flush().then(
          () => migrations.outcomeDelivered(e.requestId),
          (x: unknown) => log.warn({ requestId: e.requestId, err: describeError(x) }, "outcome not confirmed by NATS; kept for the next start"),
        );
    },
  });
  if (metrics) metrics.runningNow = () => migrations.runningCount;
  // Before any request is served: what the previous run left running is followed to its end and
  // reported, and its request ids answer as before.
  const recovered = migrations.recover();

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
          // New or gone VMs: their facts are read in the background (never delays the metrics).
          void factsKeeper?.noteVms(m.vms.filter((v) => v.state === "running" || v.state === "paused").map((v) => v.name));
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

  const recordedStarts = new RecordedStarts({ host, hypervisor, logger: log, epoch: (e) => migrations.acceptEpoch(e) });
  const startGuard = new StartGuard({
    host,
    hypervisor,
    mode: config.autostart,
    logger: log,
    claim: async (vm) => {
      const r = await requestJson(nc, orchestratorSubjects.vmClaim, { vm, host }, { timeoutMs: config.nats.request_timeout * 1000, data: VmClaimReply });
      if (!r.ok) throw new BallastError(r.error.code, r.error.message);
      return r.data;
    },
  });

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
        getFacts: () => {
          if (!factsKeeper) throw new BallastError("INTERNAL", `the ${hypervisor.name} driver of ${host} publishes no facts`);
          return factsKeeper.get();
        },
        checkIncoming: async (req): Promise<CheckIncomingResult> => {
          // The destination's own view: its newest facts and metrics, then its hypervisor.
          const hostFacts = factsKeeper
            ? await factsKeeper.get().then(
                (f) => f.hostFacts,
                () => undefined,
              )
            : undefined;
          const refusals = [
            ...incomingRefusals(req, hostFacts, {
              ...(lastMetrics ? { memAvailableMiB: lastMetrics.memAvailableMiB, cpus: lastMetrics.cpus } : {}),
            }),
            ...(await hypervisor.checkIncoming(req)),
          ].slice(0, 64);
          if (refusals.length > 0) log.info({ vm: req.vm, source: req.source, refusals }, "incoming VM refused");
          return { vm: req.vm, host, ok: refusals.length === 0, refusals };
        },
        cpuBaseline: (req) => hypervisor.cpuBaseline(req.cpus),
        removeDisks: async (req) => {
          if (migrations.isMigrating(req.vm)) throw new BallastError("VM_STILL_DEFINED", `VM ${req.vm} is still migrating from ${host}; nothing removed`);
          const r = await hypervisor.removeDisks(req.vm, req.paths);
          log.info({ vm: req.vm, requestId: req.requestId, removed: r.removed, kept: r.kept }, "removed the source copies of a moved VM's disks");
          return r;
        },
        probeHost: async (req): Promise<ProbeHostResult> => {
          if (req.host === host) throw new BallastError("BAD_REQUEST", `${host} does not probe itself: ask a peer`);
          const t0 = performance.now();
          const r = await hypervisor.probeHost(req.address, (req.timeoutS ?? PROBE_TIMEOUT_DEFAULT_S) * 1000);
          const ms = Math.round(performance.now() - t0);
          if (!r.ok) log.info({ probed: req.host, address: req.address, detail: r.detail, ms }, "peer's libvirt did not answer the probe");
          return { host: req.host, from: host, ok: r.ok, timedOut: r.timedOut, detail: r.detail, ms };
        },
        startRecordedVm: (req) => recordedStarts.start(req),
        pauseVm: async (req): Promise<PauseVmResult> => {
          if (migrations.isMigrating(req.vm)) throw new BallastError("ALREADY_MIGRATING", `VM ${req.vm} is migrating from ${host}; not paused`);
          // Like start-recorded-vm: a deposed leader's command is refused, a carried-out one advances the epoch.
          migrations.acceptEpoch(req.epoch);
          const r = await hypervisor.pause(req.vm);
          log.warn(
            { vm: req.vm, recordHost: req.recordHost, paused: r.paused, state: r.state, epoch: req.epoch },
            r.paused ? "paused a VM that also runs on the host its record names" : "asked to pause a VM that does not run here",
          );
          return { vm: req.vm, host, paused: r.paused, state: r.state, detail: r.detail.slice(0, 2000) };
        },
        guestState: async (req): Promise<GuestStateResult> => {
          const r = await hypervisor.guestState(req.vm);
          const agent = r.guestAgent === "none" ? "no guest agent channel (org.qemu.guest_agent.0)" : `guest agent channel ${r.guestAgent}`;
          return {
            vm: req.vm,
            host,
            state: r.state.slice(0, 64),
            guestAgent: r.guestAgent,
            detail: `${req.vm} is ${r.state} on ${host}; ${agent}`.slice(0, 2000),
          };
        },
        vmDefinition: async (req): Promise<VmDefinition> => {
          const { xml, removed } = stripSecrets(await hypervisor.definitionXml(req.vm));
          if (xml.length > MAX_DEFINITION_CHARS)
            throw new BallastError("INTERNAL", `the definition of ${req.vm} has ${xml.length} characters, over the ${MAX_DEFINITION_CHARS} limit`);
          const uuid = /<uuid>\s*([0-9a-fA-F-]{32,36})\s*<\/uuid>/.exec(xml)?.[1];
          // What was cut is logged by name only, never the value.
          if (removed.length > 0) log.info({ vm: req.vm, removed }, "secrets removed from a VM definition");
          return { vm: req.vm, host, ...(uuid ? { uuid } : {}), xml, digest: createHash("sha256").update(xml).digest("hex"), removed };
        },
      },
    });
  } catch (e) {
    await migrations.detachAll();
    driver.close();
    if (!o.nc) await nc.close().catch(() => undefined);
    throw e;
  }

  // The server has the service's subscriptions once this returns: a request sent right after
  // start-up (or after systemd's READY) finds a responder instead of "no responders".
  if ((await within(nc.flush(), 5000)) === "late") log.warn("cannot confirm the service's subscriptions with the NATS server");

  let metricsServer: MetricsServer | undefined;
  if (metrics && config.http.listen !== null) {
    try {
      metricsServer = await startAgentMetricsServer({ listen: config.http.listen, metrics, logger: log });
    } catch (e) {
      await service?.stop().catch(() => undefined);
      await migrations.detachAll();
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
      ...(factsKeeper?.digest !== undefined ? { factsDigest: factsKeeper.digest } : {}),
    };
    publish(subjects.heartbeat, Heartbeat, hb);
  });
  // Autostart: off at start (domains that had it on start only on the orchestrator's word), and
  // off again should anyone turn it on. Checked with the host facts (facts.interval), not every
  // metrics beat: the flag only matters the next time libvirtd starts, and a virsh process per
  // beat would double the agent's spawns.
  const guardedStarts = startGuard.atStart();
  const autostartLoop =
    config.autostart === "disable"
      ? every(Math.min(config.facts.interval, 60) * 1000, async () => void (await guardedStarts, await startGuard.sweep()))
      : undefined;
  // Host facts on start and every facts.interval (VM facts follow the metrics' VM list).
  const factsLoop = factsKeeper ? every(config.facts.interval * 1000, () => factsKeeper.refreshAll()) : undefined;
  log.info(
    {
      driver: hypervisor.name,
      version: BALLAST_VERSION,
      subjects: subjects.migrate.replace(/\.migrate$/, ".*"),
      journal: journal?.where ?? null,
      ...(recovered > 0 ? { recovered } : {}),
    },
    "agent started",
  );

  // Stopping takes a few seconds at most, whatever NATS or libvirt do: every step that waits on
  // either is bounded, the connection is closed in the end (a drain alone can leave it
  // reconnecting forever, which kept the process alive), and migrations are not waited for.
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      const t0 = performance.now();
      // An in-flight collection may wait on a slow virsh; driver.close() below ends that.
      await within(Promise.all([metricsLoop.stop(), heartbeatLoop.stop(), factsLoop?.stop(), autostartLoop?.stop()]), 1000);
      if (metricsServer) await within(metricsServer.close(), 500);
      // Unsubscribes; with the server unreachable this waits for the next reconnect attempt.
      if (service) await within(service.stop(), 1000);
      const grace = o.stopGraceMs ?? 0;
      if (grace > 0) await within(migrations.idle(), grace);
      // Running migrations go on in libvirt; the journal lets the next start report them.
      const left = await new Promise<number>((resolve) => {
        const t = setTimeout(() => resolve(-1), 1000);
        void migrations.detachAll().then((n) => {
          clearTimeout(t);
          resolve(n);
        });
      });
      const nats = o.nc ? "not ours" : await drainThenClose(nc, 1000);
      driver.close();
      log.info({ ms: Math.round(performance.now() - t0), migrationsLeftRunning: Math.max(left, 0), nats }, "agent stopped");
    })());

  const facts = () => (factsKeeper ? factsKeeper.get() : Promise.reject(new Error(`the ${hypervisor.name} driver of ${host} publishes no facts`)));
  return { host, hypervisor, migrations, facts, ...(metricsServer ? { metricsUrl: metricsServer.url } : {}), collectNow, guardedStarts, stop };
}
