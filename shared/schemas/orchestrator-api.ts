import { z } from "zod";
import { Automation } from "../config/policy.js";
import { LoggedDecision } from "./decision-log.js";
import { LoadSource } from "./host-metrics.js";
import { HostId, RequestId, VmName } from "./ids.js";
import { DecisionCode } from "./decision-codes.js";
import type { OrchestratorEndpoint } from "../subjects.js";
import { MigrationRecord, MigrationState } from "./migration-record.js";
import { Decision, Plan, PlannedMove } from "./plan.js";
import { ClusterSnapshot, IncompatiblePair } from "./snapshot.js";
import { AgentFacts, UnmigratableReason } from "./facts.js";
import { VmState } from "./vm.js";
import { HostPower, PowerAction, PowerState } from "./power.js";
import { VmRecord } from "./vm-record.js";
import { RecoveryAlertEvent } from "./orchestrator-events.js";
import { BmcReading, FenceAttempt, HostFailureState, PeerProbe, RecordedRestart, RestartHeld } from "./recovery.js";

// The orchestrator's operator API (ballast.orch.*): every endpoint's request and reply, in one map
// (OrchestratorApi below). The orchestrator registers its handlers from it, the CLI and the tests
// call it through it (callOrchestrator validates the reply), and docs/api.md is generated from it.
//
// Field names on the wire are camelCase, in requests, replies and the agent API alike. Requests
// still accept the snake_case spellings of 0.1 (`plan_id`, `request_id`, `use_empty_hosts`,
// `dry_run`) for this version: LEGACY_FIELDS lists them; an answer to a request that used one
// carries the Ballast-Deprecation header.

const Empty = z.object({}).strict();
const PlacementOrder = z.enum(["stripe", "pack"]);

// ---- requests -------------------------------------------------------------------------------

export const StatusRequest = Empty;
export const VersionRequest = Empty;
export const RunRequest = Empty;
export const ResumeRequest = Empty;
export const SnapshotRequest = Empty;

export const PauseRequest = z
  .object({ reason: z.string().max(500).optional().describe('Why: shown in status and in PAUSED refusals. Absent: "paused by operator".') })
  .strict();
export type PauseRequest = z.infer<typeof PauseRequest>;

export const PlanQuery = z
  .object({
    mode: z
      .enum(["cycle", "balance", "consolidate", "evacuate"])
      .default("cycle")
      .describe("What to plan: the periodic cycle (every configured strategy), or one strategy alone."),
    host: HostId.optional().describe("Mode evacuate (and needed there): the host to drain."),
    placement: PlacementOrder.optional().describe("Mode evacuate: stripe (least loaded hosts first, the default) or pack (the fullest hosts that fit)."),
    useEmptyHosts: z.boolean().optional().describe("Mode evacuate: empty hosts may receive VMs (default false)."),
  })
  .strict()
  .refine((q) => q.mode !== "evacuate" || q.host !== undefined, { message: "mode evacuate needs host", path: ["host"] });
export type PlanQuery = z.infer<typeof PlanQuery>;

export const ApproveRequest = z
  .object({ planId: z.string().min(1).max(128).describe("Id of a pending plan (status lists them under pendingPlans).") })
  .strict();
export type ApproveRequest = z.infer<typeof ApproveRequest>;

export const OrchMigrateRequest = z
  .object({
    vm: VmName.describe("The VM to move; an agent must report it."),
    to: HostId.optional().describe("Destination host; absent: the best host by policy."),
    requestId: RequestId.optional().describe(
      "Makes the command idempotent: the same id with the same vm and to gets the first answer (or the same error) again and never a second migration; with another vm or to it is refused (IDEMPOTENCY_CONFLICT, naming what differs). NOT_LEADER and PAUSED refusals are not remembered. Also the migration's request id.",
    ),
  })
  .strict();
export type OrchMigrateRequest = z.infer<typeof OrchMigrateRequest>;

export const EvacuateRequest = z
  .object({
    host: HostId.describe("The host to drain; an agent must have reported it."),
    placement: PlacementOrder.default("stripe").describe("stripe: least loaded hosts first; pack: the fullest hosts that fit."),
    useEmptyHosts: z.boolean().default(false).describe("Empty hosts may receive VMs."),
    dryRun: z.boolean().default(false).describe('Only answer "can this host be drained now?"; changes nothing.'),
  })
  .strict();
export type EvacuateRequest = z.infer<typeof EvacuateRequest>;

export const ReleaseRequest = z
  .object({
    host: HostId.optional().describe("Reopen this host after maintenance. Give exactly one of host and vm."),
    vm: VmName.optional().describe("Unfreeze this VM (frozen after ping-pong). Give exactly one of host and vm."),
  })
  .strict()
  .refine((r) => (r.host === undefined) !== (r.vm === undefined), "give exactly one of host or vm");
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

export const HistoryRequest = z
  .object({
    vm: VmName.optional().describe("Only migrations of this VM."),
    host: HostId.optional().describe("Only migrations from or to this host."),
    limit: z.number().int().min(1).max(10_000).default(50).describe("At most this many records (the orchestrator keeps history_size)."),
  })
  .strict();
export type HistoryRequest = z.infer<typeof HistoryRequest>;

export const DecisionsRequest = z
  .object({
    vm: VmName.optional().describe("Only lines about this VM: its decisions, its moves, and hosts rejected while placing it."),
    host: HostId.optional().describe("Only lines about this host: its host decisions and the moves off it (moves onto it are not matched)."),
    limit: z.number().int().min(1).max(10_000).default(100).describe("At most this many lines (the orchestrator keeps decisions_size)."),
  })
  .strict();
export type DecisionsRequest = z.infer<typeof DecisionsRequest>;

export const ExplainRequest = z
  .object({
    vm: VmName.describe("The VM to explain."),
    cycles: z.number().int().min(1).max(1000).default(10).describe("How many recorded plans (cycles) to look back."),
  })
  .strict();
export type ExplainRequest = z.infer<typeof ExplainRequest>;

export const ExplainHostRequest = z
  .object({
    host: HostId.describe("The host to explain; an agent must have reported it (a host switched off stays known)."),
    cycles: z.number().int().min(1).max(1000).default(10).describe("How many recorded plans (cycles) to look back for its power decisions."),
  })
  .strict();
export type ExplainHostRequest = z.infer<typeof ExplainHostRequest>;

export const CpuBaselineQuery = z
  .object({
    hosts: z.array(HostId).min(1).max(10_000).optional().describe("Only these hosts (each must be known). Absent: every host with facts."),
  })
  .strict();
export type CpuBaselineQuery = z.infer<typeof CpuBaselineQuery>;

