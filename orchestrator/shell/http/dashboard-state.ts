import type { Plan, PlannedMove } from "../../../shared/schemas/plan.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { RecoveryHistoryEntry, RecoveryHistoryRequest, RecoveryStatusReply, StatusReply } from "../../../shared/schemas/orchestrator-api.js";
import type { FenceAttempt, RestartHeld } from "../../../shared/schemas/recovery.js";
import { BALLAST_VERSION } from "../../../shared/version.js";
import type { OrchestratorView } from "../orchestrator.js";

// What GET /api/state answers and the dashboard draws: one JSON document, bounded in size
// whatever the cluster's history (the full logs stay behind the NATS API).

/** Bounds of one state document. */
export const STATE_LIMITS = {
  history: 50,
  pendingPlans: 10,
  decisionsPerPlan: 200,
  mappingWarnings: 20,
  textChars: 1000,
  /** Recovery panel: open incidents, fence attempts per incident, restarts, waiting VMs, alerts. */
  incidents: 50,
  attempts: 10,
  restarts: 50,
  waiting: 100,
  alerts: 20,
} as const;

export interface DashboardVm {
  name: string;
  state: string;
  cpuPercent: number | null;
  memMiB: number;
  migrating: boolean;
}

export interface DashboardHost {
  host: string;
  fresh: boolean;
  maintenance: boolean;
  cpus: number;
  cpuPercent: number;
  memPercent: number;
  memTotalMiB: number;
  lastSeen: number;
  collectOk: boolean;
  /** Power management: on, booting, shutting_down, off, unknown; null when its power is not managed. */
  power: string | null;
  /** Why its last power operation failed; null when it did not. */
  powerFailed: string | null;
  /** Host failure (agent_down, suspect, failed, fenced, recovering, recovered); null: healthy or not judged. */
  failure: string | null;
  vms: DashboardVm[];
}

export interface DashboardMigration {
  requestId: string;
  vm: string;
  source: string;
  destination: string;
  state: string;
  strategy: string;
  reason: string;
  planId: string | null;
  progress: number | null;
  queuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  durationMs: number | null;
  downtimeMs: number | null;
  error: string | null;
}

export interface DashboardPlan {
  id: string;
  mode: string;
  createdAt: number;
  expiresAt: number | null;
  moves: PlannedMove[];
  decisions: Plan["decisions"];
  decisionsTotal: number;
  indicators: Plan["indicators"];
  emptyHosts: string[];
}

export interface RuleViolation {
  planId: string;
  vm: string;
  source: string;
  destination: string;
  rules: string[];
}

/** A host in a failure incident (or agent_down), as the recovery panel lists it. */
export interface DashboardIncident {
  host: string;
  state: string;
  since: number | null;
  failedAt: number | null;
  code: string | null;
  reason: string | null;
  fence: { code: string; next: string; reason: string; fencedAt: number | null; fencedBy: string | null } | null;
  /** The newest fence attempts (at most STATE_LIMITS.attempts), oldest first. */
  attempts: FenceAttempt[];
}

export interface DashboardRestart {
  requestId: string;
  vm: string;
  from: string;
  destination: string;
  at: number;
  epoch: number;
  outcome: string;
  detail: string | null;
  tries: number;
  /** When its guest was seen up (restart_wait_for); null: not yet. */
  upAt: number | null;
}

/** Host failure recovery, as `ballast recovery status` shows it, bounded. */
export interface DashboardRecovery {
  paused: boolean;
  silentShare: number;
  /** Hosts not healthy (open incidents, agent_down, suspect), sorted. */
  incidents: DashboardIncident[];
  /** The newest restarts, newest first. */
  restarts: DashboardRestart[];
  restartsTotal: number;
  /** VMs of fenced hosts still to be restarted or waiting for their host (local disks) or for room. */
  waiting: RestartHeld[];
  waitingTotal: number;
  /** The newest recovery alerts, newest first. */
  alerts: Extract<RecoveryHistoryEntry, { kind: "alert" }>[];
}

