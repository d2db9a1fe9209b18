import { z } from "zod";
import { MigrationStats } from "./agent-api.js";
import { HostId, MigrationAddress, RequestId, VmName } from "./ids.js";
import { MoveCode } from "./decision-codes.js";
import { Numbers, StrategyName } from "./plan.js";

// One migration the orchestrator decided on, from queueing to its outcome: what `history`,
// `migrate` and `explain` answer, what the orchestrator publishes on ballast.orch.events, and what
// HA orchestrators keep in their shared store.

/** Watcher's action states: a step whose pre-condition no longer holds is SKIPPED, not FAILED. */
export const MigrationState = z.enum(["PENDING", "ONGOING", "SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"]);
export type MigrationState = z.infer<typeof MigrationState>;

export const FINAL_STATES: ReadonlySet<MigrationState> = new Set(["SUCCEEDED", "FAILED", "SKIPPED", "CANCELLED"]);

export const MigrationRecord = z.object({
  requestId: RequestId,
  vm: VmName,
  source: HostId,
  destination: HostId,
  /** The destination's migration-network address, set when the command went out. */
  destinationAddress: MigrationAddress.optional(),
  strategy: StrategyName,
  /** Why it was planned (HOST_OVERLOADED, IMBALANCE, CONSOLIDATE, EVACUATE, MANUAL). */
  code: MoveCode,
  reason: z.string(),
  numbers: Numbers.optional(),
  planId: z.string().optional(),
  state: MigrationState,
  /** ms since the epoch. */
  queuedAt: z.number(),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
  /** 0..100 while running, when the agent can tell. */
  progress: z.number().min(0).max(100).optional(),
  stats: MigrationStats.optional(),
  /** libvirt's own error text, or why the move was skipped or cancelled. */
  error: z.string().optional(),
  /** Memory (MiB) and CPU (percent of one core) the VM had when queued: reserved on the destination while it runs. */
  memMiB: z.number().min(0),
  cpuPercent: z.number().min(0),
});
export type MigrationRecord = z.infer<typeof MigrationRecord>;
