import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "pino";
import type { Policy } from "../../shared/config/policy.js";
import type { OrchestratorConfig } from "../../shared/config/orchestrator-config.js";
import type { HostMetrics, Heartbeat } from "../../shared/schemas/host-metrics.js";
import type { MigrationEvent } from "../../shared/schemas/agent-api.js";
import type { EvacuateRequest, OrchMigrateRequest, PlanQuery } from "../../shared/schemas/orchestrator-api.js";
import { orchestratorSubjects } from "../../shared/subjects.js";
import { BallastError } from "../../shared/errors.js";
import { plan as makePlan, preflightEvacuation } from "../core/planner.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import type { Plan, PlanRequest, PlannedMove } from "../../shared/schemas/plan.js";
import { ClusterState } from "./cluster-state.js";
import { MigrationTracker } from "./migration-tracker.js";
import type { MigrationRecord } from "./migration-record.js";
import { DecisionLog } from "./decision-log.js";
import { Dispatcher } from "./dispatcher.js";
import type { HostMapping } from "./host-mapping.js";
import type { Clock } from "./clock.js";

export const ORCHESTRATOR_VERSION = "0.1.0";

/** What the orchestrator publishes on ballast.orch.events: `migration` (with its record) or `cycle`. */
export type OrchestratorEvent = { type: string } & Record<string, unknown>;

/** Bounds of what the orchestrator remembers for operators: pending plans, idempotent answers. */
const MAX_PENDING_PLANS = 100;
const MAX_REMEMBERED = 10_000;

interface PendingPlan {
  plan: Plan;
  expiresAt: number;
}

export interface OrchestratorDeps {
  config: OrchestratorConfig;
  nc: NatsConnection;
  log: Logger;
  clock: Clock;
  mapping: () => HostMapping;
  /** Leadership epoch to stamp on commands (HA); undefined when running alone. */
  epoch?: () => number | undefined;
  /** Whether this instance may dispatch (HA leader); default always. */
  isLeader?: () => boolean;
  /** HA: who leads now (instance name), for status and NOT_LEADER answers. */
  leaderName?: () => string | undefined;
  /** HA: receives every change of the state a new leader must continue from. */
  sink?: StateSink;
}

/** What a standby needs to continue as leader (HA); the leader writes it to a shared store. */
export interface PersistedState {
  migrations: MigrationRecord[];
  maintenance: string[];
  frozen: string[];
  pending: { plan: Plan; expiresAt: number }[];
  pausedReason: string | undefined;
}

/** Receives state changes (HA: written to the JetStream KV bucket by the leader). */
export interface StateSink {
  migration(r: MigrationRecord): void;
  /** Awaited before a migrate command goes out: the store must know it was sent. */
  dispatched(r: MigrationRecord): Promise<void>;
  maintenance(hosts: ReadonlySet<string>): void;
  frozen(vms: ReadonlySet<string>): void;
  pending(planId: string, p: { plan: Plan; expiresAt: number } | undefined): void;
  paused(reason: string | undefined): void;
}

/**
 * The orchestrator's shell: feeds agent messages into state, runs the pure planner each cycle,
 * logs every decision, and hands moves to the dispatcher according to the automation level.
 */
export class Orchestrator {
  readonly state = new ClusterState();
  readonly tracker: MigrationTracker;
  readonly decisions: DecisionLog;
  readonly dispatcher: Dispatcher;
  private readonly maintenance = new Set<string>();
  private readonly frozen = new Set<string>();
  private readonly pending = new Map<string, PendingPlan>();
  private readonly operatorAnswers = new Map<string, Promise<{ plan: Plan; queued: MigrationRecord[] }>>();
  private pausedReason: string | undefined;
  private lastPlan: Plan | undefined;
  /**
   * When the last cycle adapted its CPU levels to the measured swing (orchestrator/core/headroom.ts):
   * the policy it adapted, that policy with the adapted trigger, and the plan's explanation.
   */
  private adapted: { from: Policy; trigger: Policy; why: string } | undefined;
  private requestSeq = 0;
  private policy: Policy;
  private readonly eventListeners: ((ev: OrchestratorEvent) => void)[] = [];
  private readonly planListeners: ((p: Plan, elapsedMs: number) => void)[] = [];
  private readonly overloadListeners: ((host: string) => void)[] = [];
  /** Outcome events of migrations this instance does not track (a standby): applied on adopt(). */
  private readonly unmatchedOutcomes = new Map<string, MigrationEvent>();
  /** Migrations continued from a previous leader: reconcile() may settle them from inventories. */
  private readonly adopted = new Set<string>();