export interface DashboardState {
  now: number;
  version: string;
  automation: string;
  paused: boolean;
  pausedReason: string | null;
  leader: boolean;
  cycle: number;
  /** The trigger thresholds in force (CPU as the last cycle adapted it), percent: bars turn red above them. */
  thresholds: { cpu: number; mem: number };
  /** Whether this server accepts POST /api/approve (http.allow_actions). */
  actionsAllowed: boolean;
  hosts: DashboardHost[];
  migrations: { queued: DashboardMigration[]; ongoing: DashboardMigration[] };
  history: DashboardMigration[];
  /** Host failures, fences, restarts and alerts, newest first (the page interleaves them with `history`). */
  recoveryHistory: RecoveryHistoryEntry[];
  recovery: DashboardRecovery;
  lastPlan: DashboardPlan | null;
  pendingPlans: DashboardPlan[];
  violations: RuleViolation[];
  frozenVms: string[];
  /** The host_mapping file as status reports it (a rejected reload is shown as a banner); warnings bounded, with their total. */
  hostMapping: StatusReply["hostMapping"] & { warningsTotal: number };
}

/** What the dashboard reads of the orchestrator. */
export interface DashboardSource {
  api: {
    status(): StatusReply;
    recoveryStatus(q: { host?: string }): RecoveryStatusReply;
    recoveryHistory(q: RecoveryHistoryRequest): RecoveryHistoryEntry[];
  };
  view: OrchestratorView;
}

export function dashboardState(orch: DashboardSource, actionsAllowed: boolean): DashboardState {
  const { view } = orch;
  const s = orch.api.status();
  const hosts = s.hosts.map((h): DashboardHost => {
    return {
      host: h.host,
      fresh: h.fresh,
      maintenance: h.maintenance,
      cpus: h.cpus,
      cpuPercent: h.cpuPercent,
      memPercent: h.memPercent,
      memTotalMiB: h.memTotalMiB,
      lastSeen: h.lastSeen,
      collectOk: h.collectOk,
      power: h.power?.state ?? null,
      powerFailed: h.power?.failed ?? null,
      failure: h.failure ?? null,
      vms: view
        .hostVms(h.host)
        .map((v) => ({ name: v.name, state: v.state, cpuPercent: v.cpuPercent, memMiB: v.memMiB, migrating: v.migrating }))
        .sort((a, b) => a.name.localeCompare(b.name)),
    };
  });
  const last = view.lastPlan();
  const pending = view
    .pendingPlans()
    .slice(-STATE_LIMITS.pendingPlans)
    .reverse()
    .map((p) => planView(p.plan, p.expiresAt));
  const lastPlan = last ? planView(last, null) : null;
  const violations: RuleViolation[] = [];
  const seen = new Set<string>();
  for (const p of [...pending, ...(lastPlan ? [lastPlan] : [])])
    for (const m of p.moves)
      if (m.brokenShouldRules.length > 0 && !seen.has(`${p.id}/${m.vm}`)) {
        seen.add(`${p.id}/${m.vm}`);
        violations.push({ planId: p.id, vm: m.vm, source: m.source, destination: m.destination, rules: [...m.brokenShouldRules] });
      }
  return {
    now: s.now,
    version: BALLAST_VERSION,
    automation: s.automation,
    paused: s.paused,
    pausedReason: s.pausedReason,
    leader: s.leader,
    cycle: s.cycle,
    thresholds: { cpu: view.cpuTrigger(), mem: view.policy.mem_threshold },
    actionsAllowed,
    hosts,
    migrations: { queued: view.migrations.queued().map(migrationView), ongoing: view.migrations.ongoing().map(migrationView) },
    history: view.migrations.history({ limit: STATE_LIMITS.history }).map(migrationView),
    recoveryHistory: orch.api.recoveryHistory({ kind: "all", limit: STATE_LIMITS.history }).map(clip),
    recovery: recoveryView(orch.api.recoveryStatus({}), orch.api.recoveryHistory({ kind: "alert", limit: STATE_LIMITS.alerts }).map(clip)),
    lastPlan,
    pendingPlans: pending,
    violations,
    frozenVms: s.frozenVms,
    hostMapping: {
      ...s.hostMapping,
      error: s.hostMapping.error === null ? null : s.hostMapping.error.slice(0, STATE_LIMITS.textChars),
      warnings: s.hostMapping.warnings.slice(0, STATE_LIMITS.mappingWarnings).map((w) => w.slice(0, STATE_LIMITS.textChars)),
      warningsTotal: s.hostMapping.warnings.length,
    },
  };
}

