import type { MigrationRecord } from "../shared/schemas/migration-record.js";
import type { RecoveryHistoryEntry } from "../shared/schemas/orchestrator-api.js";
import { table, time } from "./table.js";
import { migrationNotes } from "./render.js";

// `ballast history`: finished migrations (the history endpoint) and host failures, fences,
// restarts and alerts (recoveryHistory) in one list, newest first.

export const HISTORY_KINDS = ["migration", "failure", "fence", "restart", "alert", "all"] as const;
export type HistoryKind = (typeof HISTORY_KINDS)[number];

/** One line of `ballast history`: a migration, or an entry of the recovery history. */
export type HistoryItem = { kind: "migration"; at: number; record: MigrationRecord } | RecoveryHistoryEntry;

/** When a migration counts in the list: when it ended (else started, else queued). */
export function migrationAt(r: MigrationRecord): number {
  return r.finishedAt ?? r.startedAt ?? r.queuedAt;
}

/** Both lists in one, newest first, at most `limit`; within one millisecond recovery entries keep their order, migrations come first. */
export function mergeHistory(migrations: readonly MigrationRecord[], recovery: readonly RecoveryHistoryEntry[], limit: number): HistoryItem[] {
  const items: HistoryItem[] = [...migrations.map((record) => ({ kind: "migration" as const, at: migrationAt(record), record })), ...recovery];
  // Array.prototype.sort is stable: equal times keep the order of the two (each newest first) lists.
  return items.sort((a, b) => b.at - a.at).slice(0, limit);
}

export function renderTimeline(items: readonly HistoryItem[]): string {
  if (items.length === 0) return "no history yet";
  return table(
    ["WHEN", "KIND", "VM", "HOST", "WHAT"],
    items.map((e) => [time(e.at), e.kind, vmOf(e), hostOf(e), what(e)]),
  );
}

function vmOf(e: HistoryItem): string | null {
  if (e.kind === "migration") return e.record.vm;
  if (e.kind === "restart" || e.kind === "alert") return e.vm;
  return null;
}

function hostOf(e: HistoryItem): string | null {
  if (e.kind === "migration") return `${e.record.source} -> ${e.record.destination}`;
  if (e.kind === "restart") return `${e.host} -> ${e.restart.restart.destination}`;
  return e.host;
}

function what(e: HistoryItem): string {
  switch (e.kind) {
    case "migration": {
      const r = e.record;
      const d = r.stats?.durationMs !== undefined ? ` in ${(r.stats.durationMs / 1000).toFixed(1)}s` : "";
      const dt = r.stats?.downtimeMs !== undefined ? `, downtime ${r.stats.downtimeMs}ms` : "";
      return [`${r.state}${d}${dt}: ${r.error ?? r.reason}`, ...migrationNotes(r)].join("; ");
    }
    case "failure":
      return {
        failed: "FAILED: its agent is silent, its peers cannot reach its libvirt and its BMC does not read on",
        fenced: "FENCED: known to be off, its VMs may be restarted elsewhere",
        recovering: "RECOVERING: its VMs are being restarted elsewhere",
        recovered: "RECOVERED: every VM that could be restarted was",
        returned: "RETURNED: reports again after it was fenced (its old VMs must not start there)",
        cleared: "CLEARED: reports again before it was fenced",
      }[e.state];
    case "fence": {
      const a = e.attempt;
      const body =
        a.by === "operator"
          ? `confirmed off by ${a.operator ?? "an operator"}`
          : `hard power-off: ${a.result}${a.readBackAt !== null ? ` (read back ${time(a.readBackAt)})` : ""}`;
      return `${body}${a.error ? `: ${a.error}` : ""}`;
    }
    case "restart": {
      const r = e.restart;
      return `restart ${r.outcome} (epoch ${r.restart.epoch}, ${r.tries} ${r.tries === 1 ? "try" : "tries"})${r.detail ? `: ${r.detail}` : ""}`;
    }
    case "alert":
      return `ALERT ${e.alert}: ${e.message}`;
  }
}