  constructor(private readonly deps: OrchestratorDeps) {
    this.policy = deps.config.policy;
    this.tracker = new MigrationTracker(deps.config.history_size);
    this.decisions = new DecisionLog(deps.config.decisions_size);
    this.dispatcher = new Dispatcher(
      deps.nc,
      this.state,
      this.tracker,
      {
        policy: () => this.policy,
        mapping: deps.mapping,
        maintenance: () => this.maintenance,
        paused: () => this.pausedReason !== undefined || !(deps.isLeader?.() ?? true),
        epoch: () => deps.epoch?.(),
        requestTimeoutMs: deps.config.nats.request_timeout * 1000,
        ...(deps.sink ? { beforeSend: (r: MigrationRecord) => deps.sink!.dispatched(r) } : {}),
      },
      deps.clock,
      deps.log,
    );
    this.tracker.onChange((r) => {
      deps.sink?.migration(r);
      this.publish({ type: "migration", record: r });
    });
  }

  /** Is this instance the one that may act (always, without HA)? */
  get leading(): boolean {
    return this.deps.isLeader?.() ?? true;
  }

  /**
   * Continues from the shared state (a new HA leader): replaces migrations, maintenance, frozen
   * VMs, pending plans and pause; applies outcome events seen while standing by.
   */
  adopt(st: PersistedState): void {
    this.tracker.restore(st.migrations);
    this.maintenance.clear();
    for (const h of st.maintenance) this.maintenance.add(h);
    this.frozen.clear();
    for (const v of st.frozen) this.frozen.add(v);
    this.pending.clear();
    for (const p of [...st.pending].sort((a, b) => a.expiresAt - b.expiresAt)) this.pending.set(p.plan.id, p);
    this.pausedReason = st.pausedReason;
    this.adopted.clear();
    for (const r of this.tracker.ongoing()) this.adopted.add(r.requestId);
    const now = this.deps.clock.now();
    for (const r of this.tracker.ongoing()) {
      const ev = this.unmatchedOutcomes.get(r.requestId);
      if (ev) this.tracker.applyEvent(ev, now);
    }
    this.unmatchedOutcomes.clear();
  }

  /** The state a new leader continues from (tests, the HA store's first write). */
  persistedState(): PersistedState {
    return {
      migrations: [...this.tracker.queued(), ...this.tracker.ongoing(), ...this.tracker.history({ limit: Number.MAX_SAFE_INTEGER })],
      maintenance: [...this.maintenance],
      frozen: [...this.frozen],
      pending: [...this.pending.values()],
      pausedReason: this.pausedReason,
    };
  }

  /** HA: the leader as this instance knows it (undefined without HA or during an election). */
  get leaderInstance(): string | undefined {
    return this.deps.leaderName?.();
  }

  get currentPolicy(): Policy {
    return this.policy;
  }

  /** The CPU trigger in force: load_threshold as the last cycle adapted it, or as configured. */
  get effectiveLoadThreshold(): number {
    return this.triggerPolicy().load_threshold;
  }

  private triggerPolicy(): Policy {
    return this.currentAdaptation()?.trigger ?? this.policy;
  }

  /** The last cycle's adaptation, unless the policy was replaced since. */
  private currentAdaptation(): { trigger: Policy; why: string } | undefined {
    const a = this.adapted;
    return a !== undefined && a.from === this.policy ? a : undefined;
  }

