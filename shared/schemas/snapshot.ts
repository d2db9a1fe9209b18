import { z } from "zod";
import { HostFacts, VmFacts } from "./facts.js";
import { HostId, VmName } from "./ids.js";
import { HostPower } from "./power.js";
import { StrategyName } from "./plan.js";
import { VmState } from "./vm.js";

// The planner's whole view of the cluster at one instant. Built by the orchestrator shell from
// agent messages (or loaded from a file for offline planning); the planner never reads anything
// else. Times are ms since the epoch; loads are percent of the host's capacity.
//
// Every object is strict: a snapshot is often written or edited by hand (`plan --snapshot`), and a
// misspelt key dropped in silence changes the plan (`"maintainance": true` put a VM on the host in
// maintenance). What the orchestrator builds (cluster-state.ts) holds only these keys.

export const HostSample = z
  .object({
    ts: z.number().describe("When the orchestrator received the metrics, ms since the epoch (orchestrator clock)."),
    cpu: z.number().min(0).describe("The host's CPU load (HostMetrics.cpuPercent), percent of all cores, 2 decimals."),
    mem: z.number().min(0).describe("Memory in use (total less available), percent of physical memory, 2 decimals."),
  })
  .strict()
  .describe("One metrics sample of a host, as the orchestrator received it.");
export type HostSample = z.infer<typeof HostSample>;

export const SnapshotHost = z
  .object({
    id: HostId.describe("The host's id."),
    cpus: z.number().int().positive().describe("Logical CPUs, as its agent reports them."),
    // A VM measured at x % of one core here needs x × this / speed(dest) % of a destination core,
    // so clusters that mix CPU generations are judged in one unit.
    cpuSpeed: z
      .number()
      .positive()
      .max(1000)
      .optional()
      .describe(
        "Relative speed of one core (e.g. its MIPS or SPECint rate over a reference core); absent: 1. Only for clusters that mix CPU generations; the orchestrator does not set it.",
      ),
    memTotalMiB: z.number().positive().describe("Physical memory, MiB."),
    memAvailableMiB: z.number().min(0).describe("Memory available for new VMs, MiB, as its agent last reported."),
    cpuPercent: z.number().min(0).describe("Newest CPU load, percent of all cores, 2 decimals."),
    lastSeen: z
      .number()
      .describe("When the orchestrator received the host's newest metrics, ms since the epoch (heartbeats do not count: freshness is judged on metrics)."),
    samples: z
      .array(HostSample)
      .default([])
      .describe(
        "Recent samples, oldest first: the window that max_over and the destination load trend are judged on (the orchestrator keeps max(max_over + 3 × interval + stale_after, predict_window) seconds, at most 2000). Empty: the newest figures are the only sample.",
      ),
    address: z.string().optional().describe("Migration-network address from host_mapping; a host without one receives no VMs."),
    maintenance: z.boolean().default(false).describe("Closed to new VMs (maintenance, being evacuated) until released."),
    collectError: z
      .string()
      .max(1000)
      .optional()
      .describe(
        "The agent's error when its newest heartbeat (newer than its metrics) says it cannot read its hypervisor: it still answers, but what it reports is old and a migration to it may fail, so it receives no VMs. Absent otherwise.",
      ),
    tags: z.array(z.string()).default([]).describe("Free-form labels; the orchestrator sets none, and the planner only hashes them into the plan id."),
    facts: HostFacts.optional().describe(
      "What the host's libvirt can run (CPU, machine types, versions, networks, shared storage, huge pages), from its agent's facts. Absent: not known; a VM whose facts are known is then not sent here (DEST_FACTS_UNKNOWN).",
    ),
    power: HostPower.optional().describe(
      "The host's power state, where Ballast manages its power. A host that is off or booting keeps its last reported capacity here; it is neither stale nor a destination. Absent: the host is on and its power is not managed.",
    ),
  })
  .strict()
  .describe("One host as the planner sees it.");
export type SnapshotHost = z.infer<typeof SnapshotHost>;