export const PowerStatusRequest = z
  .object({ host: HostId.optional().describe("Only this host (it must have a power driver). Absent: every host of the power inventory.") })
  .strict();
export type PowerStatusRequest = z.infer<typeof PowerStatusRequest>;

export const PowerOnRequest = z.object({ host: HostId.describe("The host to switch on; it must have a power driver.") }).strict();
export type PowerOnRequest = z.infer<typeof PowerOnRequest>;

export const PowerOffRequest = z
  .object({
    host: HostId.describe("The host to switch off; it must have a power driver and hold no VM (running or defined), and no VM may be on its way there."),
    force: z
      .boolean()
      .default(false)
      .describe("Cut the power (IPMI `power off`, Redfish `ForceOff`) instead of a clean shutdown; the host must still hold no VM."),
  })
  .strict();
export type PowerOffRequest = z.infer<typeof PowerOffRequest>;

export const FactsQuery = z.object({ host: HostId.describe("The host whose facts to show; an agent must have reported it.") }).strict();
export type FactsQuery = z.infer<typeof FactsQuery>;

// ---- replies --------------------------------------------------------------------------------

export const PowerCallBrief = z
  .object({
    at: z.number().describe("When the answer (or failure) came, ms since the epoch (orchestrator clock)."),
    host: HostId.describe("The host."),
    operation: z.enum(["status", "on", "off"]).describe("The driver call."),
    ok: z.boolean().describe("Whether the interface answered (false: the call failed; detail says why)."),
    detail: z.string().describe("The interface's answer in its own words, or the failure."),
    by: z.string().describe('Who asked: "status poll", "operator", "cycle <plan id>", "approve <plan id>".'),
  })
  .describe("One call of a host's power driver and its answer.");
export type PowerCallBrief = z.infer<typeof PowerCallBrief>;

export const HostPowerStatus = z
  .object({
    host: HostId.describe("The host."),
    state: PowerState.describe(
      "on, booting (switched on, its agent has not reported since), shutting_down, off, or unknown (not read yet, or the last read failed).",
    ),
    since: z.number().describe("When the host entered this state, ms since the epoch (orchestrator clock)."),
    driver: z.enum(["ipmi", "redfish", "wol-ssh", "command"]).describe("The host's power driver."),
    emptySince: z.number().nullable().describe("Since when the host has held no VM, ms since the epoch; null: it holds one, or it is not known."),
    cyclesToday: z.number().int().describe("Power-ons Ballast made of this host within the last 24 hours (policy max_power_cycles_per_day)."),
    bootDeadline: z.number().nullable().describe("booting: when its agent must have reported, ms since the epoch; null otherwise."),
    failed: z
      .string()
      .nullable()
      .describe("Why the last power operation failed (a driver error, a boot past power_on_deadline); null when it did not. `ballast power on` clears it."),
    lastAnswer: PowerCallBrief.nullable().describe("The newest driver call of this host and its answer; null before the first."),
  })
  .describe("A switchable host's power state as the orchestrator's power manager knows it.");
export type HostPowerStatus = z.infer<typeof HostPowerStatus>;

export const PowerOutcome = z
  .object({
    host: HostId.describe("The host."),
    action: z.enum(["on", "off"]).describe("The power action."),
    result: z
      .enum(["done", "refused", "failed", "skipped", "pending"])
      .describe(
        "done: the driver accepted it; refused: the host holds a VM or one is on its way (power-off), or has no driver; failed: the driver failed; skipped: not due now (already in that state, max_power_ops hosts being switched, a failed host the automation may not switch on); pending: a power-off after the plan's moves (POWER_OFF_EMPTIED), carried out once no migration from the host is queued or running and its agent then reports it empty, else dropped (the decision log says which).",
      ),
    detail: z.string().describe("What happened, with the interface's answer."),
  })
  .describe("What became of one power action.");
export type PowerOutcome = z.infer<typeof PowerOutcome>;

export const PowerStatusReply = z.object({
  managed: z.boolean().describe("Whether a power inventory is configured (power.inventory); false: no host can be switched."),
  powerManagement: z.boolean().describe("The policy's power_management: whether cycles plan power actions."),
  hosts: z.array(HostPowerStatus).describe("Each host of the power inventory (or the one asked for), sorted by id."),
  switching: z.array(HostId).describe("Hosts being switched now (booting, shutting down, or with a driver call under way): they count against max_power_ops."),
  log: z.array(PowerCallBrief).describe("The newest driver calls (of the host asked for), newest first, at most 50."),
});
export type PowerStatusReply = z.infer<typeof PowerStatusReply>;

export const PowerCommandReply = z.object({
  host: HostId.describe("The host asked for."),
  action: z.enum(["on", "off"]).describe("The action asked for."),
  executed: z
    .boolean()
    .describe("true: the action was carried out now (automation full); false: automation is manual or partial, so it waits in a pending plan for approve."),
  outcome: PowerOutcome.nullable().describe("What became of it when executed; null when it waits for approve."),
  planId: z.string().nullable().describe("The pending plan holding the action (approve it with this id); null when executed."),
  expiresAt: z.number().nullable().describe("When that plan expires, ms since the epoch; null when executed."),
  power: HostPowerStatus.describe("The host's power state after the request."),
});
export type PowerCommandReply = z.infer<typeof PowerCommandReply>;

export const HostStatus = z
  .object({
    host: HostId.describe("The host's id."),
    fresh: z.boolean().describe("Metrics received within stale_after: the host may send and receive VMs."),
    agentAlive: z.boolean().describe("Metrics or a heartbeat received within stale_after (its metrics collection may be failing)."),
    lastSeen: z.number().describe("When the newest metrics or heartbeat arrived, ms since the epoch (orchestrator clock)."),
    lastMetrics: z.number().describe("When the newest metrics arrived, ms since the epoch (orchestrator clock)."),
    cpus: z.number().int().describe("Logical CPUs, from the newest metrics."),
    cpuPercent: z.number().describe("CPU load the orchestrator decides on, percent of all cores, from the newest metrics; 2 decimals."),
    memPercent: z.number().describe("Memory in use (total less available), percent of physical memory; 2 decimals."),
    memTotalMiB: z.number().describe("Physical memory, MiB."),
    memAvailableMiB: z.number().describe("Memory available for new VMs, MiB."),
    loadSource: LoadSource.describe("What cpuPercent is: host, the host's own CPU use; domains, the sum of its VMs'."),
    vms: z.number().int().describe("Domains the newest metrics list, in any state."),
    runningVms: z.number().int().describe("Of those, the running ones."),
    address: z.string().nullable().describe("Migration-network address from host_mapping; null: none, the host receives no VMs."),
    maintenance: z.boolean().describe("In maintenance: closed to new VMs until released."),
    collectOk: z.boolean().describe("Whether the agent's last metrics collection worked, per its newest heartbeat; true before any heartbeat."),
    collectError: z.string().optional().describe("The collection error of the newest heartbeat; absent when there is none."),
    agentStartedAt: z
      .number()
      .optional()
      .describe("When the agent process started, ms since the epoch (agent clock), per its newest heartbeat; absent before the first heartbeat."),
    facts: z
      .boolean()
      .optional()
      .describe(
        "Whether the orchestrator holds the host's facts (CPU, machine types, networks, storage): without them, VMs whose facts are known are not sent there (DEST_FACTS_UNKNOWN). Absent from older orchestrators.",
      ),
    notMigratable: z.number().int().optional().describe("VMs of the host whose facts say they cannot live-migrate at all (`ballast facts <host>` says why)."),
    power: HostPowerStatus.optional().describe(
      "The host's power state, where Ballast manages its power (`ballast power status`). A host that is off, booting or shutting down is not failed: its silent agent is expected. Absent: its power is not managed.",
    ),
    failure: HostFailureState.optional().describe(
      "Host failure: what the failure judge makes of it when not healthy (agent_down, suspect, failed, fenced, recovering, recovered; `ballast recovery status`). Absent: healthy, or not judged.",
    ),
  })
  .describe("One host in status: what its agent last reported and what the orchestrator makes of it.");
