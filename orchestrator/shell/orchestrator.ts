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
  private readonly leadership: Leadership;
  private readonly controls: OperatorControls;
  private readonly reconciler: MigrationReconciler;
  private readonly tracker: MigrationTracker;
  private readonly dispatcher: Dispatcher;
  private readonly planning: PlanningCycle;

  constructor(private readonly deps: OrchestratorDeps) {
    const { config, clock, log, mapping } = deps;
    const policy = config.policy;
    const state = new ClusterState();
    const tracker = new MigrationTracker(config.history_size);
    const decisions = new DecisionLog(config.decisions_size);
    const controls = new OperatorControls(deps.sink);
    const events = new EventHub(deps.nc, clock, log);
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
        requestTimeoutMs: config.nats.request_timeout * 1000,
        ...(deps.sink ? { beforeSend: (r: MigrationRecord) => deps.sink!.dispatched(r) } : {}),
      },
      clock,
      log,
    );
    const pump = (): void => void dispatcher.pump().catch((e: unknown) => log.error({ err: e instanceof Error ? e.message : String(e) }, "dispatch failed"));
    const reconciler = new MigrationReconciler({ tracker, inventories: state, migrationTimeoutS: config.migration_timeout, log, onFinished: pump });
    const queue = new MoveQueue(tracker, state);
    const planning = new PlanningCycle({ policy, state, tracker, controls, decisions, queue, reconciler, dispatcher, events, clock, mapping });
    tracker.onChange((r) => {
      deps.sink?.migration(r);
      events.publish({ type: "migration", record: r });
    });

    this.leadership = leadership;
    this.controls = controls;
    this.reconciler = reconciler;
    this.tracker = tracker;
    this.dispatcher = dispatcher;
    this.planning = planning;
    this.events = events;
    this.api = new OperatorApi({
      instance: deps.instance ?? "orchestrator",
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
    });
    this.intake = new AgentIntake({ state, reconciler, events, clock, policy: () => planning.policy, trigger: () => planning.triggerPolicy() });
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
  }

  /** The state a new leader continues from (tests, the HA store's first write). */
  persistedState(): PersistedState {
    const t = this.tracker;
    return { migrations: [...t.queued(), ...t.ongoing(), ...t.history({ limit: Number.MAX_SAFE_INTEGER })], ...this.controls.persisted() };
  }
}
