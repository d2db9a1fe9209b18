import { hostname } from "node:os";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import { defaultInstanceName, OrchestratorConfig, OrchestratorInstance } from "../shared/config/orchestrator-config.js";
import { loadConfig } from "../shared/config/load-config.js";
import { connectNats } from "../shared/nats/connect.js";
import { createLogger } from "../shared/logger.js";
import { ConfigError, describeError } from "../shared/errors.js";
import { Orchestrator } from "./shell/orchestrator.js";
import { serveOrchestratorApi } from "./shell/api.js";
import { subscribeAgents } from "./shell/bus-intake.js";
import { HostMappingFile, type HostMapping } from "./shell/host-mapping.js";
import { systemClock, type Clock } from "./shell/clock.js";
import { createNotifier } from "../shared/systemd-notify.js";
import { serveOrchestratorHttp } from "./shell/http/serve.js";
import type { OrchestratorHttp } from "./shell/http/http-server.js";
import { Kvm } from "@nats-io/kv";
import { LeaderLease } from "./shell/ha/leader-lease.js";
import { KvStateStore, LEASE_KEY } from "./shell/ha/kv-state-store.js";
import { LeaderForwarder } from "./shell/ha/leader-forwarder.js";
import { DecisionStream } from "./shell/ha/decision-stream.js";
import { drainThenClose, within } from "../shared/nats/close-connection.js";
import { exitIfStillAlive } from "../shared/daemon-exit.js";
import type { PowerDriver } from "./shell/power/power-driver.js";
import { createPowerDrivers } from "./shell/power/create-power-driver.js";
import { loadPowerInventory } from "./shell/power/power-inventory-file.js";
import { openRecordStore } from "./shell/vm-records.js";

/** How long stop() may wait on the NATS server in all; then the connection is closed anyway. */
const STOP_BUDGET_MS = 3000;
/** How often the VM records are swept (missing definitions fetched, long-gone VMs removed). */
const RECORDS_SWEEP_MS = 30_000;

export interface RunningOrchestrator {
  orchestrator: Orchestrator;
  nc: NatsConnection;
  /** The metrics/dashboard server, when `http.listen` is set. */
  http?: OrchestratorHttp;
  /** HA (ha.enabled): the leader lease, the shared state, the decision log stream, the forwarder. */
  ha?: HaParts;
  stop(): Promise<void>;
  /**
   * Stops at once as a SIGKILLed process would: no lease release, no drain, no final writes
   * (fault tests run several orchestrators in one process).
   */
  crash(): Promise<void>;
}

/** The HA machinery of one instance (ha.enabled). */
export interface HaParts {
  lease: LeaderLease;
  store: KvStateStore;
  decisions: DecisionStream;
  forwarder: LeaderForwarder;
  instance: string;
}