export type HostStatus = z.infer<typeof HostStatus>;

export const MigrationBrief = z
  .object({
    requestId: RequestId.describe("Request id of the migration."),
    vm: VmName.describe("The VM."),
    source: HostId.describe("The host it leaves."),
    destination: HostId.describe("The host it goes to."),
    state: MigrationState.describe("PENDING (queued) or ONGOING (sent to the source agent)."),
    progress: z.number().nullable().describe("Percent of the data transferred, as the agent last reported it; null until reported."),
    reason: z.string().describe("Why it was planned."),
  })
  .describe("A queued or running migration as status lists it.");
export type MigrationBrief = z.infer<typeof MigrationBrief>;

export const StatusReply = z.object({
  now: z.number().describe("The orchestrator's clock, ms since the epoch."),
  paused: z.boolean().describe("Whether migrations are paused."),
  pausedReason: z.string().nullable().describe("Why they are paused; null when not paused."),
  automation: Automation.describe(
    "The policy's automation level: full, planned moves start on their own; manual and partial, a cycle's plan waits for approve.",
  ),
  leader: z.boolean().describe("Whether this instance may act (always true without HA)."),
  ha: z
    .object({
      role: z.enum(["leader", "standby"]).describe("This instance's role."),
      epoch: z.number().nullable().describe("The leadership epoch this instance knows; null when none is known."),
      leaderInstance: z.string().nullable().describe("Instance name of the leader; null when none is known (an election is under way)."),
    })
    .nullable()
    .describe("High availability; null when HA is off."),
  cycle: z
    .number()
    .int()
    .describe("Number of the newest plan recorded in the decision log (periodic cycles, operator migrate and evacuate alike); 0 before the first."),
  hosts: z.array(HostStatus).describe("Every host whose agent has sent metrics, sorted by id."),
  migrations: z
    .object({
      queued: z.array(MigrationBrief).describe("Queued migrations, in the order they will start."),
      ongoing: z.array(MigrationBrief).describe("Migrations sent to their source agent and not finished."),
    })
    .describe("Migrations not finished."),
  frozenVms: z.array(VmName).describe("VMs frozen after ping-pong, until released; sorted."),
  hostMapping: z
    .object({
      path: z.string().nullable().describe("The host_mapping file, or null when the mapping is fixed (the demo, tests)."),
      hosts: z.number().int().describe("Hosts in the mapping in force."),
      loadedAt: z.number().nullable().describe("When the mapping in force was read, ms since the epoch; null for a fixed mapping."),
      error: z.string().nullable().describe("Why the newest version of the file was rejected (the mapping read before stays in force); null when it was not."),
      errorAt: z.number().nullable().describe("When it was rejected, ms since the epoch; null when it was not."),
      warnings: z.array(z.string()).describe("What looks wrong in the mapping in force, e.g. two hosts with one address."),
    })
    .describe("The host_mapping file: what is in force, and whether its newest version was rejected."),
  pendingPlans: z
    .array(
      z.object({
        id: z.string().describe("The plan's id: approve it with this."),
        moves: z.number().int().describe("Moves in the plan."),
        power: z.number().int().optional().describe("Power actions in the plan (hosts to switch on or off)."),
        expiresAt: z.number().describe("When it expires, ms since the epoch (orchestrator clock)."),
      }),
    )
    .describe(
      "Plans kept for approve, oldest first: at most 100 proposed by cycles, 100 dry runs of identities that may approve and 100 of those that may not, each kind apart; an identical newer plan replaces an older one of its kind. An expired one stays listed until the next cycle or approve drops it.",
    ),
});
export type StatusReply = z.infer<typeof StatusReply>;

export const CpuBaselineGroup = z.object({
  kind: z
    .enum(["identical", "arch-vendor"])
    .describe(
      "identical: hosts whose CPU facts (vendor, model, features) are the same; arch-vendor: every host of one architecture and vendor (listed when it spans several identical groups).",
    ),
  arch: z.string().describe("CPU architecture."),
  vendor: z.string().nullable().describe("CPU vendor; null when libvirt does not say."),
  hosts: z.array(HostId).describe("The group's hosts, sorted."),
  source: z
    .enum(["libvirt", "computed"])
    .describe(
      "libvirt: `virsh hypervisor-cpu-baseline` on one of the group's agents (by); computed: no agent answered, the orchestrator intersected the hosts' facts (not libvirt's judgement).",
    ),
  by: HostId.optional().describe("The agent whose libvirt computed it (source libvirt)."),
  model: z.string().nullable().describe("The baseline's CPU model; null when computed (see usableModels)."),
  features: z
    .array(z.string())
    .describe("libvirt: the features the baseline requires beyond its model; computed: the features every host of the group offers. Sorted."),
  usableModels: z.array(z.string()).describe("CPU models every host of the group can run without disabling a feature (from the facts), sorted."),
  xml: z.string().nullable().describe("The <cpu> element to paste into a domain definition (libvirt's); null when computed."),
  note: z.string().optional().describe("Why it is computed, or what failed asking the agents."),
});
export type CpuBaselineGroup = z.infer<typeof CpuBaselineGroup>;

export const CpuBaselineReply = z.object({
  groups: z.array(CpuBaselineGroup).describe("Identical-CPU groups first (largest first), then the arch/vendor groups."),
  withoutFacts: z.array(HostId).describe("Hosts asked for (or known) whose facts the orchestrator does not hold: not in any group."),
});
export type CpuBaselineReply = z.infer<typeof CpuBaselineReply>;

