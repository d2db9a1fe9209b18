import { z } from "zod";
import { HostId } from "./ids.js";
import { VmInfo } from "./vm.js";

export const LoadSource = z.enum(["host", "domains"]);
export type LoadSource = z.infer<typeof LoadSource>;

export const HostMetrics = z
  .object({
    v: z.literal(1).describe("Format version of the message."),
    host: HostId.describe("The publishing agent's host id (must equal the subject's host token)."),
    ts: z
      .number()
      .int()
      .nonnegative()
      .describe("When the sample was taken, ms since the epoch (agent clock); the orchestrator drops a message older than the newest it has of the host."),
    seq: z.number().int().nonnegative().describe("Metrics counter of this agent process, from 0; restarts with the agent."),
    cpus: z.number().int().positive().describe("Logical CPUs of the host (cpus_override when configured; the simulated host's with the sim driver)."),
    hostCpuPercent: z
      .number()
      .min(0)
      .describe("Whole-host CPU use, percent of all cores (0..100): systeminformation's currentLoad on a real host, the simulated host's with the sim driver."),
    load1: z.number().min(0).describe("The host's 1-minute load average (node:os loadavg; the simulated host's busy cores with the sim driver)."),
    load5: z.number().min(0).describe("The host's 5-minute load average."),
    load15: z.number().min(0).describe("The host's 15-minute load average."),
    memTotalMiB: z.number().positive().describe("Physical memory of the host, MiB (or the configured mem_override_mib)."),
    memAvailableMiB: z.number().min(0).describe("Memory available for new VMs (the kernel's MemAvailable: reclaimable caches count as free), MiB."),
    loadSource: LoadSource.describe(
      "Which figure cpuPercent is: host, the host's own CPU use (hostCpuPercent); domains, the sum of its VMs' CPU over its cores (labs whose hypervisors share one kernel).",
    ),
    cpuPercent: z
      .number()
      .min(0)
      .describe("The CPU load the orchestrator decides on, percent of all cores (0..100): hostCpuPercent, or the VMs' sum per loadSource."),
    // Bounded: a hypervisor runs hundreds of VMs, not hundreds of thousands.
    vms: z
      .array(VmInfo)
      .max(10_000)
      .describe("Every domain libvirt lists on the host, in any state (domains whose names Ballast cannot address are left out)."),
  })
  .describe("A host's metrics, published by its agent every `interval` seconds.");
export type HostMetrics = z.infer<typeof HostMetrics>;

/** Published every `heartbeat_interval`, independent of metric collection. */
export const Heartbeat = z.object({
  v: z.literal(1).describe("Format version of the message."),
  host: HostId.describe("The publishing agent's host id (must equal the subject's host token)."),
  ts: z.number().int().nonnegative().describe("When it was sent, ms since the epoch (agent clock)."),
  seq: z.number().int().nonnegative().describe("Heartbeat counter of this agent process, from 0; restarts with the agent."),
  agentVersion: z.string().max(64).describe("Ballast version of the agent."),
  startedAt: z
    .number()
    .int()
    .nonnegative()
    .describe("When the agent process started, ms since the epoch (agent clock): a newer value means the agent restarted."),
  collectOk: z.boolean().describe("Whether the agent's last metrics collection worked (false: virsh hung or failed); true before the first one."),
  collectError: z.string().max(2000).optional().describe("Why the last metrics collection failed; absent when it worked."),
  migrationsRunning: z.number().int().min(0).describe("Outgoing migrations running on this agent now."),
  factsDigest: z
    .string()
    .regex(/^[0-9a-f]{8,64}$/)
    .optional()
    .describe(
      "Digest of the agent's newest facts (AgentFacts.digest): the orchestrator asks for them (get-facts) when its copy differs. Absent until collected, and from older agents.",
    ),
});
export type Heartbeat = z.infer<typeof Heartbeat>;