  // ---- intake ---------------------------------------------------------------------------

  onMetrics(m: HostMetrics): void {
    const hotspots = this.policy.strategies.includes("hotspot");
    // Judged on the trigger the planner uses now, so an adapted (higher) trigger plans on its own crossing.
    const trigger = this.triggerPolicy();
    const before = hotspots && this.state.overloaded(m.host, trigger);
    if (!this.state.ingestMetrics(m, this.deps.clock.now(), this.policy)) return;
    // The sample that completes a host's max_over streak plans at once: waiting for the cycle
    // timer would add up to a whole interval to the reaction (DRS reacts on the metric, not a
    // clock). Only the crossing counts, so a host that stays hot does not plan on every sample.
    if (hotspots && !before && this.state.overloaded(m.host, trigger)) for (const fn of this.overloadListeners) fn(m.host);
  }

  /** Called when a host's metrics have just stayed over a threshold for max_over (main runs a cycle). */
  onOverload(fn: (host: string) => void): void {
    this.overloadListeners.push(fn);
  }

  onHeartbeat(h: Heartbeat): void {
    this.state.ingestHeartbeat(h, this.deps.clock.now());
  }

  onMigrationEvent(ev: MigrationEvent): void {
    const r = this.tracker.applyEvent(ev, this.deps.clock.now());
    if (!r && ev.type !== "migration.started" && ev.type !== "migration.progress") {
      this.unmatchedOutcomes.set(ev.requestId, ev);
      if (this.unmatchedOutcomes.size > MAX_REMEMBERED) this.unmatchedOutcomes.delete(this.unmatchedOutcomes.keys().next().value!);
    }
    if (r && r.state !== "ONGOING") {
      this.adopted.delete(r.requestId);
      this.deps.log.info({ requestId: r.requestId, vm: r.vm, state: r.state, stats: r.stats, error: r.error }, "migration finished");
      void this.dispatcher.pump();
    }
  }

  // ---- planning -------------------------------------------------------------------------

  snapshot(now = this.deps.clock.now()): ClusterSnapshot {
    return this.state.snapshot({
      now,
      mapping: this.deps.mapping(),
      maintenance: this.maintenance,
      inFlight: this.tracker.inFlight(),
      history: this.tracker.pastMoves(now - Math.max(this.policy.pingpong_window, this.policy.vm_cooldown_max) * 1000),
      frozenVms: [...this.frozen],
    });
  }

  planFor(req: PlanRequest, now = this.deps.clock.now()): Plan {
    const t0 = performance.now();
    const p = makePlan(this.snapshot(now), this.policy, now, req);
    const elapsed = performance.now() - t0;
    for (const fn of this.planListeners) fn(p, elapsed);
    return p;
  }

  /** Called after every plan() with the plan and how long it took, ms (metrics). */
  onPlan(fn: (p: Plan, elapsedMs: number) => void): void {
    this.planListeners.push(fn);
  }

  /** Called with every event also published on ballast.orch.events (dashboard, metrics). */
  onEvent(fn: (ev: OrchestratorEvent) => void): void {
    this.eventListeners.push(fn);
  }

  /** One periodic cycle: settle stragglers, plan, log, and act per the automation level. */
  async cycle(): Promise<{ plan: Plan; queued: number }> {
    const now = this.deps.clock.now();
    this.reconcile(now);
    this.expirePlans(now);
    const p = this.planFor({ mode: "cycle" }, now);
    this.lastPlan = p;
    const note = p.decisions.find((d) => d.code === "CPU_HEADROOM_ADAPTED");
    const level = note?.numbers["load_threshold"];
    this.adapted = note && typeof level === "number" ? { from: this.policy, trigger: { ...this.policy, load_threshold: level }, why: note.message } : undefined;
    this.decisions.record(p, now);
    const frozenBefore = this.frozen.size;
    for (const vm of p.frozen) this.frozen.add(vm);
    if (this.frozen.size !== frozenBefore) this.deps.sink?.frozen(this.frozen);
    let queued = 0;
    if (p.moves.length > 0) {
      const automation = this.policy.automation;
      if (automation === "full" && !this.pausedReason) queued = this.enqueue(p.moves, p.id, now);
      else this.propose(p, now);
    }
    this.publish({ type: "cycle", planId: p.id, moves: p.moves.length, decisions: p.decisions.length, queued });
    await this.dispatcher.pump();
    return { plan: p, queued };
  }