export const RecordsRequest = z
  .object({
    vm: VmName.optional().describe("Only this VM's record, with its definition (the XML)."),
    host: HostId.optional().describe("Only the records of VMs on this host (as the records say)."),
  })
  .strict();
export type RecordsRequest = z.infer<typeof RecordsRequest>;

export const RecordsReply = z.object({
  store: z
    .object({
      kind: z.enum(["kv", "memory"]).describe("kv: a JetStream KV bucket (survives restarts and failover); memory: this process only (no JetStream)."),
      bucket: z.string().nullable().describe("The bucket's name; null in memory."),
    })
    .describe("Where the records are kept."),
  records: z
    .array(VmRecord.omit({ definition: true }).extend({ definition: VmRecord.shape.definition.optional() }))
    .describe("The records asked for, sorted by VM; each with its definition only when one VM was asked for."),
  fetching: z.number().int().min(0).describe("Definitions being fetched or waiting to be (new VMs, changed facts)."),
});
export type RecordsReply = z.infer<typeof RecordsReply>;

export const RecoveryStatusRequest = z.object({ host: HostId.optional().describe("Only this host (and the restarts from it).") }).strict();
export type RecoveryStatusRequest = z.infer<typeof RecoveryStatusRequest>;

export const RestartStatus = z
  .object({
    restart: RecordedRestart.describe("The restart as recorded, before its start was sent."),
    requestId: RequestId.describe("Id of its start-recorded-vm command: the same for every send (the destination's agent answers it once)."),
    outcome: z
      .enum(["sent", "started", "refused", "failed"])
      .describe(
        "sent: no answer yet (sent again, same id); started: defined and started on the destination; refused: a domain of that name was already there, nothing changed; failed: libvirt refused the start (tried again up to 3 times).",
      ),
    detail: z.string().max(2000).nullable().describe("The destination's answer or error; null before one."),
    tries: z.number().int().min(0).describe("Sends so far."),
    upAt: z
      .number()
      .nullable()
      .default(null)
      .describe(
        "When it was seen up (restart_wait_for): its guest agent channel connected, or, without such a channel (or with restart_wait_for started or none), its start answered; null: not yet. Lower priorities wait for it, at most restart_wait_timeout.",
      ),
  })
  .strict()
  .describe("One restart of a fenced host's VM.");
export type RestartStatus = z.infer<typeof RestartStatus>;

export const RecoveryHost = z
  .object({
    host: HostId.describe("The host."),
    state: HostFailureState.describe("Its state (docs/host-failure.md)."),
    since: z.number().nullable().describe("Since when, ms since the epoch; null: not judged yet."),
    failedAt: z.number().nullable().describe("When its failure began, fixed for the incident; null: no incident."),
    code: DecisionCode.nullable().describe("The judge's newest code (FAILURE_*); null: not judged yet."),
    reason: z.string().nullable().describe("The judge's newest reason."),
    evidence: z
      .object({
        agentLastSeen: z.number().describe("Its agent's newest heartbeat or metrics (or when this instance started listening), ms since the epoch."),
        powerDriver: z.boolean().describe("It has a power driver."),
        bmc: BmcReading.nullable().describe("The newest BMC reading taken while it was silent; null: none."),
        probes: z.array(PeerProbe).describe("The newest probes of its libvirt by peers (at most 8)."),
      })
      .describe("What the judge decided on."),
    fence: z
      .object({
        next: z.enum(["recover", "fence", "alert", "none"]).describe("What the fence gate asked for."),
        code: DecisionCode.describe("FENCE_*."),
        reason: z.string().describe("The gate's reason (the alert's text when next is alert)."),
        fencedAt: z.number().nullable().describe("When the fence was confirmed; null: not fenced."),
        fencedBy: z.enum(["driver", "operator"]).nullable().describe("Who confirmed it."),
      })
      .nullable()
      .describe("The fence gate's newest verdict; null: the host is not failed."),
    attempts: z.array(FenceAttempt).describe("Fence attempts and operator confirmations, oldest first."),
  })
  .describe("One host as host-failure recovery sees it.");
export type RecoveryHost = z.infer<typeof RecoveryHost>;

export const RecoveryStatusReply = z.object({
  now: z.number().describe("The orchestrator's clock, ms since the epoch."),
  leader: z.boolean().describe("Whether this instance leads (only the leader judges, fences and restarts; a standby shows what it restored)."),
  paused: z.boolean().describe("Recovery is paused: too many hosts went silent at once (FAILURE_ISOLATED)."),
  silentShare: z.number().describe("Share of the judged hosts silent at the newest pass (0-1)."),
  hosts: z.array(RecoveryHost).describe("Every host judged, sorted."),
  restarts: z.array(RestartStatus).describe("Every recorded restart, oldest first."),
  waiting: z.array(RestartHeld).describe("VMs of fenced hosts still to be restarted, or waiting for their host (local disks), per the newest restart plan."),
  skipped: z.array(RestartHeld).describe("VMs of fenced hosts not restarted by this incident (priority never, already recorded, listed elsewhere, ...)."),
});
export type RecoveryStatusReply = z.infer<typeof RecoveryStatusReply>;

export const RecoverRequest = z
  .object({
    host: HostId.describe("The failed host."),
    confirmFenced: z
      .literal(true)
      .describe("The operator's word that the host is off (made sure by other means: its power cut, its BMC checked by hand). Required."),
  })
  .strict();
export type RecoverRequest = z.infer<typeof RecoverRequest>;

export const RecoverReply = z.object({
  host: HostId.describe("The host."),
  state: HostFailureState.describe("Its state when the confirmation was taken."),
  accepted: z.literal(true).describe("Always true: a refusal is an error reply."),
  message: z.string().describe("What follows."),
});
export type RecoverReply = z.infer<typeof RecoverReply>;

export const VmClaimRequest = z
  .object({
    vm: VmName.describe("A VM the agent found defined and not running (autostart was on, at the agent's start)."),
    host: HostId.describe("The asking agent's host."),
  })
  .strict();
export type VmClaimRequest = z.infer<typeof VmClaimRequest>;

