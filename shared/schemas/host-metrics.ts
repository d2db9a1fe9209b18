import { z } from "zod";
import { HostId } from "./ids.js";
import { VmInfo } from "./vm.js";

export const LoadSource = z.enum(["host", "domains"]);
export type LoadSource = z.infer<typeof LoadSource>;

/** Published by each agent every `interval` on agentSubjects(host).metrics. */
export const HostMetrics = z.object({
  v: z.literal(1),
  host: HostId,
  /** Sample time, ms since the epoch (agent clock). */
  ts: z.number().int().nonnegative(),
  seq: z.number().int().nonnegative(),
  cpus: z.number().int().positive(),
  /** Whole-host CPU usage, percent of all cores: systeminformation's currentLoad on a real host, the simulated host's with the sim driver. */
  hostCpuPercent: z.number().min(0),
  load1: z.number().min(0),
  load5: z.number().min(0),
  load15: z.number().min(0),
  memTotalMiB: z.number().positive(),
  memAvailableMiB: z.number().min(0),
  /** Which figure `cpuPercent` is: the host's own, or the sum of its domains' (lab, shared kernels). */
  loadSource: LoadSource,
  /** The CPU load the orchestrator decides on, percent of all cores (0..100). */
  cpuPercent: z.number().min(0),
  /** Bounded: a hypervisor runs hundreds of VMs, not hundreds of thousands. */
  vms: z.array(VmInfo).max(10_000),
});
export type HostMetrics = z.infer<typeof HostMetrics>;

/** Published every `heartbeat_interval`, independent of metric collection. */
export const Heartbeat = z.object({
  v: z.literal(1),
  host: HostId,
  ts: z.number().int().nonnegative(),
  seq: z.number().int().nonnegative(),
  agentVersion: z.string().max(64),
  startedAt: z.number().int().nonnegative(),
  /** Whether the last metrics collection worked (false: virsh hung or failed). */
  collectOk: z.boolean(),
  collectError: z.string().max(2000).optional(),
  migrationsRunning: z.number().int().min(0),
});
export type Heartbeat = z.infer<typeof Heartbeat>;