  private enqueue(moves: PlannedMove[], planId: string, now: number, requestId?: string): number {
    let n = 0;
    for (const m of moves) {
      if (this.tracker.busy(m.vm)) continue;
      const vm = this.snapshotVm(m.vm);
      this.tracker.enqueue({
        requestId: requestId !== undefined && moves.length === 1 ? requestId : this.newRequestId(now),
        vm: m.vm,
        source: m.source,
        destination: m.destination,
        strategy: m.strategy,
        code: m.code,
        reason: m.reason,
        numbers: m.numbers,
        planId,
        state: "PENDING",
        queuedAt: now,
        memMiB: vm?.memMiB ?? m.costMiB,
        cpuPercent: vm?.cpuPercent ?? 0,
      });
      n++;
    }
    return n;
  }

  private snapshotVm(name: string): { memMiB: number; cpuPercent: number } | undefined {
    const loc = this.state.locate(name).find((l) => l.info.state === "running") ?? this.state.locate(name)[0];
    return loc ? { memMiB: loc.info.memMiB, cpuPercent: loc.info.cpuPercent ?? 0 } : undefined;
  }

  private newRequestId(now: number): string {
    this.requestSeq = (this.requestSeq + 1) % 1_000_000;
    return `m-${now.toString(36)}-${this.requestSeq.toString(36)}-${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
  }

  /**
   * Settles migrations whose outcome event never came: the source agent restarted since the
   * dispatch, or the timeout passed. The inventories decide: where the VM runs is the truth.
   */
  reconcile(now: number): void {
    for (const r of this.tracker.ongoing()) {
      const started = r.startedAt ?? r.queuedAt;
      const restarted = (this.state.agentStartedAt(r.source) ?? 0) > started;
      const timedOut = now - started > this.deps.config.migration_timeout * 1000;
      const adopted = this.adopted.has(r.requestId);
      if (!restarted && !timedOut && !adopted) continue;
      const listed = this.state.locate(r.vm);
      const running = listed.filter((l) => l.info.state === "running");
      const onDest = running.some((l) => l.host === r.destination);
      const onSource = running.some((l) => l.host === r.source);
      // A restarted agent does not know the job its predecessor started (libvirtd goes on with a
      // p2p migration): the destination's incoming, not yet running copy says it is still under way.
      const incoming = listed.some((l) => l.host === r.destination && l.info.state !== "running");
      const stillMigrating = running.some((l) => l.info.migrating) || incoming;
      if (adopted && !restarted && !timedOut) {
        // Continued from a previous leader whose outcome event may have come before this instance
        // listened: the inventories settle a finished success; anything else waits for its event.
        if (onDest && !onSource && !stillMigrating) {
          this.adopted.delete(r.requestId);
          this.tracker.finish(r, "SUCCEEDED", now, "outcome taken from inventories: the migration finished while leadership changed");
        }
        continue;
      }
      if (onDest && !onSource) this.tracker.finish(r, "SUCCEEDED", now, restarted ? "outcome taken from inventories: source agent restarted during the migration" : undefined);
      else if (onSource && !stillMigrating && !onDest)
        this.tracker.finish(r, "FAILED", now, restarted ? `source agent ${r.source} restarted during the migration; ${r.vm} stayed on ${r.source}` : `no outcome within ${this.deps.config.migration_timeout}s; ${r.vm} is still on ${r.source}`);
      else if (timedOut && running.length === 0) this.tracker.finish(r, "FAILED", now, `no outcome within ${this.deps.config.migration_timeout}s and ${r.vm} is not running anywhere reported`);
    }
  }

  /** Keeps a plan for `approve`; the oldest go first when too many pile up. */
  private propose(p: Plan, now: number): void {
    this.pending.delete(p.id);
    const entry = { plan: p, expiresAt: now + this.policy.plan_ttl * 1000 };
    this.pending.set(p.id, entry);
    this.deps.sink?.pending(p.id, entry);
    while (this.pending.size > MAX_PENDING_PLANS) this.dropPlan(this.pending.keys().next().value!);
  }

  private dropPlan(id: string): void {
    if (this.pending.delete(id)) this.deps.sink?.pending(id, undefined);
  }

  private expirePlans(now: number): void {
    for (const [id, p] of this.pending) if (p.expiresAt <= now) this.dropPlan(id);
  }

  // ---- operator API ---------------------------------------------------------------------

  status(): unknown {
    const now = this.deps.clock.now();
    return {
      now,
      paused: this.pausedReason !== undefined,
      pausedReason: this.pausedReason ?? null,
      automation: this.policy.automation,
      leader: this.leading,
      ha: this.deps.isLeader ? { role: this.leading ? "leader" : "standby", epoch: this.deps.epoch?.() ?? null, leaderInstance: this.deps.leaderName?.() ?? null } : null,
      cycle: this.decisions.cycle,
      hosts: this.state.statuses(now, this.policy, this.deps.mapping(), this.maintenance),
      migrations: { queued: this.tracker.queued().map(brief), ongoing: this.tracker.ongoing().map(brief) },
      frozenVms: [...this.frozen].sort(),
      pendingPlans: [...this.pending.values()].map((p) => ({ id: p.plan.id, moves: p.plan.moves.length, expiresAt: p.expiresAt })),
    };
  }

  planQuery(q: PlanQuery): Plan {
    const req: PlanRequest =
      q.mode === "evacuate"
        ? { mode: "evacuate", host: this.knownHost(q.host!), placement: q.placement ?? "stripe", useEmptyHosts: q.use_empty_hosts ?? false }
        : { mode: q.mode };
    const p = this.planFor(req);
    // Any dry-run plan can be applied by id (`approve`) until it expires or the cluster drifts.
    // A standby's plans cannot be approved (the leader does not know them): it only shows them.
    if (p.moves.length > 0 && this.leading) this.propose(p, this.deps.clock.now());
    return p;
  }

  async runNow(): Promise<{ plan: Plan; queued: number }> {
    this.assertLeader();
    return this.cycle();
  }

  async approve(planId: string): Promise<{ planId: string; queued: number }> {
    this.assertActive();
    const now = this.deps.clock.now();
    this.expirePlans(now);
    const p = this.pending.get(planId);
    if (!p) throw new BallastError("UNKNOWN_PLAN", `no pending plan ${planId} (it may have expired after ${this.policy.plan_ttl}s or been applied)`);
    const current = this.snapshot(now);
    const drift = p.plan.moves.filter((m) => !current.vms.some((v) => v.name === m.vm && v.host === m.source && v.state === "running"));
    this.dropPlan(planId);
    if (drift.length > 0)
      throw new BallastError("PLAN_EXPIRED", `plan ${planId} was cancelled: the cluster drifted since it was made (${drift.map((m) => `${m.vm} is no longer running on ${m.source}`).join("; ")})`);
    if (p.plan.mode === "evacuate") {
      for (const m of p.plan.moves) this.maintenance.add(m.source);
      this.deps.sink?.maintenance(this.maintenance);
    }
    const queued = this.enqueue(p.plan.moves, planId, now);
    await this.dispatcher.pump();
    return { planId, queued };
  }

  /**
   * An operator migrate with a request_id is idempotent: the same id gets the first answer (or
   * the same error) again and never queues a second migration. Only the instance that acts
   * remembers: a standby's or a paused leader's refusal is not an answer to the request.
   */
  migrate(req: OrchMigrateRequest): Promise<{ plan: Plan; queued: MigrationRecord[] }> {
    if (req.request_id === undefined) return this.migrateOnce(req);
    const seen = this.operatorAnswers.get(req.request_id);
    if (seen) return seen;
    // NOT_LEADER and PAUSED say nothing about the request: were they remembered, the same id
    // sent again after a failover (to this standby, now leading) or a resume would be refused forever.
    try {
      this.assertActive();
    } catch (e) {
      return Promise.reject(e);
    }
    const answer = this.migrateOnce(req);
    this.operatorAnswers.set(req.request_id, answer);
    if (this.operatorAnswers.size > MAX_REMEMBERED) this.operatorAnswers.delete(this.operatorAnswers.keys().next().value!);
    return answer;
  }

  private async migrateOnce(req: OrchMigrateRequest): Promise<{ plan: Plan; queued: MigrationRecord[] }> {
    this.assertActive();
    const located = this.state.locate(req.vm);
    if (located.length === 0) throw new BallastError("UNKNOWN_VM", `VM ${req.vm} is not reported by any agent`);
    if (req.to !== undefined) this.knownHost(req.to);
    if (this.tracker.busy(req.vm)) throw new BallastError("ALREADY_MIGRATING", `VM ${req.vm} is already queued or migrating`);
    const now = this.deps.clock.now();
    const p = this.planFor({ mode: "manual", vm: req.vm, ...(req.to !== undefined ? { destination: req.to } : {}) }, now);
    this.decisions.record(p, now);
    if (p.moves.length === 0) {
      const why = p.decisions.filter((d) => d.vm === req.vm || d.subject === req.vm).map((d) => `${d.subject}: ${d.message}`);
      throw new BallastError("NO_DESTINATION", `cannot move ${req.vm}${req.to ? ` to ${req.to}` : ""}: ${why.join("; ") || "no valid destination"}`, { details: { decisions: p.decisions } });
    }
    this.enqueue(p.moves, p.id, now, req.request_id);
    const queued = this.tracker.queued().filter((r) => r.planId === p.id);
    await this.dispatcher.pump();
    return { plan: p, queued: queued.map((r) => ({ ...r })) };
  }

  async evacuate(req: EvacuateRequest): Promise<unknown> {
    const host = this.knownHost(req.host);
    const now = this.deps.clock.now();
    const pre = preflightEvacuation(this.snapshot(now), this.policy, now, host, req.placement, req.use_empty_hosts);
    if (req.dry_run) return { host, canDrain: pre.canDrain, reasons: pre.reasons, plan: pre.plan };
    this.assertActive();
    if (!pre.canDrain)
      throw new BallastError("NO_DESTINATION", `host ${host} cannot be drained now: ${pre.reasons.map((d) => `${d.subject}: ${d.message}`).join("; ")}`, { details: { reasons: pre.reasons } });
    this.maintenance.add(host);
    this.deps.sink?.maintenance(this.maintenance);
    this.decisions.record(pre.plan, now);
    const queued = this.enqueue(pre.plan.moves, pre.plan.id, now);
    await this.dispatcher.pump();
    return { host, maintenance: true, planId: pre.plan.id, queued, moves: pre.plan.moves };
  }

  release(req: { host?: string; vm?: string }): unknown {
    this.assertLeader();
    if (req.host !== undefined) {
      const host = this.knownHost(req.host);
      const was = this.maintenance.delete(host);
      if (was) this.deps.sink?.maintenance(this.maintenance);
      return { host, released: was };
    }
    const was = this.frozen.delete(req.vm!);
    if (was) this.deps.sink?.frozen(this.frozen);
    return { vm: req.vm, released: was };
  }

  pause(reason?: string): unknown {
    this.assertLeader();
    this.pausedReason = reason ?? "paused by operator";
    this.deps.sink?.paused(this.pausedReason);
    return { paused: true, reason: this.pausedReason, queued: this.tracker.queued().length, ongoing: this.tracker.ongoing().length };
  }

  async resume(): Promise<unknown> {
    this.assertLeader();
    const was = this.pausedReason !== undefined;
    this.pausedReason = undefined;
    if (was) this.deps.sink?.paused(undefined);
    await this.dispatcher.pump();
    return { paused: false, wasPaused: was };
  }

  history(filter: { vm?: string; host?: string; limit: number }): MigrationRecord[] {
    return this.tracker.history(filter);
  }

  explain(vm: string, cycles: number): unknown {
    const located = this.state.locate(vm);
    const history = this.tracker.history({ vm, limit: 20 });
    if (located.length === 0 && history.length === 0) throw new BallastError("UNKNOWN_VM", `VM ${vm} is not reported by any agent and has no history`);
    const sinceCycle = Math.max(1, this.decisions.cycle - cycles + 1);
    const decisions = this.decisions.query({ vm, limit: 200, sinceCycle });
    const placement = history.find((r) => r.state === "SUCCEEDED" && located.some((l) => l.host === r.destination));
    return {
      vm,
      runningOn: located.filter((l) => l.info.state === "running").map((l) => l.host),
      reportedBy: located.map((l) => ({ host: l.host, state: l.info.state, migrating: l.info.migrating, cpuPercent: l.info.cpuPercent, memMiB: l.info.memMiB })),
      whyHere: placement
        ? `moved here from ${placement.source} at ${new Date(placement.finishedAt!).toISOString()} by ${placement.strategy}: ${placement.reason}`
        : "no recorded move brought it here (placed before Ballast saw it, or by an operator outside Ballast)",
      frozen: this.frozen.has(vm),
      inFlight: this.tracker.busy(vm),
      // The CPU levels its last cycle judged with, adapted to the measured swing or as configured.
      cpuLevels: this.currentAdaptation()?.why ?? `as configured (load_threshold ${this.policy.load_threshold} %)`,
      lastCycles: { from: sinceCycle, to: this.decisions.cycle, decisions },
      history,
    };
  }

  lastPlanSummary(): Plan | undefined {
    return this.lastPlan;
  }

  /** Plans waiting for `approve` (not yet expired), oldest first. */
  pendingPlans(): { plan: Plan; expiresAt: number }[] {
    const now = this.deps.clock.now();
    return [...this.pending.values()].filter((p) => p.expiresAt > now).map((p) => ({ plan: p.plan, expiresAt: p.expiresAt }));
  }

  private knownHost(host: string): string {
    if (!this.state.knows(host)) throw new BallastError("UNKNOWN_HOST", `host ${host} is not known (no agent has reported it)`);
    return host;
  }

  private assertActive(): void {
    this.assertLeader();
    if (this.pausedReason !== undefined) throw new BallastError("PAUSED", `orchestrator is paused (${this.pausedReason}); resume first`);
  }

  private assertLeader(): void {
    if (this.leading) return;
    const leader = this.deps.leaderName?.();
    throw new BallastError("NOT_LEADER", `this orchestrator is a standby; the leader is ${leader ?? "not known right now (an election is under way)"}; send commands to it`, {
      details: { leader: leader ?? null },
    });
  }

  private publish(ev: OrchestratorEvent): void {
    for (const fn of this.eventListeners) {
      try {
        fn(ev);
      } catch (e) {
        this.deps.log.warn({ err: e instanceof Error ? e.message : String(e) }, "event listener failed");
      }
    }
    try {
      this.deps.nc.publish(orchestratorSubjects.events, JSON.stringify({ v: 1, ts: this.deps.clock.now(), ...ev }));
    } catch {
      // A closed connection during shutdown is not worth failing a cycle over.
    }
  }
}

const brief = (r: MigrationRecord) => ({
  requestId: r.requestId,
  vm: r.vm,
  source: r.source,
  destination: r.destination,
  state: r.state,
  progress: r.progress ?? null,
  reason: r.reason,
});
