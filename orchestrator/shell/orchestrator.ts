import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Policy } from "../../shared/config/policy.js";
import type { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import type { Plan } from "../../shared/schemas/plan.js";
import type { VmInfo } from "../../shared/schemas/vm.js";
import { AgentIntake, type AgentMessages } from "./agent-intake.js";
import type { Clock } from "./clock.js";
import { ClusterState } from "./cluster-state.js";
import { DecisionLog, type RecordedDecisions } from "./decision-log.js";
import { Dispatcher } from "./dispatcher.js";
import { EventHub } from "./event-hub.js";
import type { HostMapping, HostMappingState } from "./host-mapping.js";
import { MigrationReconciler } from "./migration-reconciler.js";
import { MigrationTracker } from "./migration-tracker.js";
import { MoveQueue } from "./move-queue.js";
import { OperatorApi, type Leadership } from "./operator-api.js";
import { OperatorControls } from "./operator-controls.js";
import type { PendingPlan, PersistedState, StateSink } from "./persisted-state.js";
import { PlanningCycle } from "./planning-cycle.js";
import { BallastError } from "../../shared/errors.js";
import { requestJson } from "../../shared/nats/json.js";
import {
  CpuBaselineResult,
  GuestStateResult,
  PauseVmResult,
  PROBE_TIMEOUT_DEFAULT_S,
  ProbeHostResult,
  RemoveDisksResult,
  StartRecordedVmResult,
  VmDefinition,
} from "../../shared/schemas/agent-api.js";
import { AgentFacts } from "../../shared/schemas/facts.js";
import { agentSubjects } from "../../shared/subjects.js";
import type { z } from "zod";
import { cpuBaseline } from "./cpu-baseline.js";
import { FactsRefresher, type FactsCounters } from "./facts-refresher.js";
import { FactsStore } from "./facts-store.js";
import { classifyMigrationError } from "./incompatibility.js";
import { IncompatiblePairs } from "./incompatible-pairs.js";
import { SourceDiskHandler } from "./source-disks.js";
import type { PowerDriver } from "./power/power-driver.js";
import { PowerManager } from "./power/power-manager.js";
import { PowerCommands } from "./power/power-commands.js";
import { MemoryRecordStore, VmRecords, type RecordStore } from "./vm-records.js";
import { RecoveryManager } from "./recovery/recovery-manager.js";
import { DuplicateGuard } from "./recovery/duplicate-guard.js";
import { answerVmClaim } from "./recovery/vm-claim.js";
import { RecoveryHistory } from "./recovery/recovery-history.js";

/** How much longer than its own limit (failure_probe_timeout) the orchestrator waits for a probe's answer, ms. */
const PROBE_REPLY_MARGIN_MS = 1000;

// The orchestrator's shell, put together: the cluster state fed by the agents, the pure planner
// run each cycle, the decision log, the migration tracker with its reconciler and dispatcher, the
// operator controls and the operator API. Each part lives in its own file; this one only wires
// them and hands out the small interfaces the rest of the program uses (main.ts, the NATS API,
// the dashboard and the metrics), never the parts themselves.

export interface OrchestratorDeps {
  config: OrchestratorConfig;
  nc: NatsConnection;
  log: Logger;
  clock: Clock;
  mapping: () => HostMapping;
  /** The host_mapping file's state; without it the mapping counts as fixed (the demo, tests). */
  mappingState?: () => HostMappingState;
  /** This instance's name (version answers, HA). */
  instance?: string;
  /** HA: who leads; without it this instance always leads. */
  leadership?: Omit<Leadership, "enabled">;
  /** HA: receives every change of the state a new leader must continue from. */
  sink?: StateSink;
  /** Power management: each switchable host's driver (from the power inventory); absent: no inventory. */
  powerDrivers?: ReadonlyMap<string, PowerDriver>;
  /** Where the VM records are kept (main.ts opens the KV bucket); absent: in memory. */
  recordStore?: RecordStore;
}

/** What the dashboard, the metrics and the tests read; nothing here changes anything. */
export interface OrchestratorView {
  readonly policy: Policy;
  /** The CPU trigger in force: load_threshold as the last cycle adapted it, or as configured. */
  cpuTrigger(): number;
  /** The VMs a host's newest metrics list. */
  hostVms(host: string): readonly VmInfo[];
  /** The last periodic cycle's plan. */
  lastPlan(): Plan | undefined;
  /** Plans waiting for approve (not yet expired), oldest first. */
  pendingPlans(): PendingPlan[];
  /**
   * Migration events refused since start: not published by the migration's source agent, or naming
   * another VM or destination than the migration (a forged or confused outcome; the reconciler logs them).
   */
  rejectedOutcomes(): number;
  readonly migrations: Pick<MigrationTracker, "queued" | "ongoing" | "get" | "history" | "busy">;
  readonly decisions: Pick<DecisionLog, "cycle" | "query">;
  readonly cluster: Pick<ClusterState, "metrics" | "locate" | "isFresh" | "knows" | "hostIds">;
  /** Power management; absent without a power inventory. */
  readonly power?: Pick<PowerManager, "hosts" | "power" | "inTransition" | "log" | "onCall">;
  /** Facts: hosts with and without them (of those reporting metrics), refreshes, refusals, incompatible pairs. */
  facts(): FactsCounters & { hostsWithFacts: number; hostsWithoutFacts: number; incompatiblePairs: number };
}

/** How HA instances share the decision log (ha/decision-stream.ts). */
export interface DecisionReplication {
  /** Called with each plan's decisions this instance records. */
  onRecord(fn: (r: RecordedDecisions) => void): void;
  /** Adds decisions another instance recorded. */
  replay(r: RecordedDecisions): void;
}

export class Orchestrator {
  /** The operator API's handlers (served over NATS by api.ts). */
  readonly api: OperatorApi;
  /** Where bus-intake.ts delivers agent messages. */
  readonly intake: AgentMessages;
  /** Events, plans and overload signals. */
  readonly events: EventHub;
  readonly view: OrchestratorView;
  readonly replication: DecisionReplication;
  /** Each managed VM's definition, disks and restart priority (vm-records.ts). */
  readonly records: VmRecords;
  /** Host failure: judge, fence, restart (recovery/recovery-manager.ts). */
  readonly recovery: RecoveryManager;
  /** Host failures, fences, restarts and alerts for `history` and the dashboard (recovery/recovery-history.ts). */
  readonly recoveryHistory: RecoveryHistory;
  private readonly leadership: Leadership;
  private readonly controls: OperatorControls;
  private readonly reconciler: MigrationReconciler;
  private readonly tracker: MigrationTracker;
  private readonly dispatcher: Dispatcher;
  private readonly planning: PlanningCycle;
  private readonly pairs: IncompatiblePairs;
  private readonly sourceDisks: SourceDiskHandler;
  private readonly power: PowerManager | undefined;
  /** A VM running on two hosts is paused on the one its record does not name (recovery/duplicate-guard.ts). */
  private readonly duplicates: DuplicateGuard;

  constructor(private readonly deps: OrchestratorDeps) {
    const { config, clock, log, mapping } = deps;
    const policy = config.policy;
    const state = new ClusterState();
    const tracker = new MigrationTracker(config.history_size);
    const decisions = new DecisionLog(config.decisions_size);
    const controls = new OperatorControls(deps.sink);
    const events = new EventHub(deps.nc, clock, log);
    const requestTimeoutMs = config.nats.request_timeout * 1000;
    /** A request to an agent whose error answer throws (as no answer does). */
    const ask = async <T>(subject: string, body: unknown, data: z.ZodType<T>, timeoutMs = requestTimeoutMs): Promise<T> => {
      const r = await requestJson(deps.nc, subject, body, { timeoutMs, data });
      if (!r.ok) throw new BallastError(r.error.code, r.error.message);
      return r.data;
    };
    const facts = new FactsStore();
    const pairs = new IncompatiblePairs(deps.sink?.incompatible ? (p) => deps.sink!.incompatible!(p) : undefined);
    const refresher = new FactsRefresher({ store: facts, request: (h) => ask(agentSubjects(h).getFacts, {}, AgentFacts), clock, log });
    // Where a VM's facts are now: the host it runs on (else any host listing it).
    const vmHost = (vm: string): string | undefined => {
      const at = state.locate(vm);
      return (at.find((l) => l.info.state === "running") ?? at[0])?.host;
    };
    facts.onChange(() => pairs.prune(facts, vmHost));
    const leadership: Leadership = deps.leadership
      ? { enabled: true, leading: () => deps.leadership!.leading(), leader: () => deps.leadership!.leader(), epoch: () => deps.leadership!.epoch() }
      : { enabled: false, leading: () => true, leader: () => undefined, epoch: () => undefined };
    const dispatcher = new Dispatcher(
      deps.nc,
      state,
      tracker,
      {
        policy: () => policy,
        mapping,
        maintenance: () => controls.maintenance,
        paused: () => controls.pausedReason !== undefined || !leadership.leading(),
        epoch: () => leadership.epoch(),
        requestTimeoutMs,
        ...(deps.sink ? { beforeSend: (r: MigrationRecord) => deps.sink!.dispatched(r) } : {}),
        facts: {
          view: facts,
          publishesFacts: (h) => facts.has(h) || state.factsDigest(h) !== undefined,
          incompatible: (p) => void pairs.record(p, facts),
        },
      },
      clock,
      log,
    );
    const pump = (): void => void dispatcher.pump().catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, "dispatch failed"));
    const reconciler = new MigrationReconciler({ tracker, inventories: state, migrationTimeoutS: config.migration_timeout, log, onFinished: pump });
    const queue = new MoveQueue(tracker, state);
    const power = deps.powerDrivers
      ? new PowerManager({
          drivers: deps.powerDrivers,
          clock,
          policy: () => policy,
          statusIntervalMs: config.power.status_interval * 1000,
          shutdownTimeoutMs: config.power.shutdown_timeout * 1000,
          cluster: { metrics: (h) => state.metrics(h), metricsAt: (h) => state.metricsAt(h) },
          incoming: (h) => [...tracker.queued(), ...tracker.ongoing()].filter((r) => r.destination === h).map((r) => r.vm),
          outgoing: (h) => [...tracker.queued(), ...tracker.ongoing()].filter((r) => r.source === h).map((r) => r.vm),
          leading: () => leadership.leading(),
          log,
          ...(deps.sink?.power ? { onRecord: (r) => deps.sink!.power!(r) } : {}),
          onNote: (n) =>
            decisions.note(
              { planId: "power", mode: "manual", kind: "host", subject: n.host, host: n.host, code: n.code, message: n.message, numbers: n.numbers },
              clock.now(),
            ),
        })
      : undefined;
    const powerPort = power
      ? {
          hosts: () => power.hosts(),
          of: (h: string) => power.power(h),
          capacity: (h: string) => {
            const r = power.record(h);
            return r && r.cpus !== null && r.memTotalMiB !== null ? { cpus: r.cpus, memTotalMiB: r.memTotalMiB } : undefined;
          },
          observe: (now: number) => power.observe(now),
          execute: (a: Parameters<PowerManager["execute"]>[0], by: string) => power.execute(a, by),
        }
      : undefined;
    const planning = new PlanningCycle({
      policy,
      state,
      tracker,
      controls,
      decisions,
      queue,
      reconciler,
      dispatcher,
      events,
      clock,
      mapping,
      facts,
      pairs,
      ...(powerPort ? { power: powerPort } : {}),
    });
    const sourceDisks = new SourceDiskHandler({
      tracker,
      inventories: state,
      removeDisks: (h, body) => ask(agentSubjects(h).removeDisks, body, RemoveDisksResult),
      clock,
      log,
    });
    const records = new VmRecords({
      store: deps.recordStore ?? new MemoryRecordStore(),
      facts: {
        hostIds: () => facts.hostIds(),
        vms: (h) => facts.get(h)?.facts.vms.map((v) => v.name) ?? [],
        vmFacts: (h, vm) => facts.vmFacts(h, vm),
        vmDigest: (h, vm) => facts.vmDigest(h, vm),
      },
      cluster: {
        hostsOf: (vm) =>
          state
            .locate(vm)
            .sort((a, b) => Number(b.info.state === "running") - Number(a.info.state === "running"))
            .map((l) => l.host),
        reporting: (h, now) => state.isFresh(h, now, planning.policy),
        running: (vm, now) =>
          state
            .locate(vm)
            .filter((l) => l.info.state === "running" && state.isFresh(l.host, now, planning.policy))
            .map((l) => l.host),
      },
      fetch: (h, vm) => ask(agentSubjects(h).vmDefinition, { vm }, VmDefinition),
      policy: () => policy,
      leading: () => leadership.leading(),
      epoch: () => leadership.epoch(),
      clock,
      log,
      concurrency: config.records.fetch_concurrency,
      graceMs: config.records.removal_grace * 1000,
    });
    facts.onChange((h) => records.onFacts(h));
    this.records = records;
    const recoveryHistory: RecoveryHistory = new RecoveryHistory(config.history_size, { persisted: () => recovery.persisted() }, clock);
    this.recoveryHistory = recoveryHistory;
    const recovery = new RecoveryManager({
      policy: () => planning.policy,
      clock,
      log,
      leading: () => leadership.leading(),
      epoch: () => leadership.epoch(),
      hosts: () => {
        const m = mapping();
        return [
          ...new Set([
            ...state.hostIds(),
            ...(power?.hosts() ?? []),
            ...records
              .all()
              .map((r) => r.host)
              .filter((h) => m.has(h)),
          ]),
        ];
      },
      lastSeen: (h) => state.lastSeen(h),
      fresh: (h, now) => state.isFresh(h, now, planning.policy),
      address: (h) => mapping().get(h),
      probe: (peer, host, address) => {
        const timeoutS = planning.policy.failure_probe_timeout;
        // The agent answers "no answer" itself at timeoutS: the request waits a little longer. The
        // default is not sent: agents older than the key refuse a request that names it.
        const body = timeoutS === PROBE_TIMEOUT_DEFAULT_S ? { host, address } : { host, address, timeoutS };
        return ask(agentSubjects(peer).probeHost, body, ProbeHostResult, Math.max(requestTimeoutMs, timeoutS * 1000 + PROBE_REPLY_MARGIN_MS));
      },
      ...(power
        ? {
            power: {
              managed: (h: string) => power.managed(h),
              // Off is silent on purpose only for a host power management could have switched
              // off (it held no VM): a host that went off while its inventory listed VMs lost
              // its power, which is exactly a failure.
              state: (h: string) => {
                const p = power.power(h);
                return !p || (p.state === "off" && p.emptySince === null) ? null : p.state;
              },
              readBmc: (h: string, by: string) => power.readBmc(h, by),
              fence: (h: string, by: string) => power.fence(h, by),
            },
          }
        : {}),
      records: () => records.all(),
      recoverable: () => records.recoverable(),
      snapshot: (now) => planning.snapshot(now),
      start: (destination, body) => ask(agentSubjects(destination).startRecordedVm, body, StartRecordedVmResult, planning.policy.restart_start_timeout * 1000),
      guestState: (destination, vm) => ask(agentSubjects(destination).guestState, { vm }, GuestStateResult),
      sink: recoveryHistory.sink(
        deps.sink?.recoveryHost && deps.sink.restart
          ? { host: (r) => deps.sink!.recoveryHost!(r), restart: (r) => deps.sink!.restart!(r), forget: (r) => deps.sink!.forgetRestart?.(r) }
          : undefined,
      ),
      note: (d, at) =>
        decisions.note(
          {
            planId: "recovery",
            mode: "manual",
            kind: d.kind,
            subject: d.subject,
            ...(d.kind === "host" ? { host: d.subject } : {}),
            ...(d.kind === "vm" ? { vm: d.subject } : {}),
            code: d.code,
            message: d.message,
            numbers: d.numbers,
          },
          at,
        ),
      alert: (a) => {
        log.warn({ alert: a.alert, host: a.host, code: a.code, numbers: a.numbers }, a.message);
        events.publish({ type: "recovery-alert", ...a });
        recoveryHistory.alert(a);
      },
    });
    this.recovery = recovery;
    this.duplicates = new DuplicateGuard({
      hostIds: () => state.hostIds(),
      inventory: (h) => state.metrics(h)?.vms,
      inventoryAt: (h) => state.metricsAt(h),
      fresh: (h, now) => state.isFresh(h, now, planning.policy),
      recordHost: (vm) => records.get(vm)?.host,
      migrating: (vm) => tracker.busy(vm),
      lastMoveAt: (vm) => tracker.history({ vm, limit: 1 })[0]?.finishedAt,
      pause: (h, body) => ask(agentSubjects(h).pauseVm, body, PauseVmResult),
      leading: () => leadership.leading(),
      epoch: () => leadership.epoch(),
      note: (d, at) =>
        decisions.note({ planId: "recovery", mode: "manual", kind: "vm", subject: d.vm, vm: d.vm, code: d.code, message: d.message, numbers: d.numbers }, at),
      alert: (a) => {
        log.warn({ alert: a.alert, host: a.host, code: a.code, numbers: a.numbers }, a.message);
        events.publish({ type: "recovery-alert", ...a });
      },
      clock,
      log,
    });
    tracker.onChange((r) => {
      if (r.state === "SUCCEEDED") records.onMigrated(r.vm, r.destination);
      deps.sink?.migration(r);
      events.publish({ type: "migration", record: r });
      if (r.state === "SUCCEEDED") sourceDisks.onFinished(r);
      else sourceDisks.onFailedCopy(r);
      // libvirt refused the VM there for good (incompatibility.ts): not planned again until facts change.
      if (r.state === "FAILED" && r.startedAt !== undefined && !pairs.has(r.vm, r.destination) && classifyMigrationError(r.error) !== undefined) {
        pairs.record({ vm: r.vm, vmHost: r.source, destination: r.destination, since: r.finishedAt ?? clock.now(), error: r.error! }, facts);
        log.info({ requestId: r.requestId, vm: r.vm, destination: r.destination, error: r.error }, "pair recorded incompatible");
      }
    });

    this.leadership = leadership;
    this.controls = controls;
    this.reconciler = reconciler;
    this.tracker = tracker;
    this.dispatcher = dispatcher;
    this.planning = planning;
    this.pairs = pairs;
    this.sourceDisks = sourceDisks;
    this.events = events;
    this.power = power;
    let api: OperatorApi | undefined = undefined;
    const powerCommands = new PowerCommands({
      manager: power,
      policy: () => policy,
      clock,
      knows: (h) => state.knows(h),
      propose: (plan, expiresAt) => controls.propose(plan, expiresAt),
      assertLeader: () => api!.assertLeader(),
    });
    api = this.api = new OperatorApi({
      instance: deps.instance ?? "orchestrator",
      records,
      leadership,
      state,
      tracker,
      decisions,
      controls,
      cycle: planning,
      queue,
      dispatcher,
      clock,
      mapping,
      mappingState: deps.mappingState ?? (() => ({ path: null, hosts: mapping().size, loadedAt: null, error: null, errorAt: null, warnings: [] })),
      facts,
      pairs,
      cpuBaseline: (q) =>
        cpuBaseline(q, {
          facts,
          knows: (h) => state.knows(h),
          fresh: (h) => state.isFresh(h, clock.now(), planning.policy),
          ask: (h, cpus) => ask(agentSubjects(h).cpuBaseline, { cpus }, CpuBaselineResult),
          log,
        }),
      power: powerCommands,
      recovery,
      vmClaim: (req) =>
        answerVmClaim(req, {
          recordHost: (vm) => records.get(vm)?.host,
          locate: (vm) => state.locate(vm).map((l) => ({ host: l.host, state: l.info.state })),
          restarts: () => recovery.view().restarts,
          stateOf: (h) => recovery.stateOf(h),
        }),
      recoveryHistory,
      ...(power ? { executePower: (a: Parameters<PowerManager["execute"]>[0], by: string) => power.execute(a, by) } : {}),
    });
    this.intake = new AgentIntake({
      state,
      reconciler,
      events,
      clock,
      policy: () => planning.policy,
      trigger: () => planning.triggerPolicy(),
      facts: {
        ingest: (f, at) => facts.ingest(f, at),
        heartbeat: (h, digest) => refresher.onHeartbeat(h, digest),
        rejected: () => refresher.onRejected(),
        kept: (h) => refresher.onFacts(h),
        inventory: (h) => {
          if (sourceDisks.pending > 0) sourceDisks.check();
          records.onInventory(h);
        },
      },
    });
    this.replication = { onRecord: (fn) => decisions.onRecord(fn), replay: (r) => decisions.replay(r) };
    this.view = {
      policy,
      cpuTrigger: () => planning.triggerPolicy().load_threshold,
      hostVms: (host) => state.metrics(host)?.vms ?? [],
      lastPlan: () => planning.lastPlan(),
      pendingPlans: () => controls.pending(clock.now()),
      rejectedOutcomes: () => reconciler.rejectedOutcomes,
      migrations: tracker,
      decisions,
      cluster: state,
      ...(power ? { power } : {}),
      facts: () => {
        const known = state.hostIds();
        const withFacts = known.filter((h) => facts.has(h)).length;
        return { ...refresher.counters, hostsWithFacts: withFacts, hostsWithoutFacts: known.length - withFacts, incompatiblePairs: pairs.size };
      },
    };
  }

  /** Is this instance the one that may act (always, without HA)? */
  get leading(): boolean {
    return this.leadership.leading();
  }

  /** One periodic cycle (main.ts's timer and early overload signal). */
  cycle(): Promise<{ plan: Plan; queued: number }> {
    return this.planning.run();
  }

  /** Power management's periodic work (main.ts's timer): read the hosts' power states, follow switches. */
  powerTick(): Promise<void> {
    return this.power?.tick() ?? Promise.resolve();
  }

  /** The VM records' periodic pass (main.ts's timer): fetch what is missing, remove what is long gone. */
  recordsTick(): void {
    this.records.sweep(this.deps.clock.now());
  }

  /** Host failure's periodic pass (main.ts's timer): judge silent hosts, fence, restart. */
  recoveryTick(): Promise<void> {
    return Promise.all([this.recovery.tick(), this.duplicates.check()]).then(() => undefined);
  }

  /** Restarted guests are awaited before the next restart priority (main.ts then runs a recovery pass every second). */
  recoveryAwaitsGuests(): boolean {
    return this.recovery.awaitsGuests();
  }

  /** Starts what can start now (a new leader, after adopting the shared state). */
  pump(): Promise<void> {
    return this.dispatcher.pump();
  }

  /**
   * Continues from the shared state (a new HA leader): replaces migrations, maintenance, frozen
   * VMs, pending plans and pause; applies outcome events seen while standing by.
   */
  adopt(st: PersistedState): void {
    this.reconciler.adopt(st.migrations, this.deps.clock.now());
    this.controls.restore(st);
    this.pairs.restore(st.incompatible ?? []);
    this.power?.restore(st.power ?? []);
    this.recovery.restore(st.recovery?.hosts ?? [], st.recovery?.restarts ?? []);
    this.recoveryHistory.restored(st.recovery?.hosts ?? []);
    // Source disks a previous leader was still waiting to remove (or keep).
    for (const r of st.migrations) if (r.state === "SUCCEEDED" && r.sourceDisks) this.sourceDisks.onFinished(r);
  }

  /** The state a new leader continues from (tests, the HA store's first write). */
  persistedState(): PersistedState {
    const t = this.tracker;
    return {
      migrations: [...t.queued(), ...t.ongoing(), ...t.history({ limit: Number.MAX_SAFE_INTEGER })],
      ...this.controls.persisted(),
      incompatible: this.pairs.all(),
      ...(this.power ? { power: this.power.persisted() } : {}),
      recovery: this.recovery.persisted(),
    };
  }
}
