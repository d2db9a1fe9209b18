import { z } from "zod";
import { HostId, MigrationAddress, RequestId, VmName } from "./ids.js";
import { HostMetrics } from "./host-metrics.js";
import { AbsPath, AgentFacts, FactsRequest, VmFacts } from "./facts.js";

/** ballast.agent.<host>.ping */
export const PingRequest = z.object({}).strict();
export const Pong = z.object({
  host: HostId.describe("The agent's host id."),
  ts: z.number().describe("The agent's clock when it answered, ms since the epoch."),
  agentVersion: z.string().describe("Ballast version of the agent."),
  driver: z.string().describe('Hypervisor driver: "virsh" (libvirt) or "sim" (simulated host).'),
});
export type Pong = z.infer<typeof Pong>;

/** ballast.agent.<host>.status */
export const AgentStatusRequest = z.object({}).strict();

export const MigrationPhase = z.enum(["accepted", "running", "succeeded", "failed", "aborted"]);
export type MigrationPhase = z.infer<typeof MigrationPhase>;

export const MigrationStats = z
  .object({
    durationMs: z.number().min(0).describe("Wall time of the migration as the source agent measured it, ms."),
    elapsedMs: z.number().min(0).optional().describe("libvirt's time_elapsed of the job, ms; absent when libvirt reported no job statistics."),
    downtimeMs: z.number().min(0).optional().describe("Time the guest was paused for the switch-over (libvirt's downtime), ms; absent when not reported."),
    dataTotalBytes: z.number().min(0).optional().describe("libvirt's data_total: bytes the job had to transfer, bytes; absent when not reported."),
    dataProcessedBytes: z
      .number()
      .min(0)
      .optional()
      .describe("libvirt's data_processed: bytes transferred, including memory sent again, bytes; absent when not reported."),
    memoryBps: z.number().min(0).optional().describe("libvirt's memory_bps: memory transfer rate, bytes per second; absent when not reported."),
    memoryIterations: z
      .number()
      .min(0)
      .optional()
      .describe("libvirt's memory_iteration: passes over guest memory (pre-copy rounds); absent when not reported."),
    postcopy: z.boolean().optional().describe("True when the migration switched to post-copy at its time limit (migration.on_timeout: postcopy)."),
  })
  .describe(
    "Statistics of a succeeded migration: the source agent's wall time, and libvirt's job statistics (virsh: from libvirt's job-completed event, absent when it did not arrive; the sim driver models them all).",
  );
export type MigrationStats = z.infer<typeof MigrationStats>;

export const MigrationInfo = z
  .object({
    requestId: RequestId.describe("The request id the migration was asked with."),
    vm: VmName.describe("The VM being migrated."),
    source: HostId.describe("This agent's host."),
    destination: HostId.describe("Host id of the destination."),
    destinationAddress: MigrationAddress.describe("Migration-network address the VM is sent to."),
    phase: MigrationPhase.describe("accepted: validated, not started yet; running: the migrate command runs; succeeded, failed or aborted: finished."),
    startedAt: z.number().describe("When the agent accepted the request, ms since the epoch (agent clock)."),
    finishedAt: z.number().optional().describe("When it finished, ms since the epoch (agent clock); absent until then."),
    stats: MigrationStats.optional().describe("Statistics of a succeeded migration; absent otherwise."),
    error: z.string().optional().describe("Why it failed or was aborted (libvirt's own text, or the timeout); absent otherwise."),
  })
  .describe("One outgoing migration as the source agent tracks it.");
export type MigrationInfo = z.infer<typeof MigrationInfo>;

export const AgentStatus = z.object({
  metrics: HostMetrics.nullable().describe(
    "The newest metrics this agent collected (also when they were not published); null until a collection has succeeded.",
  ),
  migrations: z.array(MigrationInfo).describe("The agent's most recent outgoing migrations (at most 200), oldest first, running ones included."),
  driver: z.string().describe('Hypervisor driver: "virsh" (libvirt) or "sim" (simulated host).'),
  agentVersion: z.string().describe("Ballast version of the agent."),
});
export type AgentStatus = z.infer<typeof AgentStatus>;

