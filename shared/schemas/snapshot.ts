import { z } from "zod";
import { HostId, VmName } from "./ids.js";
import { VmState } from "./vm.js";

// The planner's whole view of the cluster at one instant. Built by the orchestrator shell from
// agent messages (or loaded from a file for offline planning); the planner never reads anything
// else. Times are ms since the epoch; loads are percent of the host's capacity.

export const HostSample = z.object({
  ts: z.number(),
  /** CPU load, percent of all cores. */
  cpu: z.number().min(0),
  /** Memory used, percent of physical memory. */
  mem: z.number().min(0),
});
export type HostSample = z.infer<typeof HostSample>;

export const SnapshotHost = z.object({
  id: HostId,
  cpus: z.number().int().positive(),
  /**
   * Relative speed of one core (e.g. its MIPS or SPECint rate over a reference core); default 1.
   * A VM measured at x % of one core here needs x × this / speed(dest) % of a destination core,
   * so clusters that mix CPU generations are judged in one unit. Omit on uniform clusters.
   */
  cpuSpeed: z.number().positive().max(1000).optional(),
  memTotalMiB: z.number().positive(),
  memAvailableMiB: z.number().min(0),
  /** Newest CPU load, percent of all cores. */
  cpuPercent: z.number().min(0),
  /** Time of the newest metrics message or heartbeat, ms. */
  lastSeen: z.number(),
  /** Recent samples, oldest first: the window that `max_over` is judged on. */
  samples: z.array(HostSample).default([]),
  /** Migration-network address from host_mapping; a host without one cannot receive VMs. */
  address: z.string().optional(),
  /** Closed to new VMs (maintenance / being evacuated) until released. */
  maintenance: z.boolean().default(false),
  /**
   * The agent's own error when its newest heartbeat says it cannot read its hypervisor: it still
   * answers, so it is not silent, but what it reports is old and a migration to it may fail.
   */
  collectError: z.string().max(1000).optional(),
  /** Power-saving label from consolidation; still a valid destination. */
  tags: z.array(z.string()).default([]),
});
export type SnapshotHost = z.infer<typeof SnapshotHost>;

export const SnapshotVm = z.object({
  name: VmName,
  host: HostId,
  state: VmState,
  vcpus: z.number().int().min(0),
  memMiB: z.number().min(0),
  /** Measured CPU use, percent of ONE core (null: not measured yet). */
  cpuPercent: z.number().min(0).nullable(),
  /** Measured memory dirty rate, MiB/s, when the hypervisor reports it (migration cost). */
  dirtyRateMiBs: z.number().min(0).optional(),
  tags: z.array(z.string()).default([]),
});
export type SnapshotVm = z.infer<typeof SnapshotVm>;

export const InFlightMigration = z.object({
  requestId: z.string(),
  vm: VmName,
  source: HostId,
  destination: HostId,
  startedAt: z.number(),
  /** Resources reserved on the destination while the migration runs. */
  memMiB: z.number().min(0),
  cpuPercent: z.number().min(0),
});
export type InFlightMigration = z.infer<typeof InFlightMigration>;

/** A finished migration, for cooldowns, settle times and ping-pong detection. */
export const PastMove = z.object({
  vm: VmName,
  source: HostId,
  destination: HostId,
  finishedAt: z.number(),
  outcome: z.enum(["succeeded", "failed", "aborted"]),
});
export type PastMove = z.infer<typeof PastMove>;

export const ClusterSnapshot = z.object({
  v: z.literal(1).default(1),
  takenAt: z.number(),
  hosts: z.array(SnapshotHost),
  vms: z.array(SnapshotVm),
  inFlight: z.array(InFlightMigration).default([]),
  /** Recent finished moves, newest last (the store keeps at least pingpong_window of them). */
  history: z.array(PastMove).default([]),
  /** VMs frozen after ping-pong detection, until an operator releases them. */
  frozenVms: z.array(VmName).default([]),
});
export type ClusterSnapshot = z.infer<typeof ClusterSnapshot>;
export type ClusterSnapshotInput = z.input<typeof ClusterSnapshot>;