export const VmClaimReply = z.object({
  vm: VmName.describe("The VM."),
  host: HostId.describe("The host that asked."),
  mayStart: z
    .boolean()
    .describe(
      "true only when the VM's record names this host, no other host's newest inventory lists it running or paused, no restart of it from this host is under way or done, and this host's recovery is not in progress.",
    ),
  recordHost: HostId.nullable().describe("The host the VM's record names; null: no record."),
  elsewhere: z.array(HostId).describe("Other hosts whose newest inventory lists the VM running or paused."),
  reason: z.string().max(2000).describe("Why, one sentence."),
});
export type VmClaimReply = z.infer<typeof VmClaimReply>;
export const RecoveryHistoryRequest = z
  .object({
    vm: VmName.optional().describe("Only entries of this VM: its restarts, and alerts that name it."),
    host: HostId.optional().describe("Only entries of this host: its failures, fences and alerts, and restarts from or to it."),
    kind: z
      .enum(["failure", "fence", "restart", "alert", "all"])
      .default("all")
      .describe(
        "Only entries of this kind: failure (state changes of an incident), fence (power-offs and operators' confirmations), restart, alert; all: every kind.",
      ),
    limit: z.number().int().min(1).max(10_000).default(50).describe("At most this many entries (the orchestrator keeps history_size)."),
  })
  .strict();
export type RecoveryHistoryRequest = z.infer<typeof RecoveryHistoryRequest>;

/**
 * failed: the judge found it failed (at: when the failure began); fenced, recovering, recovered: as
 * in recoveryStatus; returned: a fenced host reports again; cleared: a failed host reports again
 * before it was fenced.
 */
export const IncidentChange = z.enum(["failed", "fenced", "recovering", "recovered", "returned", "cleared"]);
export type IncidentChange = z.infer<typeof IncidentChange>;

export const RecoveryHistoryEntry = z
  .discriminatedUnion("kind", [
    z
      .object({
        kind: z.literal("failure").describe("A state change of a host failure incident."),
        at: z.number().describe("When the host entered this state, ms since the epoch."),
        host: HostId.describe("The host."),
        state: IncidentChange.describe("The state it entered."),
        failedAt: z.number().nullable().describe("When the incident's failure began; null once it is over (returned, cleared)."),
      })
      .strict(),
    z
      .object({
        kind: z.literal("fence").describe("A fence attempt, or an operator's confirmation that the host is off."),
        at: z.number().describe("When the power-off was made or the operator confirmed, ms since the epoch."),
        host: HostId.describe("The host fenced."),
        attempt: FenceAttempt.describe("The attempt with its result and read-back."),
      })
      .strict(),
    z
      .object({
        kind: z.literal("restart").describe("A restart of a fenced host's VM."),
        at: z.number().describe("When the restart was recorded, ms since the epoch (before its start was sent)."),
        host: HostId.describe("The fenced host it was restarted from."),
        vm: VmName.describe("The VM."),
        restart: RestartStatus.describe("The restart with its outcome now."),
      })
      .strict(),
    z
      .object({
        kind: z.literal("alert").describe("A recovery alert (also published as a recovery-alert event)."),
        at: z.number().describe("When it was raised, ms since the epoch."),
        host: HostId.nullable().describe("The host concerned; null for isolated."),
        vm: VmName.nullable().describe("The VM it names (start_refused, start_failed); null otherwise."),
        alert: RecoveryAlertEvent.shape.alert.describe("The recovery-alert event's alert (see events)."),
        code: DecisionCode.nullable().describe("The decision code behind it, when there is one."),
        message: z.string().describe("What happened and what to do."),
      })
      .strict(),
  ])
  .describe("One entry of the recovery history.");
export type RecoveryHistoryEntry = z.infer<typeof RecoveryHistoryEntry>;

export const RecoveryHistoryReply = z
  .array(RecoveryHistoryEntry)
  .describe("Host failures, fences, restarts and alerts, newest first (migrations: the history endpoint; `ballast history` shows both).");
export type RecoveryHistoryReply = z.infer<typeof RecoveryHistoryReply>;

export const FactsReply = z.object({
  host: HostId.describe("The host asked about."),
  facts: AgentFacts.nullable().describe("Its agent's newest facts as the orchestrator holds them; null when none arrived (an older agent, or not yet)."),
  receivedAt: z.number().nullable().describe("When they arrived, ms since the epoch (orchestrator clock); null without facts."),
  incompatible: z
    .array(IncompatiblePair)
    .describe("Pairs libvirt refused with this host as the destination, or one of its VMs, while neither's facts changed."),
});
export type FactsReply = z.infer<typeof FactsReply>;

export const VersionReply = z.object({
  name: z.literal("ballast-orchestrator").describe("Always ballast-orchestrator."),
  version: z.string().describe("Ballast version of the orchestrator."),
  instance: z.string().describe("This instance's name (ha.instance, else the host name and pid)."),
  node: z.string().describe('Node.js version the orchestrator runs on (e.g. "v20.19.0").'),
});
export type VersionReply = z.infer<typeof VersionReply>;

export const RunReply = z.object({
  plan: Plan.describe("The cycle's plan."),
  queued: z
    .number()
    .int()
    .describe(
      "Moves queued for dispatch: 0 unless automation is full and the orchestrator is not paused (otherwise the plan waits for approve); VMs already queued or migrating are not queued again.",
    ),
});
export type RunReply = z.infer<typeof RunReply>;

export const ApproveReply = z.object({
  planId: z.string().describe("The id approved; the queued migrations carry it as their planId."),
  queued: z.number().int().describe("Moves queued for dispatch (VMs already queued or migrating are not queued again)."),
  appliedAs: z
    .string()
    .optional()
    .describe("The identical newer plan that had replaced the one approved, whose moves were applied; absent when the plan approved was itself the newest."),
  power: z.array(PowerOutcome).optional().describe("What became of the plan's power actions, in order; absent when it has none."),
});
export type ApproveReply = z.infer<typeof ApproveReply>;

export const MigrateReply = z.object({
  plan: Plan.describe("The manual plan made for the request (mode manual, one move)."),
  queued: z.array(MigrationRecord).describe("The migration queued for the move, as it is once the dispatcher has tried to start it."),
});
export type MigrateReply = z.infer<typeof MigrateReply>;

/** `dryRun`: whether the host can be drained now, and how. */
export const EvacuationCheck = z.object({
  host: HostId.describe("The host asked about."),
  canDrain: z.boolean().describe("Whether every live VM of the host has a destination now (VMs already leaving count as placed)."),
  reasons: z.array(Decision).describe("What blocks the drain: each VM or host condition; empty when canDrain."),
  plan: Plan.describe("The evacuation plan (partial when canDrain is false)."),
});
export type EvacuationCheck = z.infer<typeof EvacuationCheck>;

/** The host is in maintenance and its moves are queued. */
export const EvacuationStarted = z.object({
  host: HostId.describe("The host being drained."),
  maintenance: z.literal(true).describe("The host is now in maintenance: closed to new VMs until released."),
  planId: z.string().describe("Id of the evacuation plan."),
  queued: z.number().int().describe("Moves queued for dispatch (VMs already queued or migrating are not queued again)."),
  moves: z.array(PlannedMove).describe("The plan's moves."),
});
export type EvacuationStarted = z.infer<typeof EvacuationStarted>;