/** The leadership epoch a command carries (HA), in migrate and abort requests alike. */
const SenderEpoch = z
  .number()
  .int()
  .min(0)
  .optional()
  .describe(
    "Leadership epoch of the sending orchestrator (HA); refused with STALE_EPOCH when older than the newest epoch of a command this agent carried out. Absent without HA.",
  );

/** ballast.agent.<host>.migrate: live-migrate a VM of this host. */
export const MigrateRequest = z
  .object({
    requestId: RequestId.describe(
      "Makes the command idempotent: the same id with the same vm, destination, destinationAddress and timeoutS (whatever its epoch) gets the first answer again and never a second migration; with any of them different it is refused with IDEMPOTENCY_CONFLICT, naming what differs. Refusals that may pass later, such as BUSY or ALREADY_MIGRATING, are not remembered.",
    ),
    vm: VmName.describe("The VM to migrate: it must run on this host."),
    destination: HostId.describe("Host id of the destination; must not be this host."),
    destinationAddress: MigrationAddress.describe("The destination's migration-network address, which virsh connects to."),
    timeoutS: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .optional()
      .describe(
        "Time limit of this migration, seconds; past it the agent aborts it (or switches it to post-copy, migration.on_timeout). Absent: the agent's migration.timeout plus timeout_factor × (memory + local disk bytes copied) / bandwidth_mibs.",
      ),
    copyStorage: z
      .boolean()
      .optional()
      .describe(
        "May the VM's local disks be copied (`--copy-storage-all`, only the local writable disks, listed with `--migrate-disks`)? The orchestrator sets it from local_disks. Absent or false: a VM with local disks is refused with LOCAL_DISKS.",
      ),
    epoch: SenderEpoch,
  })
  .strict();
export type MigrateRequest = z.infer<typeof MigrateRequest>;

export const MigrateAccepted = z.object({
  requestId: RequestId.describe("The request's id."),
  vm: VmName.describe("The VM that will be migrated."),
  source: HostId.describe("This agent's host."),
  destination: HostId.describe("Host id of the destination."),
  accepted: z.literal(true).describe("Always true: a refusal is an error reply."),
  timeoutS: z.number().int().min(1).optional().describe("The time limit the migration runs under, seconds (the request's, or scaled from memory and disks)."),
  copyDisks: z
    .array(z.string())
    .max(64)
    .optional()
    .describe("Target names of the local disks copied with the VM (`--copy-storage-all`); absent or empty: none."),
  copyPaths: z
    .array(z.string())
    .max(64)
    .optional()
    .describe(
      "The copied disks' files on this (the source) host, as the domain's XML said right before the migration: the source copies local_disk_source acts on.",
    ),
  diskBytes: z.number().int().min(0).optional().describe("Bytes of local disk to copy (their allocation); absent: none."),
  postcopy: z.boolean().optional().describe("Started with post-copy allowed: it switches to post-copy at its time limit instead of aborting."),
});
export type MigrateAccepted = z.infer<typeof MigrateAccepted>;

/** ballast.agent.<host>.abort: abort the running migration of a VM. */
export const AbortRequest = z
  .object({
    vm: VmName.optional().describe("Abort the running migration of this VM. Give vm, requestId or both (then both must match)."),
    requestId: RequestId.optional().describe("Abort the migration with this request id. Give vm, requestId or both (then both must match)."),
    epoch: SenderEpoch,
  })
  .strict()
  .refine((r) => r.vm !== undefined || r.requestId !== undefined, "give vm or requestId");
export type AbortRequest = z.infer<typeof AbortRequest>;

export const AbortResult = z.object({
  requestId: RequestId.describe("Request id of the migration."),
  vm: VmName.describe("The VM of the migration."),
  aborted: z
    .boolean()
    .describe("True: libvirt was asked to abort (the outcome follows as an event); false: the migration named by requestId had already finished."),
});
export type AbortResult = z.infer<typeof AbortResult>;

