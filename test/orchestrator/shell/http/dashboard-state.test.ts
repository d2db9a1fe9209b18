import { describe, expect, it } from "vitest";
import { dashboardState, STATE_LIMITS, type DashboardSource } from "../../../../orchestrator/shell/http/dashboard-state.js";
import type { OrchestratorView } from "../../../../orchestrator/shell/orchestrator.js";
import type { RecoveryHistoryEntry, RecoveryHistoryRequest, RecoveryStatusReply, StatusReply } from "../../../../shared/schemas/orchestrator-api.js";
import { policy } from "../../core/builders.js";

// The recovery part of GET /api/state: what the panel and the history draw, bounded whatever the
// incident's size (restarts, waiting VMs, attempts, long libvirt errors), newest first.

const T = 1_700_000_000_000;

const status: StatusReply = {
  now: T,
  paused: false,
  pausedReason: null,
  automation: "full",
  leader: true,
  ha: null,
  cycle: 1,
  hosts: [],
  migrations: { queued: [], ongoing: [] },
  frozenVms: [],
  hostMapping: { path: null, hosts: 0, loadedAt: null, error: null, errorAt: null, warnings: [] },
  pendingPlans: [],
};

// Only what dashboardState reads of the view.
const view = {
  policy: policy(),
  cpuTrigger: () => 80,
  hostVms: () => [],
  lastPlan: () => undefined,
  pendingPlans: () => [],
  migrations: { queued: () => [], ongoing: () => [], history: () => [] },
} as unknown as OrchestratorView;

function source(recovery: RecoveryStatusReply, history: RecoveryHistoryEntry[], asked: RecoveryHistoryRequest[] = []): DashboardSource {
  return {
    api: {
      status: () => status,
      recoveryStatus: () => recovery,
      recoveryHistory: (q) => {
        asked.push(q);
        return history.filter((e) => q.kind === "all" || e.kind === q.kind).slice(0, q.limit);
      },
    },
    view,
  };
}

const long = "x".repeat(5000);

describe("dashboard state: recovery", () => {
  it("lists the hosts not healthy, the newest restarts first, the waiting VMs and alerts, bounded and with long texts cut", () => {
    const restarts = Array.from({ length: 80 }, (_, i) => ({
      restart: { vm: `vm-${i}`, host: "b", destination: "a", at: T + i, epoch: 2 },
      requestId: `r-${i}`,
      outcome: "failed" as const,
      detail: long,
      tries: 3,
      upAt: null,
    }));
    const attempts = Array.from({ length: 30 }, (_, i) => ({ by: "driver" as const, at: T + i, result: "not_off" as const, readBackAt: T + i }));
    const recovery: RecoveryStatusReply = {
      now: T,
      leader: true,
      paused: true,
      silentShare: 0.75,
      hosts: [
        {
          host: "a",
          state: "healthy",
          since: T,
          failedAt: null,
          code: "FAILURE_NONE",
          reason: "ok",
          evidence: { agentLastSeen: T, powerDriver: false, bmc: null, probes: [] },
          fence: null,
          attempts: [],
        },
        {
          host: "b",
          state: "failed",
          since: T,
          failedAt: T,
          code: "FAILURE_CANDIDATE",
          reason: long,
          evidence: { agentLastSeen: T - 60_000, powerDriver: true, bmc: null, probes: [] },
          fence: { next: "alert", code: "FENCE_FAILED", reason: long, fencedAt: null, fencedBy: null },
          attempts,
        },
      ],
      restarts,
      waiting: Array.from({ length: 150 }, (_, i) => ({
        vm: `w-${i}`,
        host: "b",
        priority: "low" as const,
        code: "NO_DESTINATION" as const,
        reason: long,
        numbers: {},
      })),
      skipped: [],
    };
    const alert: RecoveryHistoryEntry = { kind: "alert", at: T, host: "b", vm: null, alert: "fence_failed", code: "FENCE_FAILED", message: long };
    const failed: RecoveryHistoryEntry = { kind: "failure", at: T, host: "b", state: "failed", failedAt: T };
    const asked: RecoveryHistoryRequest[] = [];
    const s = dashboardState(source(recovery, [alert, failed], asked), false);

    expect(s.recovery.paused).toBe(true);
    expect(s.recovery.incidents.map((x) => x.host)).toEqual(["b"]);
    const b = s.recovery.incidents[0]!;
    expect(b.attempts).toHaveLength(STATE_LIMITS.attempts);
    expect(b.attempts.at(-1)!.at).toBe(T + 29); // the newest kept
    expect(b.reason!.length).toBe(STATE_LIMITS.textChars);
    expect(b.fence!.reason.length).toBe(STATE_LIMITS.textChars);
    expect(s.recovery.restarts).toHaveLength(STATE_LIMITS.restarts);
    expect(s.recovery.restartsTotal).toBe(80);
    expect(s.recovery.restarts[0]).toMatchObject({ vm: "vm-79", from: "b", destination: "a", epoch: 2, outcome: "failed", tries: 3 });
    expect(s.recovery.restarts[0]!.detail!.length).toBe(STATE_LIMITS.textChars);
    expect(s.recovery.waiting).toHaveLength(STATE_LIMITS.waiting);
    expect(s.recovery.waitingTotal).toBe(150);
    expect(s.recovery.alerts).toEqual([{ ...alert, message: long.slice(0, STATE_LIMITS.textChars) }]);
    expect(s.recoveryHistory.map((e) => e.kind)).toEqual(["alert", "failure"]);
    expect(asked).toEqual([
      { kind: "all", limit: STATE_LIMITS.history },
      { kind: "alert", limit: STATE_LIMITS.alerts },
    ]);
    // The whole document stays small although the detail texts are 5,000 characters each.
    expect(JSON.stringify(s).length).toBeLessThan(400_000);
  });

  it("is empty when no host failed", () => {
    const s = dashboardState(source({ now: T, leader: true, paused: false, silentShare: 0, hosts: [], restarts: [], waiting: [], skipped: [] }, []), false);
    expect(s.recovery).toEqual({ paused: false, silentShare: 0, incidents: [], restarts: [], restartsTotal: 0, waiting: [], waitingTotal: 0, alerts: [] });
    expect(s.recoveryHistory).toEqual([]);
  });
});
