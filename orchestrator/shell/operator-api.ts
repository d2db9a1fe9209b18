import { BoundedMap } from "../../shared/bounded-map.js";
import { BallastError } from "../../shared/errors.js";
import type { MigrationRecord } from "../../shared/schemas/migration-record.js";
import type {
  ApproveReply,
  CpuBaselineQuery,
  CpuBaselineReply,
  FactsQuery,
  FactsReply,
  RecordsReply,
  RecordsRequest,
  RecoverReply,
  RecoverRequest,
  VmClaimReply,
  VmClaimRequest,
  RecoveryStatusReply,
  RecoveryStatusRequest,
  RecoveryHistoryRequest,
  RecoveryHistoryReply,
  EvacuateReply,
  EvacuateRequest,
  ExplainHostReply,
  ExplainReply,
  MigrateReply,
  MigrationBrief,
  OrchestratorHandlers,
  OrchMigrateRequest,
  PauseReply,
  PlanQuery,
  PowerCommandReply,
  PowerStatusReply,
  ReleaseReply,
  ReleaseRequest,
  RequestContext,
  ResumeReply,
  RunReply,
  StatusReply,
  VersionReply,
} from "../../shared/schemas/orchestrator-api.js";
import type { Decision, Plan, PlanRequest } from "../../shared/schemas/plan.js";
import { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { BALLAST_VERSION } from "../../shared/version.js";
import { explainHost, explainVm, preflightEvacuation } from "../core/index.js";
import type { Clock } from "./clock.js";
import type { ClusterState } from "./cluster-state.js";
import type { DecisionLog } from "./decision-log.js";
import type { HostMapping, HostMappingState } from "./host-mapping.js";
import type { MigrationTracker } from "./migration-tracker.js";
import type { MoveQueue } from "./move-queue.js";
import type { OperatorControls } from "./operator-controls.js";
import { MAX_PENDING_PLANS, PLAN_KIND_WORDS, type PlanFate } from "./pending-plans.js";
import type { PendingPlan } from "./persisted-state.js";
import type { PlanningCycle } from "./planning-cycle.js";
import { IN_PROCESS } from "./requester.js";
import type { FactsStore } from "./facts-store.js";
import type { IncompatiblePairs } from "./incompatible-pairs.js";
import { localWritableDisks } from "../../shared/schemas/facts.js";
import type { PowerCommands } from "./power/power-commands.js";
import type { PowerOutcome } from "./power/power-record.js";
import type { PowerAction } from "../../shared/schemas/power.js";
import type { VmRecords } from "./vm-records.js";
import type { RecoveryManager } from "./recovery/recovery-manager.js";
import type { RecoveryHistory } from "./recovery/recovery-history.js";

// What the orchestrator answers on each ballast.orch.* endpoint (api.ts serves them over NATS; the
// requests are validated before they get here). Changes need the lead: a standby refuses them
// with NOT_LEADER (naming the leader), and a paused leader refuses what would start migrations.

/** Operator migrate answers remembered by requestId. */
const MAX_REMEMBERED = 10_000;

/** A remembered migrate: what was asked, and the answer. */
interface Remembered {
  vm: string;
  to: string | undefined;
  answer: Promise<MigrateReply>;
}

/** Who leads (HA); without HA this instance always does. */
export interface Leadership {
  /** Whether HA is on (status then shows the role, epoch and leader). */
  readonly enabled: boolean;
  leading(): boolean;
  /** The leader as this instance knows it (undefined during an election). */
  leader(): string | undefined;
  epoch(): number | undefined;
}

export interface OperatorApiDeps {
  instance: string;
  /** The VM records (vm-records.ts). */
  records: Pick<VmRecords, "all" | "store" | "fetching">;
  leadership: Leadership;
  state: ClusterState;
  tracker: MigrationTracker;
  decisions: DecisionLog;
  controls: OperatorControls;
  cycle: PlanningCycle;
  queue: MoveQueue;
  dispatcher: { pump(): Promise<void> };
  clock: Clock;
  mapping: () => HostMapping;
  /** The host_mapping file's state (status shows a rejected reload). */
  mappingState: () => HostMappingState;
  /** The agents' facts, the incompatible pairs, and the CPU baseline (cpu-baseline.ts). */
  facts: FactsStore;
  pairs: IncompatiblePairs;
  cpuBaseline: (q: CpuBaselineQuery) => Promise<CpuBaselineReply>;
  /** The power commands, and how approved power actions are carried out (power/). */
  power: PowerCommands;
  /** Host failure (recovery/recovery-manager.ts). */
  recovery: Pick<RecoveryManager, "view" | "confirmFenced" | "stateOf">;
  /** Host failure history (recovery/recovery-history.ts). */
  recoveryHistory: Pick<RecoveryHistory, "entries">;
  executePower?: (actions: readonly PowerAction[], by: string) => Promise<PowerOutcome[]>;
  /** Answers an agent's vm-claim (recovery/vm-claim.ts); absent: every claim is refused. */
  vmClaim?: (req: VmClaimRequest) => VmClaimReply;
}

export class OperatorApi implements OrchestratorHandlers {
  private readonly answers = new BoundedMap<string, Remembered>(MAX_REMEMBERED);

  constructor(private readonly d: OperatorApiDeps) {}

  status(): StatusReply {
    const { clock, leadership, controls, tracker, cycle } = this.d;
    const now = clock.now();
    const policy = cycle.policy;
    const leading = leadership.leading();
    return {
      now,
      paused: controls.pausedReason !== undefined,
      pausedReason: controls.pausedReason ?? null,
      automation: policy.automation,
      leader: leading,
      ha: leadership.enabled ? { role: leading ? "leader" : "standby", epoch: leadership.epoch() ?? null, leaderInstance: leadership.leader() ?? null } : null,
      cycle: this.d.decisions.cycle,
      hosts: this.d.state.statuses(now, policy, this.d.mapping(), controls.maintenance).map((h) => {
        const f = this.d.facts.get(h.host);
        const power = this.d.power.describe(h.host, now);
        const failure = this.d.recovery.stateOf(h.host);
        return {
          ...h,
          facts: f !== undefined,
          ...(f ? { notMigratable: f.facts.vms.filter((v) => !v.migratable).length } : {}),
          ...(power ? { power } : {}),
          ...(failure !== undefined && failure !== "healthy" ? { failure } : {}),
        };
      }),
      migrations: { queued: tracker.queued().map(brief), ongoing: tracker.ongoing().map(brief) },
      frozenVms: [...controls.frozen].sort(),
      hostMapping: this.d.mappingState(),
      pendingPlans: controls.held().map((p) => ({
        id: p.plan.id,
        moves: p.plan.moves.length,
        ...(p.plan.power.length > 0 ? { power: p.plan.power.length } : {}),
        expiresAt: p.expiresAt,
      })),
    };
  }

  version(): VersionReply {
    return { name: "ballast-orchestrator", version: BALLAST_VERSION, instance: this.d.instance, node: process.version };
  }

  plan(q: PlanQuery, ctx?: RequestContext): Plan {
    const req: PlanRequest =
      q.mode === "evacuate"
        ? { mode: "evacuate", host: this.knownHost(q.host!), placement: q.placement ?? "stripe", useEmptyHosts: q.useEmptyHosts ?? false }
        : { mode: q.mode };
    const p = this.d.cycle.planFor(req);
    // Any dry-run plan can be applied by id (`approve`) until it expires or the cluster drifts. It
    // is kept apart from cycles' proposals, and a dry run of an identity that may not approve apart
    // from those of identities that may: none of them can push out the others' plans.
    // A standby's plans cannot be approved (the leader does not know them): it only shows them.
    if (p.moves.length > 0 && this.d.leadership.leading()) {
      const requester = ctx?.requester ?? IN_PROCESS;
      this.d.controls.propose(p, this.d.clock.now() + this.d.cycle.policy.plan_ttl * 1000, {
        dryRun: { by: requester.inbox, mayApprove: requester.mayApprove },
        ...(req.mode === "evacuate" ? { evacuation: { host: req.host, placement: req.placement, useEmptyHosts: req.useEmptyHosts } } : {}),
      });
    }
    return p;
  }

  async run(): Promise<RunReply> {
    this.assertLeader();
    return this.d.cycle.run();
  }

  async approve(r: { planId: string }): Promise<ApproveReply> {
    this.assertActive();
    const { clock, controls, cycle } = this.d;
    const now = clock.now();
    controls.expire(now);
    const p = controls.take(r.planId, now);
    if (!p) throw this.notPending(r.planId);
    const cancel = (e: BallastError): BallastError => {
      controls.settle(p, { state: "cancelled", at: now, why: `${e.code}: ${e.message}` });
      return e;
    };
    const current = cycle.snapshot(now);
    const drift = p.plan.moves.filter((m) => !current.vms.some((v) => v.name === m.vm && v.host === m.source && v.state === "running"));
    if (drift.length > 0)
      throw cancel(
        new BallastError(
          "PLAN_EXPIRED",
          `plan ${r.planId} was cancelled: the cluster drifted since it was made (${drift.map((m) => `${m.vm} is no longer running on ${m.source}`).join("; ")})`,
        ),
      );
    if (p.plan.mode === "evacuate") this.checkDrain(p, r.planId, current, now, cancel);
    if (p.plan.mode === "evacuate") controls.enterMaintenance(p.plan.moves.map((m) => m.source));
    // The moves carry the id the operator approved (an identical newer plan may have replaced it).
    const queued = this.d.queue.enqueue(p.plan.moves, r.planId, now);
    await this.d.dispatcher.pump();
    // Power actions are judged again as they run (a VM that appeared refuses a power-off).
    const power = p.plan.power.length > 0 && this.d.executePower ? await this.d.executePower(p.plan.power, `approve ${r.planId}`) : undefined;
    return { planId: r.planId, queued, ...(p.plan.id !== r.planId ? { appliedAs: p.plan.id } : {}), ...(power ? { power } : {}) };
  }

  /**
   * An evacuation plan is approved only if the host can be drained now, judged on the current
   * cluster as `evacuate` judges it (never a half-drained host in maintenance), and the plan moves
   * every VM the drain must move now.
   */
  private checkDrain(p: PendingPlan, asked: string, current: ClusterSnapshot, now: number, cancel: (e: BallastError) => BallastError): void {
    // A plan kept before evacuations were recorded with it: its moves name the host.
    const ev = p.evacuation ?? { host: p.plan.moves[0]!.source, placement: "stripe" as const, useEmptyHosts: false };
    const pre = preflightEvacuation(current, this.d.cycle.policy, now, ev.host, ev.placement, ev.useEmptyHosts);
    if (!pre.canDrain) throw cancel(cannotDrain(ev.host, pre.reasons, `plan ${asked} was not applied: `));
    const missing = pre.plan.moves.filter((m) => !p.plan.moves.some((x) => x.vm === m.vm));
    if (missing.length > 0)
      throw cancel(
        new BallastError(
          "PLAN_EXPIRED",
          `plan ${asked} was cancelled: it does not drain host ${ev.host} (no move for ${missing.map((m) => m.vm).join(", ")}: they had no destination when it was made, or arrived since); the host can be drained now: make a new plan or run evacuate`,
          { details: { missing: missing.map((m) => m.vm) } },
        ),
      );
  }

  /** UNKNOWN_PLAN, saying what became of the plan when that is remembered. */
  private notPending(planId: string): BallastError {
    const { controls } = this.d;
    const ttl = this.d.cycle.policy.plan_ttl;
    const when = (t: number) => new Date(t).toISOString();
    const text = (id: string, fate: PlanFate | undefined, depth: number): string => {
      if (fate === undefined)
        return `no plan ${id} was proposed to this orchestrator (${this.d.instance})${this.d.leadership.enabled ? " while it led" : ""}, or it is too old to be remembered`;
      switch (fate.state) {
        case "expired":
          return `plan ${id} expired at ${when(fate.at)} (plans are kept plan_ttl = ${ttl} s)`;
        case "approved":
          return `plan ${id} was already approved at ${when(fate.at)}${fate.as !== id ? ` (as the identical newer plan ${fate.as})` : ""}`;
        case "cancelled":
          return `plan ${id} was cancelled when approved at ${when(fate.at)}: ${fate.why}`;
        case "dropped":
          return `plan ${id} was dropped at ${when(fate.at)} to make room: ${MAX_PENDING_PLANS} newer ${PLAN_KIND_WORDS[fate.kind]} are kept`;
        case "replaced": {
          const newest = controls.held().find((p) => p.plan.id === fate.by || p.sameAs?.includes(fate.by));
          if (newest) return `plan ${id} was replaced at ${when(fate.at)} by identical newer plans; the newest, ${newest.plan.id}, is pending: approve that`;
          const then = depth < 3 ? `; ${text(fate.by, controls.fate(fate.by), depth + 1)}` : "";
          return `plan ${id} was replaced at ${when(fate.at)} by the identical newer plan ${fate.by}${then}`;
        }
      }
    };
    const f = controls.fate(planId);
    return new BallastError("UNKNOWN_PLAN", text(planId, f, 0), { details: { planId, fate: f?.state ?? "unknown", ...(f ? { at: f.at } : {}) } });
  }

  /**
   * An operator migrate with a requestId is idempotent: the same id gets the first answer (or
   * the same error) again and never queues a second migration. Only the instance that acts
   * remembers: a standby's or a paused leader's refusal is not an answer to the request.
   */
  migrate(req: OrchMigrateRequest): Promise<MigrateReply> {
    if (req.requestId === undefined) return this.migrateOnce(req);
    const seen = this.answers.get(req.requestId);
    if (seen) {
      // The same id names one request: a different body is refused, never answered as the first.
      const differs = [
        ...(seen.vm !== req.vm ? [`vm ${seen.vm} then, ${req.vm} now`] : []),
        ...(seen.to !== req.to ? [`to ${seen.to ?? "(the best host)"} then, ${req.to ?? "(the best host)"} now`] : []),
      ];
      if (differs.length > 0) return Promise.reject(conflict(req, differs, { vm: seen.vm, to: seen.to ?? null }));
      return seen.answer;
    }
    // NOT_LEADER and PAUSED say nothing about the request: were they remembered, the same id
    // sent again after a failover (to this standby, now leading) or a resume would be refused forever.
    try {
      this.assertActive();
      // Not remembered here (a new leader, or long ago), but a migration under this id is known.
      const earlier =
        this.d.tracker.get(req.requestId) ?? this.d.tracker.history({ limit: Number.MAX_SAFE_INTEGER }).find((m) => m.requestId === req.requestId);
      if (earlier && earlier.vm !== req.vm) throw conflict(req, [`vm ${earlier.vm} then (migration ${earlier.state}), ${req.vm} now`], { vm: earlier.vm });
    } catch (e) {
      return Promise.reject(e);
    }
    const answer = this.migrateOnce(req);
    this.answers.set(req.requestId, { vm: req.vm, to: req.to, answer });
    return answer;
  }

  private async migrateOnce(req: OrchMigrateRequest): Promise<MigrateReply> {
    this.assertActive();
    const { state, tracker, cycle, clock } = this.d;
    const located = state.locate(req.vm);
    if (located.length === 0) throw new BallastError("UNKNOWN_VM", `VM ${req.vm} is not reported by any agent`);
    if (req.to !== undefined) this.knownHost(req.to);
    if (tracker.busy(req.vm)) throw new BallastError("ALREADY_MIGRATING", `VM ${req.vm} is already queued or migrating`);
    const now = clock.now();
    const p = cycle.planFor({ mode: "manual", vm: req.vm, ...(req.to !== undefined ? { destination: req.to } : {}) }, now);
    this.d.decisions.record(p, now);
    if (p.moves.length === 0) {
      const about = p.decisions.filter((d) => d.vm === req.vm || d.subject === req.vm);
      const why = about.map((d) => `${d.subject}: ${d.message}`);
      // The planner judged it; the code names the reasons no other destination would change.
      const code = about.some((d) => d.code === "VM_NOT_RUNNING")
        ? "VM_NOT_RUNNING"
        : req.to !== undefined && about.some((d) => d.code === "DEST_IS_SOURCE" && d.subject === req.to)
          ? "SAME_HOST"
          : "NO_DESTINATION";
      throw new BallastError(code, `cannot move ${req.vm}${req.to ? ` to ${req.to}` : ""}: ${why.join("; ") || "no valid destination"}`, {
        details: { decisions: p.decisions },
      });
    }
    this.d.queue.enqueue(p.moves, p.id, now, req.requestId);
    const queued = tracker.queued().filter((r) => r.planId === p.id);
    await this.d.dispatcher.pump();
    return { plan: p, queued: queued.map((r) => ({ ...r })) };
  }

  async evacuate(req: EvacuateRequest): Promise<EvacuateReply> {
    const host = this.knownHost(req.host);
    const { clock, cycle, controls } = this.d;
    const now = clock.now();
    const pre = preflightEvacuation(cycle.snapshot(now), cycle.policy, now, host, req.placement, req.useEmptyHosts);
    if (req.dryRun) return { host, canDrain: pre.canDrain, reasons: pre.reasons, plan: pre.plan };
    this.assertActive();
    if (!pre.canDrain) throw cannotDrain(host, pre.reasons);
    controls.enterMaintenance([host]);
    this.d.decisions.record(pre.plan, now);
    const queued = this.d.queue.enqueue(pre.plan.moves, pre.plan.id, now);
    await this.d.dispatcher.pump();
    return { host, maintenance: true, planId: pre.plan.id, queued, moves: pre.plan.moves };
  }

  release(req: ReleaseRequest): ReleaseReply {
    this.assertLeader();
    if (req.host !== undefined) {
      const host = this.knownHost(req.host);
      return { host, released: this.d.controls.releaseHost(host) };
    }
    const vm = req.vm!;
    // A frozen VM is released even when no agent reports it any more; any other must exist.
    if (!this.d.controls.frozen.has(vm) && this.d.state.locate(vm).length === 0)
      throw new BallastError("UNKNOWN_VM", `VM ${vm} is not reported by any agent and is not frozen: nothing to release`);
    return { vm, released: this.d.controls.releaseVm(vm) };
  }

  pause(req: { reason?: string | undefined }): PauseReply {
    this.assertLeader();
    const reason = req.reason ?? "paused by operator";
    this.d.controls.pause(reason);
    return { paused: true, reason, queued: this.d.tracker.queued().length, ongoing: this.d.tracker.ongoing().length };
  }

  async resume(): Promise<ResumeReply> {
    this.assertLeader();
    const wasPaused = this.d.controls.resume();
    await this.d.dispatcher.pump();
    return { paused: false, wasPaused };
  }

  history(filter: { vm?: string | undefined; host?: string | undefined; limit: number }): MigrationRecord[] {
    return this.d.tracker.history(filter);
  }

  decisions(filter: { vm?: string | undefined; host?: string | undefined; limit: number }): ReturnType<DecisionLog["query"]> {
    return this.d.decisions.query(filter);
  }

  explain(req: { vm: string; cycles: number }): ExplainReply {
    const { vm, cycles } = req;
    const { state, tracker, decisions, controls, cycle } = this.d;
    const located = state.locate(vm);
    const history = tracker.history({ vm, limit: 20 });
    if (located.length === 0 && history.length === 0) throw new BallastError("UNKNOWN_VM", `VM ${vm} is not reported by any agent and has no history`);
    const sinceCycle = Math.max(1, decisions.cycle - cycles + 1);
    const lastDecisions = decisions.query({ vm, limit: 200, sinceCycle });
    const placement = history.find((r) => r.state === "SUCCEEDED" && located.some((l) => l.host === r.destination));
    return {
      vm,
      runningOn: located.filter((l) => l.info.state === "running").map((l) => l.host),
      reportedBy: located.map((l) => ({
        host: l.host,
        state: l.info.state,
        migrating: l.info.migrating,
        cpuPercent: l.info.cpuPercent,
        memMiB: l.info.memMiB,
      })),
      whyHere: placement
        ? `moved here from ${placement.source} at ${new Date(placement.finishedAt!).toISOString()} by ${placement.strategy}: ${placement.reason}`
        : "no recorded move brought it here (placed before Ballast saw it, or by an operator outside Ballast)",
      frozen: controls.frozen.has(vm),
      inFlight: tracker.busy(vm),
      cpuLevels: cycle.cpuLevels(),
      lastCycles: { from: sinceCycle, to: decisions.cycle, decisions: lastDecisions },
      history,
      facts: this.vmFactsBrief(vm, located),
      incompatible: this.d.pairs.forSnapshot().filter((p) => p.vm === vm),
      ...this.whereItCouldGo(vm),
    };
  }

  /**
   * Why a host is on or off and what a cycle planned now would do to it (the core's explainHost,
   * on the same snapshot and policy a cycle uses), with its power lines of the last cycles.
   */
  explainHost(req: { host: string; cycles: number }): ExplainHostReply {
    const { clock, cycle, decisions } = this.d;
    const now = clock.now();
    const x = explainHost(cycle.snapshot(now), cycle.policy, now, req.host);
    if (!x.known) throw new BallastError("UNKNOWN_HOST", `host ${req.host} is not known (no agent has reported it)`);
    const sinceCycle = Math.max(1, decisions.cycle - req.cycles + 1);
    const lines = decisions.query({ host: req.host, limit: 10_000, sinceCycle }).filter((d) => d.code.startsWith("POWER_"));
    return {
      host: x.host,
      managed: x.managed,
      state: x.state,
      power: x.power,
      powerStatus: this.d.power.describe(req.host, now) ?? null,
      action: x.action,
      verdict: x.verdict,
      decisions: x.decisions,
      summary: x.summary,
      lastCycles: { from: sinceCycle, to: decisions.cycle, decisions: lines.slice(0, 200) },
    };
  }

  /** Every other host's verdict for the VM, as a cycle planned now would judge it. */
  private whereItCouldGo(vm: string): Pick<ExplainReply, "destinations" | "movable" | "bestDestination"> {
    const now = this.d.clock.now();
    const x = explainVm(this.d.cycle.snapshot(now), this.d.cycle.policy, now, vm);
    if (x.host === null) return {};
    return {
      movable: x.vmDecision ? { ok: false, code: x.vmDecision.code, message: x.vmDecision.message } : { ok: true },
      destinations: x.hosts.filter((d) => d.subject !== x.host).map((d) => ({ host: d.subject, code: d.code, message: d.message })),
      bestDestination: x.best,
    };
  }

  /** What a VM's facts say of its migratability, from the host it runs on (else any that lists it). */
  private vmFactsBrief(vm: string, located: { host: string; info: { state: string } }[]): ExplainReply["facts"] {
    const order = [...located.filter((l) => l.info.state === "running"), ...located.filter((l) => l.info.state !== "running")];
    for (const l of order) {
      const f = this.d.facts.vmFacts(l.host, vm);
      if (f)
        return {
          host: l.host,
          migratable: f.migratable,
          reasons: f.reasons,
          localDisks: localWritableDisks(f).map((d) => `${d.target} ${d.source!}`),
        };
    }
    return null;
  }

  facts(q: FactsQuery): FactsReply {
    const held = this.d.facts.get(q.host);
    if (!held && !this.d.state.knows(q.host)) throw new BallastError("UNKNOWN_HOST", `host ${q.host} is not known (no agent has reported it)`);
    const vms = new Set(held?.facts.vms.map((v) => v.name) ?? []);
    return {
      host: q.host,
      facts: held?.facts ?? null,
      receivedAt: held?.receivedAt ?? null,
      incompatible: this.d.pairs.forSnapshot().filter((p) => p.destination === q.host || vms.has(p.vm)),
    };
  }

  records(q: RecordsRequest): RecordsReply {
    const { records } = this.d;
    const list = records.all().filter((r) => (q.vm === undefined || r.vm === q.vm) && (q.host === undefined || r.host === q.host));
    // The XML only for one VM: a listing of thousands of VMs stays small.
    return {
      store: { kind: records.store.kind, bucket: records.store.bucket },
      records: list.map(({ definition, ...rest }) => (q.vm !== undefined ? { ...rest, definition } : rest)),
      fetching: records.fetching,
    };
  }

  cpuBaseline(q: CpuBaselineQuery): Promise<CpuBaselineReply> {
    return this.d.cpuBaseline(q);
  }

  powerStatus(q: { host?: string | undefined }): PowerStatusReply {
    return this.d.power.status(q);
  }

  powerOn(req: { host: string }): Promise<PowerCommandReply> {
    return this.d.power.on(req);
  }

  powerOff(req: { host: string; force: boolean }): Promise<PowerCommandReply> {
    return this.d.power.off(req);
  }

  recoveryStatus(q: RecoveryStatusRequest): RecoveryStatusReply {
    const v = this.d.recovery.view();
    const h = q.host;
    return {
      now: v.now,
      leader: this.d.leadership.leading(),
      paused: v.paused,
      silentShare: v.silentShare,
      hosts: h === undefined ? v.hosts : v.hosts.filter((x) => x.host === h),
      restarts: h === undefined ? v.restarts : v.restarts.filter((r) => r.restart.host === h || r.restart.destination === h),
      waiting: h === undefined ? v.waiting : v.waiting.filter((w) => w.host === h),
      skipped: h === undefined ? v.skipped : v.skipped.filter((w) => w.host === h),
    };
  }

  recover(req: RecoverRequest, ctx?: RequestContext): RecoverReply {
    this.assertLeader();
    return this.d.recovery.confirmFenced(req.host, (ctx?.requester ?? IN_PROCESS).inbox || "the orchestrator's process");
  }

  vmClaim(req: VmClaimRequest, ctx?: RequestContext): VmClaimReply {
    this.assertLeader();
    // With credentials an agent's inbox names its host (requester.ts): it may ask for its own host only.
    const agent = /^_INBOX_agent-(.+)$/.exec((ctx?.requester ?? IN_PROCESS).inbox)?.[1];
    if (agent !== undefined && agent !== req.host) throw new BallastError("BAD_REQUEST", `agent ${agent} cannot claim a VM for host ${req.host}`);
    if (!this.d.vmClaim) throw new BallastError("INTERNAL", "this orchestrator answers no VM claims");
    return this.d.vmClaim(req);
  }

  recoveryHistory(q: RecoveryHistoryRequest): RecoveryHistoryReply {
    return this.d.recoveryHistory.entries(q);
  }

  snapshot(): ClusterSnapshot {
    // Parsed on the way out: what `plan --snapshot` will read back is checked here already.
    return ClusterSnapshot.parse(this.d.cycle.snapshot());
  }

  private knownHost(host: string): string {
    if (!this.d.state.knows(host)) throw new BallastError("UNKNOWN_HOST", `host ${host} is not known (no agent has reported it)`);
    return host;
  }

  private assertActive(): void {
    this.assertLeader();
    const reason = this.d.controls.pausedReason;
    if (reason !== undefined) throw new BallastError("PAUSED", `orchestrator is paused (${reason}); resume first`);
  }

  /** NOT_LEADER unless this instance leads (also for the power commands). */
  assertLeader(): void {
    if (this.d.leadership.leading()) return;
    const leader = this.d.leadership.leader();
    throw new BallastError(
      "NOT_LEADER",
      `this orchestrator is a standby; the leader is ${leader ?? "not known right now (an election is under way)"}; send commands to it`,
      {
        details: { leader: leader ?? null },
      },
    );
  }
}

/** NO_DESTINATION for a host that cannot be drained now, with the blocking VMs and conditions. */
function cannotDrain(host: string, reasons: Decision[], lead = ""): BallastError {
  return new BallastError("NO_DESTINATION", `${lead}host ${host} cannot be drained now: ${reasons.map((d) => `${d.subject}: ${d.message}`).join("; ")}`, {
    details: { reasons },
  });
}

/** IDEMPOTENCY_CONFLICT: a request id used before for a different migrate. */
function conflict(req: OrchMigrateRequest, differs: string[], before: Record<string, unknown>): BallastError {
  return new BallastError(
    "IDEMPOTENCY_CONFLICT",
    `request id ${req.requestId} was used before for a different migrate (${differs.join("; ")}); a request id names one request: send a new id for a new one`,
    { details: { requestId: req.requestId, before, now: { vm: req.vm, to: req.to ?? null } } },
  );
}

const brief = (r: MigrationRecord): MigrationBrief => ({
  requestId: r.requestId,
  vm: r.vm,
  source: r.source,
  destination: r.destination,
  state: r.state,
  progress: r.progress ?? null,
  reason: r.reason,
});