/** ballast.agent.<host>.check-incoming: the destination checks a VM against its own libvirt before the source starts. */
export const CheckIncomingRequest = z
  .object({
    vm: VmName.describe("The VM that would come here."),
    source: HostId.describe("The host it would come from."),
    memMiB: z.number().min(0).describe("Memory the VM needs here, MiB."),
    facts: VmFacts.omit({ name: true }).describe("The VM's facts as its source agent published them."),
    copyStorage: z.boolean().default(false).describe("Its local disks would be copied: their paths must be free here."),
  })
  .strict();
export type CheckIncomingRequest = z.infer<typeof CheckIncomingRequest>;

export const IncomingRefusalCode = z.enum([
  "CPU",
  "DOMAIN_TYPE",
  "MACHINE",
  "NETWORK",
  "STORAGE",
  "DISK_EXISTS",
  "MEMORY",
  "HUGEPAGES",
  "PINNING",
  "CHECK_FAILED",
]);
export type IncomingRefusalCode = z.infer<typeof IncomingRefusalCode>;

export const CheckIncomingResult = z.object({
  vm: VmName.describe("The VM checked."),
  host: HostId.describe("This (the destination) host."),
  ok: z.boolean().describe("True when every check passed."),
  refusals: z
    .array(
      z.object({
        code: IncomingRefusalCode.describe("Which check failed."),
        message: z
          .string()
          .max(2000)
          .describe("What failed, in libvirt's own words where libvirt said it (hypervisor-cpu-compare's verdict, a missing network)."),
      }),
    )
    .max(64)
    .describe("Every check that failed; empty when ok."),
});
export type CheckIncomingResult = z.infer<typeof CheckIncomingResult>;

/** ballast.agent.<host>.cpu-baseline: libvirt computes the CPU every given host CPU can run. */
export const CpuBaselineRequest = z
  .object({
    cpus: z.array(z.string().min(1).max(65_536)).min(1).max(64).describe("<cpu> elements (host-model CPUs of the hosts of one group), distinct."),
  })
  .strict();
export type CpuBaselineRequest = z.infer<typeof CpuBaselineRequest>;

export const CpuBaselineResult = z.object({
  xml: z
    .string()
    .max(65_536)
    .describe("libvirt's baseline <cpu> element (`virsh hypervisor-cpu-baseline`): a guest CPU definition every one of the CPUs can run."),
  model: z.string().optional().describe("Its CPU model."),
  features: z.array(z.string()).max(1024).describe("Features it requires beyond the model, sorted."),
});
export type CpuBaselineResult = z.infer<typeof CpuBaselineResult>;

/** ballast.agent.<host>.remove-disks: delete the source copies of a moved VM's local disks. */
export const RemoveDisksRequest = z
  .object({
    requestId: RequestId.describe("The migration that moved the VM away."),
    vm: VmName.describe("The VM that moved; it must no longer be defined on this host."),
    paths: z.array(AbsPath).min(1).max(64).describe("The disk files to remove: the moved VM's local disks as its facts listed them."),
  })
  .strict();
export type RemoveDisksRequest = z.infer<typeof RemoveDisksRequest>;

export const RemoveDisksResult = z.object({
  vm: VmName.describe("The VM the files belonged to."),
  removed: z.array(z.string()).describe("Files removed."),
  kept: z
    .array(z.object({ path: z.string().describe("The file."), reason: z.string().describe("Why it was not removed.") }))
    .describe("Files not removed, and why."),
});
export type RemoveDisksResult = z.infer<typeof RemoveDisksResult>;

/** ballast.agent.<host>.vm-definition: a VM's definition, for the orchestrator's VM records. */
export const VmDefinitionRequest = z.object({ vm: VmName.describe("The VM: it must be defined on this host.") }).strict();
export type VmDefinitionRequest = z.infer<typeof VmDefinitionRequest>;

/** Largest definition answered, characters: a domain of 64 disks and 64 NICs is ~100 KiB. */
export const MAX_DEFINITION_CHARS = 512 * 1024;