function planView(p: Plan, expiresAt: number | null): DashboardPlan {
  return {
    id: p.id,
    mode: p.mode,
    createdAt: p.createdAt,
    expiresAt,
    moves: p.moves,
    decisions: p.decisions.slice(0, STATE_LIMITS.decisionsPerPlan),
    decisionsTotal: p.decisions.length,
    indicators: p.indicators,
    emptyHosts: p.emptyHosts,
  };
}

function migrationView(r: MigrationRecord): DashboardMigration {
  return {
    requestId: r.requestId,
    vm: r.vm,
    source: r.source,
    destination: r.destination,
    state: r.state,
    strategy: r.strategy,
    reason: r.reason,
    planId: r.planId ?? null,
    progress: r.progress ?? null,
    queuedAt: r.queuedAt,
    startedAt: r.startedAt ?? null,
    finishedAt: r.finishedAt ?? null,
    durationMs: r.stats?.durationMs ?? null,
    downtimeMs: r.stats?.downtimeMs ?? null,
    error: r.error ?? null,
  };
}

function recoveryView(r: RecoveryStatusReply, alerts: RecoveryHistoryEntry[]): DashboardRecovery {
  const t = (x: string) => x.slice(0, STATE_LIMITS.textChars);
  const restarts = [...r.restarts].reverse();
  return {
    paused: r.paused,
    silentShare: r.silentShare,
    incidents: r.hosts
      .filter((h) => h.state !== "healthy")
      .slice(0, STATE_LIMITS.incidents)
      .map((h) => ({
        host: h.host,
        state: h.state,
        since: h.since,
        failedAt: h.failedAt,
        code: h.code,
        reason: h.reason === null ? null : t(h.reason),
        fence: h.fence ? { ...h.fence, reason: t(h.fence.reason) } : null,
        attempts: h.attempts.slice(-STATE_LIMITS.attempts),
      })),
    restarts: restarts.slice(0, STATE_LIMITS.restarts).map((x) => ({
      requestId: x.requestId,
      vm: x.restart.vm,
      from: x.restart.host,
      destination: x.restart.destination,
      at: x.restart.at,
      epoch: x.restart.epoch,
      outcome: x.outcome,
      detail: x.detail === null ? null : t(x.detail),
      tries: x.tries,
      upAt: x.upAt,
    })),
    restartsTotal: r.restarts.length,
    waiting: r.waiting.slice(0, STATE_LIMITS.waiting).map((w) => ({ ...w, reason: t(w.reason) })),
    waitingTotal: r.waiting.length,
    alerts: alerts.filter((a): a is DashboardRecovery["alerts"][number] => a.kind === "alert"),
  };
}

/** Long texts (libvirt's errors, alert messages) cut to STATE_LIMITS.textChars. */
function clip(e: RecoveryHistoryEntry): RecoveryHistoryEntry {
  if (e.kind === "alert") return { ...e, message: e.message.slice(0, STATE_LIMITS.textChars) };
  if (e.kind === "restart" && e.restart.detail !== null) return { ...e, restart: { ...e.restart, detail: e.restart.detail.slice(0, STATE_LIMITS.textChars) } };
  return e;
}
