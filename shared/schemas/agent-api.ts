import { z } from "zod";
import { HostId, MigrationAddress, RequestId, VmName } from "./ids.js";
import { HostMetrics } from "./host-metrics.js";

/** ballast.agent.<host>.ping */
export const PingRequest = z.object({}).strict();
export const Pong = z.object({ host: HostId, ts: z.number(), agentVersion: z.string(), driver: z.string() });
export type Pong = z.infer<typeof Pong>;

/** ballast.agent.<host>.status */
export const AgentStatusRequest = z.object({}).strict();

export const MigrationPhase = z.enum(["accepted", "running", "succeeded", "failed", "aborted"]);
export type MigrationPhase = z.infer<typeof MigrationPhase>;

/** Statistics libvirt reports for a finished migration (all optional: not every driver has them). */
export const MigrationStats = z.object({
  /** Wall time of the whole migrate command, ms. */
  durationMs: z.number().min(0),
  /** libvirt's time_elapsed, ms. */
  elapsedMs: z.number().min(0).optional(),
  downtimeMs: z.number().min(0).optional(),
  dataTotalBytes: z.number().min(0).optional(),
  dataProcessedBytes: z.number().min(0).optional(),
  memoryBps: z.number().min(0).optional(),
  memoryIterations: z.number().min(0).optional(),
});
export type MigrationStats = z.infer<typeof MigrationStats>;

export const MigrationInfo = z.object({
  requestId: RequestId,
  vm: VmName,
  source: HostId,
  destination: HostId,
  destinationAddress: MigrationAddress,
  phase: MigrationPhase,
  startedAt: z.number(),
  finishedAt: z.number().optional(),
  stats: MigrationStats.optional(),
  error: z.string().optional(),
});
export type MigrationInfo = z.infer<typeof MigrationInfo>;

export const AgentStatus = z.object({
  metrics: HostMetrics.nullable(),
  migrations: z.array(MigrationInfo),
  driver: z.string(),
  agentVersion: z.string(),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

/** ballast.agent.<host>.migrate: live-migrate a VM of this host. */
export const MigrateRequest = z
  .object({
    requestId: RequestId,
    vm: VmName,
    destination: HostId,
    destinationAddress: MigrationAddress,
    /** Overrides the agent's migration timeout, seconds. */
    timeoutS: z.number().int().min(1).max(86_400).optional(),
    /** Leadership epoch of the sender (HA); agents reject epochs older than the newest seen. */
    epoch: z.number().int().min(0).optional(),
  })
  .strict();
export type MigrateRequest = z.infer<typeof MigrateRequest>;

export const MigrateAccepted = z.object({
  requestId: RequestId,
  vm: VmName,
  source: HostId,
  destination: HostId,
  accepted: z.literal(true),
});
export type MigrateAccepted = z.infer<typeof MigrateAccepted>;

/** ballast.agent.<host>.abort: abort the running migration of a VM. */
export const AbortRequest = z
  .object({
    vm: VmName.optional(),
    requestId: RequestId.optional(),
    epoch: z.number().int().min(0).optional(),
  })
  .strict()
  .refine((r) => r.vm !== undefined || r.requestId !== undefined, "give vm or requestId");
export type AbortRequest = z.infer<typeof AbortRequest>;

export const AbortResult = z.object({ requestId: RequestId, vm: VmName, aborted: z.boolean() });
export type AbortResult = z.infer<typeof AbortResult>;

/** Published on agentSubjects(host).events. */
export const MigrationEvent = z.object({
  v: z.literal(1),
  type: z.enum(["migration.started", "migration.progress", "migration.succeeded", "migration.failed", "migration.aborted"]),
  ts: z.number(),
  requestId: RequestId,
  vm: VmName,
  source: HostId,
  destination: HostId,
  /** 0..100 while running, when the driver can tell. */
  progress: z.number().min(0).max(100).optional(),
  stats: MigrationStats.optional(),
  /** libvirt's own error text on failure. */
  error: z.string().optional(),
});
export type MigrationEvent = z.infer<typeof MigrationEvent>;