export const VmDefinition = z.object({
  vm: VmName.describe("The VM."),
  host: HostId.describe("This agent's host."),
  uuid: z
    .string()
    .regex(/^[0-9a-fA-F-]{32,36}$/)
    .optional()
    .describe("The domain's UUID as its definition says; absent when it has none."),
  xml: z
    .string()
    .max(MAX_DEFINITION_CHARS)
    .describe(
      "libvirt's `virsh dumpxml --migratable` of the VM (never --security-info), with secrets removed: graphics passwords and network disks' cookies (docs/host-failure.md). References to libvirt secrets (<auth>'s and <encryption>'s <secret uuid/usage>) are kept.",
    ),
  digest: z
    .string()
    .regex(/^[0-9a-f]{64}$/)
    .describe("sha256 of xml, hex."),
  removed: z.array(z.string().max(200)).max(256).describe("What was removed from libvirt's XML, one entry each (`graphics[vnc] passwd`); empty: nothing."),
});
export type VmDefinition = z.infer<typeof VmDefinition>;

/**
 * What a probe waits for a peer's libvirt when its request names no limit (an orchestrator from
 * before `failure_probe_timeout`), seconds; also that key's default. Far above a libvirtd's answer
 * on a LAN (a few ms), so no answer means down.
 */
export const PROBE_TIMEOUT_DEFAULT_S = 1.5;

/** ballast.agent.<host>.probe-host: does another host's libvirt answer this host over the migration network? */
export const ProbeHostRequest = z
  .object({
    host: HostId.describe("The host whose libvirt is probed (a silent host); not this agent's host."),
    address: MigrationAddress.describe("That host's migration-network address (host_mapping), which virsh connects to."),
    timeoutS: z
      .number()
      .min(0.1)
      .max(60)
      .optional()
      .describe(`How long to wait for its libvirt, seconds (the orchestrator's \`failure_probe_timeout\`). Absent: ${PROBE_TIMEOUT_DEFAULT_S} s.`),
  })
  .strict();
export type ProbeHostRequest = z.infer<typeof ProbeHostRequest>;

export const ProbeHostResult = z.object({
  host: HostId.describe("The host probed."),
  from: HostId.describe("This agent's host (the peer that probed)."),
  ok: z.boolean().describe("true: its libvirt answered (`virsh -c <uri_scheme>://ADDRESS<uri_path> version`); false: refused, broke or timed out."),
  timedOut: z.boolean().describe("No answer within the probe's time limit (ok is false)."),
  detail: z.string().max(2000).describe("libvirt's answer or its error, one line."),
  ms: z.number().min(0).describe("How long the probe took, ms."),
});
export type ProbeHostResult = z.infer<typeof ProbeHostResult>;

/** ballast.agent.<host>.start-recorded-vm: define a dead host's VM from its record and start it here. */
export const StartRecordedVmRequest = z
  .object({
    requestId: RequestId.describe(
      "Makes the command idempotent: the same id with the same vm and definition gets the first answer again and never a second start; with another vm or definition it is IDEMPOTENCY_CONFLICT.",
    ),
    vm: VmName.describe("The VM: its definition's <name> must be this."),
    definition: z.string().min(1).max(MAX_DEFINITION_CHARS).describe("The VM's recorded definition (libvirt's migratable XML, secrets removed)."),
    epoch: z
      .number()
      .int()
      .min(0)
      .describe(
        "Leadership epoch of the sending orchestrator (0 without HA); STALE_EPOCH when older than the newest this agent has seen. Not part of the request's identity: a new leader sending a recorded restart again gets the first answer.",
      ),
  })
  .strict();
export type StartRecordedVmRequest = z.infer<typeof StartRecordedVmRequest>;

export const StartRecordedVmResult = z.object({
  requestId: RequestId.describe("The request's id."),
  vm: VmName.describe("The VM."),
  host: HostId.describe("This agent's host."),
  started: z
    .boolean()
    .describe(
      "true: defined and started here; false: refused with nothing changed, because a domain of that name is already defined (or running) here (detail says in which state).",
    ),
  detail: z.string().max(2000).describe("What was done, or why not."),
});
export type StartRecordedVmResult = z.infer<typeof StartRecordedVmResult>;