export const SnapshotVm = z
  .object({
    name: VmName.describe("The VM's name."),
    host: HostId.describe("The host it runs on (for a VM listed by two hosts, the one where it runs rather than the paused incoming copy)."),
    state: VmState.describe("Its state there; running and paused VMs hold memory and CPU and are the ones the planner may move."),
    vcpus: z.number().int().min(0).describe("Virtual CPUs; reserved in full on a destination when its CPU is not measured."),
    memMiB: z.number().min(0).describe("Current guest memory, MiB."),
    memPeakMiB: z
      .number()
      .min(0)
      .optional()
      .describe(
        "The most memory the VM held within `mem_peak_window` (the orchestrator keeps it from the agents' reports): a destination keeps room for the VM to grow back to it. Absent: the current figure is the only one known.",
      ),
    cpuPercent: z.number().min(0).nullable().describe("Measured CPU use, percent of ONE core; null: not measured yet."),
    dirtyRateMiBs: z
      .number()
      .min(0)
      .optional()
      .describe("Memory dirty rate, MiB/s, where known: it raises the move's cost estimate. The orchestrator does not set it (agents do not report it)."),
    tags: z.array(z.string()).default([]).describe("Free-form labels; the orchestrator sets none, and the planner only hashes them into the plan id."),
    alsoListedOn: z
      .array(HostId)
      .optional()
      .describe(
        "Other hosts whose newest inventory lists this VM running or paused too, sorted: the incoming copy of a migration, or split brain. The planner never moves such a VM (VM_LISTED_TWICE; VM_MIGRATING when the migration is its own). Absent when one host lists it.",
      ),
    facts: VmFacts.omit({ name: true })
      .optional()
      .describe(
        "What a destination must offer the VM (CPU, machine type, networks, disks, devices) and the agent's verdict, from its host's agent. Absent: not known; when its host's facts are known, the VM is then not moved (VM_FACTS_UNKNOWN).",
      ),
  })
  .strict()
  .describe("One VM as the planner sees it.");
export type SnapshotVm = z.infer<typeof SnapshotVm>;

export const InFlightMigration = z
  .object({
    requestId: z.string().describe("Request id of the migration."),
    vm: VmName.describe("The VM being migrated."),
    source: HostId.describe("The host it leaves."),
    destination: HostId.describe("The host it goes to."),
    startedAt: z.number().describe("When its command was sent, ms since the epoch (its queue time while queued, or if unknown)."),
    memMiB: z.number().min(0).describe("Memory reserved on the destination while it runs, MiB: the VM's memory when the move was queued."),
    cpuPercent: z.number().min(0).describe("CPU reserved on the destination while it runs, percent of ONE core: the VM's use when the move was queued."),
  })
  .strict()
  .describe("A migration under way: it counts on both hosts (concurrency) and reserves the VM's memory and CPU on its destination.");
export type InFlightMigration = z.infer<typeof InFlightMigration>;

export const PastMove = z
  .object({
    vm: VmName.describe("The VM that moved (or tried to)."),
    source: HostId.describe("The host it left (or was to leave)."),
    destination: HostId.describe("The host it was sent to."),
    finishedAt: z.number().describe("When the migration ended, ms since the epoch (orchestrator clock)."),
    outcome: z.enum(["succeeded", "failed", "aborted"]).describe("How it ended; aborted: aborted on the agent (a CANCELLED record)."),
    strategy: StrategyName.optional().describe(
      "The strategy that planned it. evacuate and manual are moves an operator forced: they count for cooldowns and settle times (the VM did move) but never towards a ping-pong freeze. Absent: not known, counted as the planner's own.",
    ),
  })
  .strict()
  .describe("A finished migration, for cooldowns, settle times and ping-pong detection.");
export type PastMove = z.infer<typeof PastMove>;

export const IncompatiblePair = z
  .object({
    vm: VmName.describe("The VM libvirt refused to move."),
    destination: HostId.describe("The host it was refused on."),
    since: z.number().describe("When the refusal was recorded, ms since the epoch (orchestrator clock)."),
    error: z.string().max(2000).describe("libvirt's (or the destination check's) own words."),
  })
  .strict()
  .describe(
    "A move libvirt refused for an incompatibility (CPU, machine type, network, storage, devices): remembered until the VM's or the host's facts change.",
  );
export type IncompatiblePair = z.infer<typeof IncompatiblePair>;

export const ClusterSnapshot = z
  .object({
    v: z.literal(1).default(1).describe("Format version."),
    takenAt: z.number().describe("When the snapshot was taken, ms since the epoch (orchestrator clock)."),
    hosts: z.array(SnapshotHost).describe("Every host whose agent has sent metrics, sorted by id."),
    vms: z.array(SnapshotVm).describe("Every VM once, sorted by name."),
    inFlight: z
      .array(InFlightMigration)
      .default([])
      .describe("Migrations queued or sent to their source agent and not finished: each reserves its destination and counts against the concurrency caps."),
    history: z
      .array(PastMove)
      .default([])
      .describe(
        "Migrations that were started and ended within the last max(pingpong_window, vm_cooldown_max) seconds, oldest first (skipped ones not included).",
      ),
    frozenVms: z.array(VmName).default([]).describe("VMs frozen after ping-pong detection, until an operator releases them; sorted."),
    incompatible: z
      .array(IncompatiblePair)
      .default([])
      .describe("(VM, destination) pairs libvirt refused for an incompatibility, while neither's facts changed: never planned (DEST_PAIR_INCOMPATIBLE)."),
  })
  .strict()
  .describe("The planner's whole view of the cluster at one instant: its only input.");
export type ClusterSnapshot = z.infer<typeof ClusterSnapshot>;
export type ClusterSnapshotInput = z.input<typeof ClusterSnapshot>;
