import type { MigrationStats } from "../../shared/schemas/agent-api.js";

/** Watcher's action states: a step whose pre-condition no longer holds is SKIPPED, not FAILED. */
export type MigrationState = "PENDING" | "ONGOING" | "SUCCEEDED" | "FAILED" | "SKIPPED" | "CANCELLED";

export const FINAL_STATES: ReadonlySet<MigrationState> = new Set(["SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"]);

/** One migration the orchestrator decided on, from queueing to its outcome. */
export interface MigrationRecord {
  requestId: string;
  vm: string;
  source: string;
  destination: string;
  destinationAddress?: string;
  strategy: string;
  code: string;
  reason: string;
  numbers?: Record<string, unknown>;
  planId?: string;
  state: MigrationState;
  queuedAt: number;
  startedAt?: number;
  finishedAt?: number;
  progress?: number;
  stats?: MigrationStats;
  /** libvirt's own error text, or why the move was skipped. */
  error?: string;
  memMiB: number;
  cpuPercent: number;
}