/** ballast.agent.<host>.pause-vm: pause (virsh suspend) a VM running here that also runs on the host its record names. */
export const PauseVmRequest = z
  .object({
    vm: VmName.describe("The VM to pause here."),
    recordHost: HostId.describe("The host the VM's record names, where it keeps running (for the agent's log)."),
    epoch: z
      .number()
      .int()
      .min(0)
      .describe("Leadership epoch of the sending orchestrator (0 without HA); STALE_EPOCH when older than the newest this agent has seen."),
  })
  .strict();
export type PauseVmRequest = z.infer<typeof PauseVmRequest>;

export const PauseVmResult = z.object({
  vm: VmName.describe("The VM."),
  host: HostId.describe("This agent's host."),
  paused: z.boolean().describe("true: paused now; false: nothing done, because it was not running here (state says how it is)."),
  state: z.string().max(64).describe("The VM's state here after the request (paused, shutoff, ...)."),
  detail: z.string().max(2000).describe("What was done, or why not."),
});
export type PauseVmResult = z.infer<typeof PauseVmResult>;

/** ballast.agent.<host>.guest-state: is a VM's guest up (its QEMU guest agent channel connected)? */
export const GuestStateRequest = z.object({ vm: VmName.describe("The VM: it must be defined on this host.") }).strict();
export type GuestStateRequest = z.infer<typeof GuestStateRequest>;

/** The guest agent channel of a domain, as libvirt's live XML says. */
export const GuestAgentState = z.enum(["connected", "disconnected", "none"]);
export type GuestAgentState = z.infer<typeof GuestAgentState>;

export const GuestStateResult = z.object({
  vm: VmName.describe("The VM."),
  host: HostId.describe("This agent's host."),
  state: z.string().max(64).describe("libvirt's domain state, as `virsh domstate` words it: running, paused, shut off, crashed, ..."),
  guestAgent: GuestAgentState.describe(
    "The guest agent channel (virtio port org.qemu.guest_agent.0). connected: a program in the guest (qemu-ga) holds the port open, libvirt's live XML says state='connected': the guest is up. disconnected: the domain has the channel but nothing in the guest holds it open (still booting, no agent started, or the domain is not running). none: the domain has no such channel, so whether its guest is up cannot be told.",
  ),
  detail: z.string().max(2000).describe("What was read, in one line."),
});
export type GuestStateResult = z.infer<typeof GuestStateResult>;

/** Published on agentSubjects(host).events. */
export const MigrationEvent = z.object({
  v: z.literal(1).describe("Format version of the message."),
  type: z
    .enum(["migration.started", "migration.progress", "migration.succeeded", "migration.failed", "migration.aborted"])
    .describe("started: the migrate command runs; progress: how far it got; succeeded, failed or aborted: the outcome, sent once."),
  ts: z.number().describe("When it happened, ms since the epoch (agent clock)."),
  requestId: RequestId.describe("Request id of the migration."),
  vm: VmName.describe("The VM being migrated."),
  source: HostId.describe("The publishing agent's host (the migration's source)."),
  destination: HostId.describe("Host id of the destination."),
  progress: z
    .number()
    .min(0)
    .max(100)
    .optional()
    .describe("Percent of the data transferred; only on migration.progress, sent when the driver can tell, at most once a second."),
  stats: MigrationStats.optional().describe("Statistics of the migration; only on migration.succeeded."),
  error: z.string().optional().describe("libvirt's own error text, or the timeout; only on migration.failed and migration.aborted."),
});
export type MigrationEvent = z.infer<typeof MigrationEvent>;