export const EvacuateReply = z.union([EvacuationCheck, EvacuationStarted]);
export type EvacuateReply = z.infer<typeof EvacuateReply>;

export const ReleaseReply = z.union([
  z.object({ host: HostId.describe("The host asked for."), released: z.boolean().describe("True: reopened; false: it was not in maintenance.") }),
  z.object({
    vm: VmName.describe("The VM asked for."),
    released: z.boolean().describe("True: unfrozen; false: it was not frozen (a VM neither reported by an agent nor frozen is UNKNOWN_VM)."),
  }),
]);
export type ReleaseReply = z.infer<typeof ReleaseReply>;

export const PauseReply = z.object({
  paused: z.literal(true).describe("Always true."),
  reason: z.string().describe("The reason now in force."),
  queued: z.number().int().describe("Queued migrations: they wait until resume."),
  ongoing: z.number().int().describe("Running migrations: they finish."),
});
export type PauseReply = z.infer<typeof PauseReply>;

export const ResumeReply = z.object({
  paused: z.literal(false).describe("Always false."),
  wasPaused: z.boolean().describe("Whether it was paused."),
});
export type ResumeReply = z.infer<typeof ResumeReply>;

export const HistoryReply = z.array(MigrationRecord).describe("finished migrations, newest first");
export const DecisionsReply = z.array(LoggedDecision).describe("decisions and non-decisions, newest first");

export const ExplainReply = z.object({
  vm: VmName.describe("The VM asked about."),
  runningOn: z.array(HostId).describe("Hosts whose newest metrics list it running (normally one)."),
  reportedBy: z
    .array(
      z.object({
        host: HostId.describe("The host."),
        state: VmState.describe("The VM's state there."),
        migrating: z.boolean().describe("Whether that host's agent is migrating it away."),
        cpuPercent: z.number().nullable().describe("Its CPU use there, percent of ONE core; null: not measured yet."),
        memMiB: z.number().describe("Its current memory there, MiB."),
      }),
    )
    .describe("Every host whose newest metrics list the VM, in any state (two during a migration)."),
  whyHere: z.string().describe("Which recorded move brought it where it runs, in words, or that none did."),
  frozen: z.boolean().describe("Frozen after ping-pong: not moved until released."),
  inFlight: z.boolean().describe("A migration of it is queued or running."),
  cpuLevels: z.string().describe("The CPU levels the last cycle judged with: adapted to the measured swing, or as configured."),
  lastCycles: z
    .object({
      from: z.number().int().describe("First cycle looked at."),
      to: z.number().int().describe("Last cycle looked at: the newest."),
      decisions: z.array(LoggedDecision).describe("The lines about the VM in those cycles, newest first (at most 200)."),
    })
    .describe("The VM's decisions of the last `cycles` recorded plans."),
  history: z.array(MigrationRecord).describe("Its finished migrations, newest first (at most 20)."),
  facts: z
    .object({
      host: HostId.describe("The host whose agent published them (where the VM runs)."),
      migratable: z.boolean().describe("The agent's verdict: false when something in the VM's definition rules out every live migration."),
      reasons: z.array(UnmigratableReason).describe("Why not; empty when migratable."),
      localDisks: z.array(z.string()).describe("Its local writable disks (copied when it moves, per local_disks)."),
    })
    .nullable()
    .optional()
    .describe("What the VM's facts say of its migratability; null when no facts of it are held. Absent from older orchestrators."),
  incompatible: z.array(IncompatiblePair).optional().describe("Destinations libvirt refused it on (DEST_PAIR_INCOMPATIBLE), until its or their facts change."),
  destinations: z
    .array(
      z.object({
        host: HostId.describe("A host other than the VM's own."),
        code: DecisionCode.describe("DEST_OK: it could take the VM now; else the first constraint it fails."),
        message: z.string().describe("The verdict with its numbers or facts (e.g. the missing network)."),
      }),
    )
    .optional()
    .describe(
      "Where the VM could go now and why not elsewhere: every other host's verdict, judged by the planner's constraints and facts as a cycle planned now would (the VM's own refusal, such as VM_NOT_MIGRATABLE, is in movable). Absent from older orchestrators.",
    ),
  movable: z
    .object({
      ok: z.boolean().describe("True: nothing about the VM itself keeps it from moving now."),
      code: DecisionCode.optional().describe("Why not (VM_NOT_MIGRATABLE, VM_COOLDOWN, ...); absent when ok."),
      message: z.string().optional().describe("The reason with its facts and numbers; absent when ok."),
    })
    .optional()
    .describe("May the VM move at all now (VM-level constraints, without per-cycle caps); if not, the code and why. Absent from older orchestrators."),
  bestDestination: HostId.nullable().optional().describe("Where it would go now (lowest resulting load), or null when no host can take it."),
});
export type ExplainReply = z.infer<typeof ExplainReply>;

export const ExplainHostReply = z.object({
  host: HostId.describe("The host asked about."),
  managed: z.boolean().describe("The policy's power_management: whether cycles plan power actions."),
  state: PowerState.describe('Its power state ("on" when Ballast does not manage its power).'),
  power: HostPower.nullable().describe(
    "Its power fields as the planner sees them (since when, empty since when, cycles today, boot deadline, failure); null when Ballast does not manage its power.",
  ),
  powerStatus: HostPowerStatus.nullable().describe(
    "Its power driver's view (`ballast power status HOST`): driver, the newest call and its answer; null when it has no power driver.",
  ),
  action: PowerAction.nullable().describe("What a cycle planned now would do to it (switch it on or off, with the code and reason); null: nothing."),
  verdict: Decision.nullable().describe(
    "Why it is or is not switched: the action's decision, or the reason it is not (POWER_HOLDS_VMS, POWER_OFF_WAIT, POWER_KEEP_RESERVE, POWER_MIN_ON, ...); null when power management is off or the plan says nothing of it.",
  ),
  decisions: z
    .array(Decision)
    .describe("Every decision a cycle planned now makes about the host, and that plan's cluster-wide power verdicts (such as POWER_UNSETTLED)."),
  summary: z.string().describe("One sentence: its power state and what a cycle would do, or why not."),
  lastCycles: z
    .object({
      from: z.number().int().describe("First cycle looked at."),
      to: z.number().int().describe("Last cycle looked at: the newest."),
      decisions: z
        .array(LoggedDecision)
        .describe("The host's power lines in those cycles (POWER_* codes: planned actions, refusals, driver outcomes), newest first (at most 200)."),
    })
    .describe("Its recent power decisions, from the decision log."),
});
export type ExplainHostReply = z.infer<typeof ExplainHostReply>;

