import type { Plan, PlannedMove } from "../../../shared/schemas/plan.js";
import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { StatusReply } from "../../../shared/schemas/orchestrator-api.js";
import { BALLAST_VERSION } from "../../../shared/version.js";
import type { OrchestratorView } from "../orchestrator.js";

// What GET /api/state answers and the dashboard draws: one JSON document, bounded in size
// whatever the cluster's history (the full logs stay behind the NATS API).

/** Bounds of one state document. */
export const STATE_LIMITS = { history: 50, pendingPlans: 10, decisionsPerPlan: 200, mappingWarnings: 20, textChars: 1000 } as const;

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
  lastPlan: DashboardPlan | null;
  pendingPlans: DashboardPlan[];
  violations: RuleViolation[];
  frozenVms: string[];
  /** The host_mapping file as status reports it (a rejected reload is shown as a banner); warnings bounded, with their total. */
  hostMapping: StatusReply["hostMapping"] & { warningsTotal: number };
}

/** What the dashboard reads of the orchestrator. */
export interface DashboardSource {
  api: { status(): StatusReply };
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