/** Starts an orchestrator with a parsed config; the caller owns nothing else. */
export async function startOrchestrator(opts: {
  config: OrchestratorConfig;
  log: Logger;
  clock?: Clock;
  /** A fixed mapping instead of config.host_mapping (demo, tests). */
  mapping?: HostMapping;
  instance?: string;
  /** Power drivers instead of those of config.power.inventory (tests). */
  powerDrivers?: ReadonlyMap<string, PowerDriver>;
}): Promise<RunningOrchestrator> {
  const { config, log } = opts;
  const clock = opts.clock ?? systemClock;
  const instance = config.ha.instance ?? opts.instance ?? defaultInstanceName(hostname(), process.pid);
  const checked = OrchestratorInstance.safeParse(instance);
  if (!checked.success) throw new ConfigError(`ha.instance ${JSON.stringify(instance)}: ${checked.error.issues[0]?.message ?? "invalid"}`, "ha.instance");
  let mappingFile: HostMappingFile | undefined;
  if (opts.mapping === undefined && config.host_mapping) {
    mappingFile = new HostMappingFile(config.host_mapping, log, undefined, clock);
    await mappingFile.load();
    mappingFile.watch();
  }
  const fixed = opts.mapping ?? new Map<string, string>();
  let powerDrivers = opts.powerDrivers;
  if (powerDrivers === undefined && config.power.inventory !== null) {
    try {
      powerDrivers = createPowerDrivers(loadPowerInventory(config.power.inventory));
    } catch (e) {
      mappingFile?.close();
      throw new ConfigError(`power.inventory ${config.power.inventory}: ${describeError(e)}`, "power.inventory", { cause: e });
    }
  }
  const nc = await connectNats(config.nats, `ballast-orchestrator ${instance}`);
  // The VM records' bucket: with HA the same replicas as the HA bucket; without JetStream, memory.
  const recordStore = await openRecordStore(nc, { bucket: config.records.bucket, replicas: config.ha.enabled ? config.ha.replicas : 1, log });
  let ha: HaParts | undefined;
  if (config.ha.enabled) {
    let kv;
    let decisions: DecisionStream;
    try {
      kv = await new Kvm(nc).create(config.ha.bucket, { history: 1, replicas: config.ha.replicas });
      decisions = await DecisionStream.open(nc, {
        bucket: config.ha.bucket,
        maxBytes: config.ha.decisions_max_bytes,
        replicas: config.ha.replicas,
        instance,
        log,
      });
    } catch (e) {
      mappingFile?.close();
      await nc.close().catch(() => undefined);
      throw new Error(`cannot open the HA bucket ${config.ha.bucket} or its decisions stream (JetStream on?): ${describeError(e)}`, { cause: e });
    }
    // JetStream applies `replicas` only when it creates the bucket; opening an existing one keeps
    // what it has, so a config changed later would silently not take effect.
    const replicas = await kv.status().then(
      (s) => s.replicas,
      () => undefined,
    );
    if (replicas !== undefined && replicas !== config.ha.replicas)
      log.warn(
        { bucket: config.ha.bucket, replicas, configured: config.ha.replicas },
        `the HA bucket has ${replicas} replica(s), ha.replicas says ${config.ha.replicas}; the setting applies only when the bucket is created (change it with: nats stream edit KV_${config.ha.bucket} --replicas ${config.ha.replicas})`,
      );
    const ttlMs = config.ha.lease_ttl * 1000;
    const lease: LeaderLease = new LeaderLease(kv, {
      key: LEASE_KEY,
      instance,
      ttlMs,
      log,
      onAcquire: async () => {
        // Bounded: a slow stream delays only the cycle numbering, never the takeover.
        const caughtUp = await decisions.catchUp(ttlMs / 3).catch((e: unknown) => describeError(e));
        if (caughtUp !== true)
          log.warn(
            { why: caughtUp === false ? `not read within ${ttlMs / 3} ms` : caughtUp },
            "taking over before the replicated decision log was read to its end",
          );
        orchestrator.adopt(await store.load());
        // A failed read leaves the records this instance had; the next takeover reads them again.
        await orchestrator.records.load().catch((e: unknown) => log.error({ err: describeError(e) }, "cannot read the VM records"));
      },
      onLeading: () => void orchestrator.pump().catch((e) => log.error({ err: describeError(e) }, "dispatch failed")),
      onLose: (why) => log.warn({ why }, "standing by"),
    });
    const store: KvStateStore = new KvStateStore(kv, { canWrite: () => lease.isLeader(), historySize: config.history_size, log });
    const forwarder = new LeaderForwarder({ nc, instance, holder: () => lease.holder(), timeoutMs: config.ha.forward_timeout * 1000, log });
    ha = { lease, store, decisions, forwarder, instance };
  }
  // The lease's callbacks above refer to it: they run only once the lease is started, below.
  const orchestrator = new Orchestrator({
    config,
    nc,
    log,
    clock,
    mapping: () => mappingFile?.mapping ?? fixed,
    ...(mappingFile ? { mappingState: () => mappingFile.state() } : {}),
    instance,
    ...(powerDrivers ? { powerDrivers } : {}),
    recordStore,
    ...(ha ? { leadership: { leading: () => ha.lease.isLeader(), epoch: () => ha.lease.epoch(), leader: () => ha.lease.leader() }, sink: ha.store } : {}),
  });
  if (ha) {
    const { decisions, lease } = ha;
    orchestrator.replication.onRecord((r) => {
      if (lease.isLeader()) decisions.publish(r);
    });
    try {
      await decisions.follow((r) => orchestrator.replication.replay(r));
    } catch (e) {
      mappingFile?.close();
      await nc.close().catch(() => undefined);
      throw new Error(`cannot read the decisions stream ${decisions.name}: ${describeError(e)}`, { cause: e });
    }
  }
  // Without HA this instance leads from the start: the records it continues from, before any facts arrive.
  if (!ha) await orchestrator.records.load().catch((e: unknown) => log.error({ err: describeError(e) }, "cannot read the VM records"));
  const subs = subscribeAgents(nc, orchestrator.intake, log);
  const svc = await serveOrchestratorApi(
    nc,
    { handlers: orchestrator.api, leading: () => orchestrator.leading, leader: () => ha?.lease.leader() },
    log,
    instance,
    ha?.forwarder,
  );
  // The server has the API's subscriptions once this returns: a request (or another instance's
  // forward) sent right after start-up, or after systemd's READY, finds a responder.
  await nc.flush().catch((e) => log.warn({ err: describeError(e) }, "cannot confirm the API subscriptions with the server"));
  let http: OrchestratorHttp | undefined;
  try {
    http = await serveOrchestratorHttp(orchestrator, config.http, log, { clock });
  } catch (e) {
    mappingFile?.close();
    for (const s of subs) s.unsubscribe();
    await svc.stop().catch(() => undefined);
    await ha?.lease.stop(false);
    ha?.decisions.stop();
    await nc.drain().catch(() => undefined);
    throw new Error(`cannot serve http on ${config.http.listen}: ${describeError(e)}`, { cause: e });
  }
  let cycling = false;
  let stopped = false;
  /** A hot spot appeared during a cycle that had already taken its snapshot. */
  let again = false;
  const runCycle = (): void => {
    if (stopped) return;
    if (cycling) return; // a slow cycle is skipped, never overlapped
    if (ha && !ha.lease.isLeader()) return; // standbys only listen
    cycling = true;
    orchestrator
      .cycle()
      .catch((e) => log.error({ err: describeError(e) }, "cycle failed"))
      .finally(() => {
        cycling = false;
        if (again) {
          again = false;
          runCycle();
        }
      });
  };
  const timer = setInterval(runCycle, config.policy.interval * 1000);
  // Power: switches are followed every few seconds, each host's state read every status_interval
  // (the first tick reads them all, so no host stays unknown). Standbys do nothing (tick checks).
  const powerTick = (): void => {
    if (!stopped) void orchestrator.powerTick().catch((e: unknown) => log.error({ err: describeError(e) }, "power tick failed"));
  };
  const powerTimer = powerDrivers ? setInterval(powerTick, Math.min(5, config.power.status_interval) * 1000) : undefined;
  if (powerDrivers) setImmediate(powerTick);
  // VM records: fetch what is missing, remove what is long gone (standbys do nothing: sweep checks).
  const recordsTimer = setInterval(() => {
    if (!stopped) orchestrator.recordsTick();
  }, RECORDS_SWEEP_MS);
  // Host failure: judge silent hosts, fence, restart, at most every 5 s (failure_detect_after is a
  // minute by default). Standbys do nothing (tick checks); a slow pass is joined, never doubled.
  const recoveryTimer = setInterval(
    () => {
      if (!stopped) void orchestrator.recoveryTick().catch((e: unknown) => log.error({ err: describeError(e) }, "recovery pass failed"));
    },
    Math.min(5, config.policy.interval) * 1000,
  );
  // While restarted guests are awaited (the next restart priority waits for them to be up), a pass
  // every second: the next priority goes within a second of its cue, not a recovery period later.
  const upTimer = setInterval(() => {
    if (!stopped && orchestrator.recoveryAwaitsGuests())
      void orchestrator.recoveryTick().catch((e: unknown) => log.error({ err: describeError(e) }, "recovery pass failed"));
  }, 1000);
  // A host just became a hot spot: plan now (once the message handler has returned), not at the next tick.
  orchestrator.events.onOverload(() =>
    setImmediate(() => {
      if (cycling) again = true;
      else runCycle();
    }),
  );
  ha?.lease.start();
  log.info({ instance, interval: config.policy.interval, automation: config.policy.automation, ha: config.ha.enabled }, "orchestrator started");
  return {
    orchestrator,
    nc,
    ...(http ? { http } : {}),
    ...(ha ? { ha } : {}),
    async stop() {
      // A few seconds at most, whatever NATS does: each step that waits on the server gets what
      // is left of one budget, and the connection is closed in the end. (nats.js's drain() on a
      // connection that is reconnecting rejects and leaves it reconnecting forever, which kept
      // the process alive; service stops and KV writes wait for a reconnect that may not come.)
      const until = Date.now() + STOP_BUDGET_MS;
      const bounded = async (p: Promise<unknown> | undefined): Promise<void> => void (p && (await within(p, until - Date.now())));
      stopped = true;
      clearInterval(timer);
      if (powerTimer) clearInterval(powerTimer);
      clearInterval(recordsTimer);
      clearInterval(recoveryTimer);
      clearInterval(upTimer);
      await bounded(orchestrator.records.settled());
      await bounded(http?.close());
      mappingFile?.close();
      for (const s of subs) s.unsubscribe();
      await bounded(svc.stop());
      if (ha) {
        // Unwritten state and the lease's release are lost when the server stays away; the
        // standby then takes over after a lease period, from the state written before.
        await bounded(ha.store.flush());
        ha.store.close();
        await bounded(ha.lease.stop(true));
        ha.decisions.stop();
      }
      await drainThenClose(nc, until - Date.now());
    },
    async crash() {
      stopped = true;
      clearInterval(timer);
      if (powerTimer) clearInterval(powerTimer);
      clearInterval(recordsTimer);
      clearInterval(recoveryTimer);
      clearInterval(upTimer);
      await ha?.lease.stop(false);
      ha?.store.close();
      ha?.decisions.stop();
      await http?.close().catch(() => undefined);
      mappingFile?.close();
      // close(), never drain(): it ends the connection at once, also while reconnecting.
      await nc.close().catch(() => undefined);
    },
  };
}

/**
 * `ballast orchestrator`: config file + environment, runs until SIGTERM/SIGINT, then stops within
 * a few seconds whatever NATS does (stop() is bounded; a process still alive 8 s after the signal
 * is ended, with an error naming what was left open).
 */
export async function runOrchestrator(configPath: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const config = loadConfig(OrchestratorConfig, { ...(configPath ? { file: configPath } : {}), env });
  const log = createLogger({ name: "ballast-orchestrator", level: config.log_level });
  const running = await startOrchestrator({ config, log });
  const notifier = createNotifier(env);
  await notifier.ready();
  const watchdog = notifier.watchdogEveryMs ? setInterval(() => void notifier.watchdog(), notifier.watchdogEveryMs) : undefined;
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log.info({ signal: sig }, "stopping");
      resolve();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  if (watchdog) clearInterval(watchdog);
  const t0 = Date.now();
  let code = 0;
  exitIfStillAlive(log, () => code);
  await notifier.stopping();
  try {
    await running.stop();
  } catch (e) {
    log.error({ err: describeError(e) }, "unclean stop");
    code = 1;
  }
  log.info({ ms: Date.now() - t0 }, "orchestrator stopped");
  return code;
}