// ---- the map --------------------------------------------------------------------------------

/** `read`: changes nothing (a read-only identity may call it); `operate`: may change the cluster. */
export type Access = "read" | "operate";

interface EndpointSpec<Req extends z.ZodType, Rep extends z.ZodType> {
  summary: string;
  access: Access;
  request: Req;
  reply: Rep;
  /** Request bodies for the generated reference (`nats req ... '<example>'`), each with what it does. */
  examples: readonly (readonly [body: unknown, note: string])[];
}

const endpoint = <Req extends z.ZodType, Rep extends z.ZodType>(spec: EndpointSpec<Req, Rep>): EndpointSpec<Req, Rep> => spec;

export const OrchestratorApi = {
  status: endpoint({
    summary: "Hosts (load, memory, VMs, freshness, maintenance), migrations queued and running, frozen VMs and pending plans.",
    access: "read",
    request: StatusRequest,
    reply: StatusReply,
    examples: [[{}, ""]],
  }),
  plan: endpoint({
    summary:
      "What the orchestrator would do now (a dry run), with every decision and non-decision. A plan with moves can be applied by id with approve until it expires or the cluster drifts. Dry runs of identities that may not approve (read-only) are kept apart and never push out plans of operators or cycles.",
    access: "read",
    request: PlanQuery,
    reply: Plan,
    examples: [
      [{}, "dry run of the periodic cycle"],
      [{ mode: "consolidate" }, ""],
      [{ mode: "evacuate", host: "hv-b", placement: "pack" }, ""],
    ],
  }),
  run: endpoint({ summary: "Run a cycle now (leader only).", access: "operate", request: RunRequest, reply: RunReply, examples: [[{}, ""]] }),
  approve: endpoint({
    summary:
      "Apply a pending plan: one a cycle proposed (automation manual or partial) or a plan dry run; the id of a plan replaced by an identical newer one applies that one. Refused when the cluster drifted since (PLAN_EXPIRED), when an evacuation cannot drain its host now (NO_DESTINATION, with the blocking VMs, as evacuate), and when the plan is not pending (UNKNOWN_PLAN, saying whether it expired, was approved or cancelled, was dropped for room, or was never proposed here).",
    access: "operate",
    request: ApproveRequest,
    reply: ApproveReply,
    examples: [[{ planId: "p-3f2a9c1e" }, ""]],
  }),
  migrate: endpoint({
    summary:
      "Move a VM to a host, or to the best host, judged by the same limits and rules as every move (cooldowns and settle times do not apply to operators). Refused with SAME_HOST when to is the host it runs on, VM_NOT_RUNNING when it does not run, NO_DESTINATION when no host may take it.",
    access: "operate",
    request: OrchMigrateRequest,
    reply: MigrateReply,
    examples: [
      [{ vm: "web-1", to: "hv-c" }, '"to" optional: the best host'],
      [{ vm: "web-1", requestId: "op-7" }, "the same requestId again: the same answer, one migration"],
    ],
  }),
  evacuate: endpoint({
    summary:
      "Drain a host for maintenance: it is closed to new VMs until released, and every live VM is moved. Refused as a whole when some VM cannot move now; dryRun only answers whether it can.",
    access: "operate",
    request: EvacuateRequest,
    reply: EvacuateReply,
    examples: [
      [{ host: "hv-b", dryRun: true }, "can it be drained now?"],
      [{ host: "hv-b", placement: "stripe", useEmptyHosts: false }, ""],
    ],
  }),
  release: endpoint({
    summary: "Reopen a host after maintenance, or unfreeze a VM frozen after ping-pong. A VM neither reported by an agent nor frozen is UNKNOWN_VM.",
    access: "operate",
    request: ReleaseRequest,
    reply: ReleaseReply,
    examples: [
      [{ host: "hv-b" }, ""],
      [{ vm: "web-1" }, "unfreeze"],
    ],
  }),
  pause: endpoint({
    summary: "Stop starting migrations (running ones finish); cycles go on planning and explaining.",
    access: "operate",
    request: PauseRequest,
    reply: PauseReply,
    examples: [[{ reason: "storage maintenance" }, ""]],
  }),
  resume: endpoint({ summary: "Start migrations again.", access: "operate", request: ResumeRequest, reply: ResumeReply, examples: [[{}, ""]] }),
  history: endpoint({
    summary: "Finished migrations, newest first: outcome, duration, downtime, bytes, libvirt's error.",
    access: "read",
    request: HistoryRequest,
    reply: HistoryReply,
    examples: [[{ vm: "web-1", limit: 20 }, ""]],
  }),
  decisions: endpoint({
    summary: "Every decision and non-decision of recent cycles, newest first, with its code and numbers.",
    access: "read",
    request: DecisionsRequest,
    reply: DecisionsReply,
    examples: [[{ host: "hv-a", limit: 50 }, ""]],
  }),
  explain: endpoint({
    summary: "Why a VM is where it is, and why it did or did not move in the last cycles.",
    access: "read",
    request: ExplainRequest,
    reply: ExplainReply,
    examples: [[{ vm: "web-1" }, ""]],
  }),
  explainHost: endpoint({
    summary:
      "Why a host is on or off, and whether a cycle planned now would switch it (with the code and numbers), as a cycle judges it; its recent power decisions. UNKNOWN_HOST for a host no agent has reported.",
    access: "read",
    request: ExplainHostRequest,
    reply: ExplainHostReply,
    examples: [
      [{ host: "hv-d" }, ""],
      [{ host: "hv-d", cycles: 50 }, "power decisions of the last 50 cycles"],
    ],
  }),
  snapshot: endpoint({
    summary: "The live cluster snapshot: the planner's input, for `ballast plan --snapshot` offline.",
    access: "read",
    request: SnapshotRequest,
    reply: ClusterSnapshot,
    examples: [[{}, ""]],
  }),
  version: endpoint({
    summary: "The orchestrator's version and instance name.",
    access: "read",
    request: VersionRequest,
    reply: VersionReply,
    examples: [[{}, ""]],
  }),
  cpuBaseline: endpoint({
    summary:
      "Per group of hosts with identical CPUs, and per architecture/vendor, the CPU definition every host in it can run: libvirt's (hypervisor-cpu-baseline, asked of one of the group's agents), or, when no agent answers, the intersection of the hosts' features and usable models, marked computed.",
    access: "read",
    request: CpuBaselineQuery,
    reply: CpuBaselineReply,
    examples: [
      [{}, "every host with facts"],
      [{ hosts: ["hv-a", "hv-b"] }, ""],
    ],
  }),
  facts: endpoint({
    summary:
      "The facts the orchestrator holds of a host and its VMs (CPU, machine types, versions, networks, storage, each VM's needs and migratability), and the incompatible pairs that involve it.",
    access: "read",
    request: FactsQuery,
    reply: FactsReply,
    examples: [[{ host: "hv-a" }, ""]],
  }),
  powerStatus: endpoint({
    summary:
      "Power management: each switchable host's power state (on, booting, shutting_down, off, unknown), since when, its driver, cycles in 24 hours, boot deadline, failure, and the newest driver calls with their answers.",
    access: "read",
    request: PowerStatusRequest,
    reply: PowerStatusReply,
    examples: [
      [{}, "every host of the power inventory"],
      [{ host: "hv-d" }, ""],
    ],
  }),
  powerOn: endpoint({
    summary:
      "Switch a host on through its power driver (it is booting until its agent reports). Under automation manual or partial the action is proposed as a pending plan for approve instead. Clears a failed host. UNKNOWN_HOST for a host neither in the power inventory nor reported; POWER_ERROR for a host without a driver, or a driver that fails.",
    access: "operate",
    request: PowerOnRequest,
    reply: PowerCommandReply,
    examples: [[{ host: "hv-d" }, ""]],
  }),
  powerOff: endpoint({
    summary:
      "Switch a host off through its power driver: a clean shutdown (force: cut the power). Refused with POWER_ERROR, changing nothing, while the host's newest inventory lists a VM (running or defined) or a VM is migrating to it. Under automation manual or partial the action is proposed as a pending plan for approve instead (judged again when approved).",
    access: "operate",
    request: PowerOffRequest,
    reply: PowerCommandReply,
    examples: [
      [{ host: "hv-d" }, ""],
      [{ host: "hv-d", force: true }, "cut the power instead of a clean shutdown"],
    ],
  }),
  records: endpoint({
    summary:
      "The VM records: each managed VM's host, restart priority, disks (shared or local), digest and when it was written; with vm, its definition (libvirt's migratable XML without secrets). Kept so a dead host's VMs can be restarted elsewhere (docs/host-failure.md).",
    access: "read",
    request: RecordsRequest,
    reply: RecordsReply,
    examples: [
      [{}, "every record"],
      [{ host: "hv-b" }, ""],
      [{ vm: "web-1" }, "with its XML"],
    ],
  }),
  recoveryStatus: endpoint({
    summary:
      "Host failure: each host's state (healthy, agent_down, suspect, failed, fenced, recovering, recovered) with the evidence (agent, peers' probes, BMC), the fence gate's verdict and fence attempts, every recorded restart with its outcome, and the VMs waiting (docs/host-failure.md).",
    access: "read",
    request: RecoveryStatusRequest,
    reply: RecoveryStatusReply,
    examples: [
      [{}, ""],
      [{ host: "hv-b" }, ""],
    ],
  }),
  recover: endpoint({
    summary:
      "Host failure: the operator's confirmation that a failed host is off (`ballast recover HOST --confirm-fenced`), for a host without a power driver or whose fencing failed; its VMs are then restarted elsewhere. Refused (BAD_REQUEST) for a host that shows signs of life (healthy, agent_down); UNKNOWN_HOST for a host never judged.",
    access: "operate",
    request: RecoverRequest,
    reply: RecoverReply,
    examples: [[{ host: "hv-b", confirmFenced: true }, ""]],
  }),
  vmClaim: endpoint({
    summary:
      "Host failure: an agent asks before it starts a VM it found defined and not running (a returning host's domains that had autostart on). mayStart only when the VM's record names that host and no other host lists it running or paused. Answered by the leader (a standby forwards). Changes nothing.",
    access: "read",
    request: VmClaimRequest,
    reply: VmClaimReply,
    examples: [[{ vm: "web-1", host: "hv-b" }, ""]],
  }),
  recoveryHistory: endpoint({
    summary:
      "Host failure history, newest first: each incident's state changes (failed, fenced, recovering, recovered, returned, cleared), every fence attempt with its result and read-back, every restart with its outcome, and the alerts. Kept up to history_size entries; migrations are in history (`ballast history` interleaves both).",
    access: "read",
    request: RecoveryHistoryRequest,
    reply: RecoveryHistoryReply,
    examples: [
      [{}, ""],
      [{ host: "hv-b", kind: "restart", limit: 20 }, ""],
    ],
  }),
} as const satisfies Record<OrchestratorEndpoint, EndpointSpec<z.ZodType, z.ZodType>>;