/** The agent's request/reply endpoints (ballast.agent.<host>.<endpoint>), as docs/api.md lists them. */
export const AgentApi = {
  ping: { summary: "Is the agent there? Its host, clock, version and driver.", request: PingRequest, reply: Pong, examples: [[{}, ""]] },
  status: { summary: "The agent's newest metrics and its recent outgoing migrations.", request: AgentStatusRequest, reply: AgentStatus, examples: [[{}, ""]] },
  migrate: {
    summary:
      "Live-migrate a VM of this host (virsh migrate --live --p2p). Answered at once, accepted or refused; the outcome follows as events. The same requestId with the same body returns the first answer and never runs a second migration; with another body it is IDEMPOTENCY_CONFLICT.",
    request: MigrateRequest,
    reply: MigrateAccepted,
    examples: [[{ requestId: "op-1", vm: "web-1", destination: "hv-b", destinationAddress: "10.10.0.12" }, ""]],
  },
  abort: { summary: "Abort the running migration of a VM (by vm or requestId).", request: AbortRequest, reply: AbortResult, examples: [[{ vm: "web-1" }, ""]] },
  getFacts: {
    summary: "The host's and its VMs' migratability facts (what is also published on ballast.agent.<host>.facts).",
    request: FactsRequest,
    reply: AgentFacts,
    examples: [[{}, ""]],
  },
  checkIncoming: {
    summary:
      "The destination's own check of a VM before the source starts: CPU (virsh hypervisor-cpu-compare), machine type, networks, shared disk paths, free disk paths for copied disks, memory and huge pages.",
    request: CheckIncomingRequest,
    reply: CheckIncomingResult,
    examples: [],
  },
  cpuBaseline: {
    summary: "libvirt's CPU baseline (virsh hypervisor-cpu-baseline) of the given host CPUs, computed on this host.",
    request: CpuBaselineRequest,
    reply: CpuBaselineResult,
    examples: [],
  },
  removeDisks: {
    summary: "Remove the source copies of a moved VM's local disks (local_disk_source: remove); refused while the VM is still defined here.",
    request: RemoveDisksRequest,
    reply: RemoveDisksResult,
    examples: [],
  },
  vmDefinition: {
    summary:
      "A VM's definition (libvirt's migratable XML, secrets removed) and its digest, which the orchestrator keeps so the VM can be restarted elsewhere when this host dies. UNKNOWN_VM when it is not defined here.",
    request: VmDefinitionRequest,
    reply: VmDefinition,
    examples: [[{ vm: "web-1" }, ""]],
  },
  probeHost: {
    summary:
      "Host failure (docs/host-failure.md): does another host's libvirt answer this host over the migration network? A short `virsh version` against it; ok false when refused or timed out. The orchestrator asks peers of a silent host.",
    request: ProbeHostRequest,
    reply: ProbeHostResult,
    examples: [[{ host: "hv-b", address: "10.10.0.12" }, ""]],
  },
  startRecordedVm: {
    summary:
      "Host failure: define a fenced host's VM here from its recorded definition and start it. Refused (started false, nothing changed) when a domain of that name is already defined here; idempotent per requestId.",
    request: StartRecordedVmRequest,
    reply: StartRecordedVmResult,
    examples: [],
  },
  pauseVm: {
    summary:
      "Host failure: pause (virsh suspend) a VM that runs here and also on the host its record names (a returning host's old copy). Nothing is destroyed or undefined; refused while the VM migrates. Sent by the leader only.",
    request: PauseVmRequest,
    reply: PauseVmResult,
    examples: [[{ vm: "web-1", recordHost: "hv-a", epoch: 0 }, ""]],
  },
  guestState: {
    summary:
      "Host failure: is a VM's guest up? libvirt's domain state and its QEMU guest agent channel (org.qemu.guest_agent.0) from the live XML: connected once a program in the guest (qemu-ga) opened it. The orchestrator waits for a priority's restarted guests before starting the next. UNKNOWN_VM when it is not defined here.",
    request: GuestStateRequest,
    reply: GuestStateResult,
    examples: [[{ vm: "web-1" }, ""]],
  },
} as const satisfies Record<string, { summary: string; request: z.ZodType; reply: z.ZodType; examples: readonly (readonly [unknown, string])[] }>;
