import type { IncidentChange, RecoveryHistoryEntry, RecoveryHistoryRequest } from "../../../shared/schemas/orchestrator-api.js";
import type { RecoveryAlert } from "../../../shared/schemas/orchestrator-events.js";
import type { HostFailureState } from "../../../shared/schemas/recovery.js";
import type { Clock } from "../clock.js";
import { RingBuffer } from "../ring-buffer.js";
import type { RecoverySink, StoredRecoveryHost, StoredRestart } from "./recovery-record.js";

// The recovery history (`ballast history`, the dashboard): host failure incidents, fences, restarts
// and alerts, newest first. Fence attempts, restarts and each open incident's failure and state are
// derived when asked from what the manager keeps (and, with HA, a new leader restores from the
// bucket), so they are not stored twice and survive a failover. Only what the manager forgets is
// logged here, in memory, bounded like the migration history: the state changes of incidents
// (seen through the manager's sink writes, one per change) and the alerts. A new leader therefore
// shows an earlier incident that is over through its fence attempts and restarts only, and the
// alerts it raised itself.

/** What the history reads of the manager: the same as a new leader continues from. */
export interface RecoveryHistorySource {
  persisted(): { hosts: readonly StoredRecoveryHost[]; restarts: readonly StoredRestart[] };
}

const IN_INCIDENT: ReadonlySet<HostFailureState> = new Set(["fenced", "recovering", "recovered"]);

/** Order within one millisecond: as an incident unfolds (an alert right after what raised it). */
const RANK: Record<IncidentChange | "fence" | "restart", number> = {
  failed: 0,
  fence: 2,
  fenced: 3,
  restart: 4,
  recovering: 6,
  recovered: 7,
  returned: 8,
  cleared: 8,
};
const ALERT_RANK: Record<RecoveryAlert["alert"], number> = {
  isolated: 1,
  agent_down: 1,
  fence_impossible: 1,
  fence_failed: 2.5,
  start_refused: 5,
  start_failed: 5,
  host_returned: 9,
  duplicate_running: 9,
};

interface Keyed {
  key: string;
  entry: RecoveryHistoryEntry;
}

export class RecoveryHistory {
  private readonly log: RingBuffer<Keyed>;
  /** Each host's state and incident as the newest sink write left them. */
  private readonly last = new Map<string, { state: HostFailureState; failedAt: number | null }>();
  private alerts = 0;

  constructor(
    /** Entries kept and answered at most (history_size). */
    readonly size: number,
    private readonly source: RecoveryHistorySource,
    private readonly clock: Clock,
  ) {
    this.log = new RingBuffer(size);
  }

  /** The sink the manager writes to: every host write is seen here, then passed on to `next` (HA). */
  sink(next?: RecoverySink): RecoverySink {
    return {
      host: (r) => {
        this.host(r);
        next?.host(r);
      },
      restart: (r) => (next ? next.restart(r) : Promise.resolve()),
      forget: (r) => next?.forget?.(r),
    };
  }

  /** A host's stored state was written: logs the incident's changes. */
  host(r: StoredRecoveryHost): void {
    const prev = this.last.get(r.host) ?? { state: "healthy", failedAt: null };
    this.last.set(r.host, { state: r.state, failedAt: r.failedAt });
    if (r.failedAt !== null && r.failedAt !== prev.failedAt) this.change(r.host, "failed", r.failedAt, r.failedAt);
    if (r.state === prev.state) return;
    if (IN_INCIDENT.has(r.state)) this.change(r.host, r.state as IncidentChange, r.since, r.failedAt);
    else if (r.state === "healthy" || r.state === "agent_down") {
      if (IN_INCIDENT.has(prev.state)) this.change(r.host, "returned", r.since, null);
      else if (prev.failedAt !== null) this.change(r.host, "cleared", r.since, null);
    }
  }

  /** An alert as published (at: now). */
  alert(a: RecoveryAlert): void {
    const at = this.clock.now();
    const vm = typeof a.numbers.vm === "string" ? a.numbers.vm : null;
    this.log.push({
      key: `alert:${at}:${a.alert}:${a.host ?? ""}:${vm ?? ""}:${this.alerts++}`,
      entry: { kind: "alert", at, host: a.host, vm, alert: a.alert, code: a.code, message: a.message },
    });
  }

  /** A new leader took over with these hosts (adopt): their states are the starting point for changes. */
  restored(hosts: readonly StoredRecoveryHost[]): void {
    for (const h of hosts) this.last.set(h.host, { state: h.state, failedAt: h.failedAt });
  }

  /** Newest first, filtered, at most `limit` (and never more than `size`). */
  entries(q: Partial<Pick<RecoveryHistoryRequest, "vm" | "host" | "kind" | "limit">> = {}): RecoveryHistoryEntry[] {
    const kind = q.kind ?? "all";
    const keep = (e: RecoveryHistoryEntry): boolean =>
      (kind === "all" || e.kind === kind) &&
      (q.host === undefined || e.host === q.host || (e.kind === "restart" && e.restart.restart.destination === q.host)) &&
      (q.vm === undefined || ((e.kind === "restart" || e.kind === "alert") && e.vm === q.vm));
    return this.all()
      .filter(keep)
      .slice(0, Math.min(q.limit ?? this.size, this.size));
  }

  /** Every entry, newest first, at most `size`. */
  private all(): RecoveryHistoryEntry[] {
    const byKey = new Map<string, { entry: RecoveryHistoryEntry; seq: number }>();
    let seq = 0;
    const put = (k: Keyed) => byKey.set(k.key, { entry: k.entry, seq: seq++ });
    for (const k of this.log.toArray()) put(k);
    const { hosts, restarts } = this.source.persisted();
    for (const h of hosts) {
      if (h.failedAt !== null) put(failure(h.host, "failed", h.failedAt, h.failedAt));
      // Two attempts of one pass can share their millisecond: each is its own entry.
      h.attempts.forEach((a, i) => put({ key: `fence:${h.host}:${i}`, entry: { kind: "fence", at: a.at, host: h.host, attempt: a } }));
      if (IN_INCIDENT.has(h.state)) put(failure(h.host, h.state as IncidentChange, h.since, h.failedAt));
    }
    for (const r of restarts)
      put({ key: `restart:${r.requestId}`, entry: { kind: "restart", at: r.restart.at, host: r.restart.host, vm: r.restart.vm, restart: r } });
    return [...byKey.values()]
      .sort((a, b) => b.entry.at - a.entry.at || rank(b.entry) - rank(a.entry) || b.seq - a.seq)
      .slice(0, this.size)
      .map((x) => x.entry);
  }

  private change(host: string, state: IncidentChange, at: number, failedAt: number | null): void {
    this.log.push(failure(host, state, at, failedAt));
  }
}

function failure(host: string, state: IncidentChange, at: number, failedAt: number | null): Keyed {
  return { key: `failure:${host}:${state}:${at}`, entry: { kind: "failure", at, host, state, failedAt } };
}

function rank(e: RecoveryHistoryEntry): number {
  return e.kind === "failure" ? RANK[e.state] : e.kind === "alert" ? ALERT_RANK[e.alert] : RANK[e.kind];
}