export type OrchestratorApi = typeof OrchestratorApi;
export type { OrchestratorEndpoint };
export const ORCHESTRATOR_ENDPOINTS = Object.keys(OrchestratorApi) as OrchestratorEndpoint[];

/** The request an endpoint's handler receives (defaults applied). */
export type RequestOf<E extends OrchestratorEndpoint> = z.output<OrchestratorApi[E]["request"]>;
/** What a caller may send (defaults optional). */
export type RequestInput<E extends OrchestratorEndpoint> = z.input<OrchestratorApi[E]["request"]>;
/** The data of an endpoint's ok reply. */
export type ReplyOf<E extends OrchestratorEndpoint> = z.output<OrchestratorApi[E]["reply"]>;

/** What the service knows of a request besides its body (orchestrator/shell/api.ts fills it in). */
export interface RequestContext {
  /**
   * Who asked, by the reply-inbox prefix (orchestrator/shell/requester.ts): `_INBOX` without
   * credentials, `_INBOX_<role>-<name>` with them; whether that identity may approve plans.
   */
  requester: { inbox: string; mayApprove: boolean };
}

/**
 * What the orchestrator does for each endpoint; inputs are validated before a handler sees them.
 * Without a context the caller is in the orchestrator's own process (trusted).
 */
export type OrchestratorHandlers = { [E in OrchestratorEndpoint]: (req: RequestOf<E>, ctx?: RequestContext) => ReplyOf<E> | Promise<ReplyOf<E>> };

/** Endpoints a read-only identity may call (they change nothing). */
export const READ_ONLY_ENDPOINTS: readonly OrchestratorEndpoint[] = ORCHESTRATOR_ENDPOINTS.filter((e) => OrchestratorApi[e].access === "read");

/**
 * Request fields of 0.1 spelled in snake_case: still accepted in this version (renamed before
 * validation; sending both spellings of one field is refused), deprecated, to be removed in the
 * next minor version.
 */
export const LEGACY_FIELDS: Partial<Record<OrchestratorEndpoint, Readonly<Record<string, string>>>> = {
  plan: { use_empty_hosts: "useEmptyHosts" },
  approve: { plan_id: "planId" },
  migrate: { request_id: "requestId" },
  evacuate: { use_empty_hosts: "useEmptyHosts", dry_run: "dryRun" },
};
