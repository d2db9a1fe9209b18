import { z } from "zod";
import { PowerCode } from "./power.js";

// Every code the planner core puts in a plan: on a decision (a VM not moved, a host refused as a
// destination, a strategy's verdict), on a planned move (why it moves) and in explainVm's host
// verdicts. One closed list, so a misspelt code fails to compile and `ballast schema` and the
// docs can list them all with their meaning (DECISION_CODE_HELP).

/** Destination refusals that come from the facts the agents publish (compatibility.ts). */
const DEST_FACTS = [
  "DEST_FACTS_UNKNOWN",
  "DEST_DOMAIN_TYPE",
  "DEST_CPU_INCOMPATIBLE",
  "DEST_MACHINE_MISSING",
  "DEST_VERSION_OLDER",
  "DEST_NETWORK_MISSING",
  "DEST_STORAGE_MISSING",
  "DEST_HUGEPAGES",
  "DEST_PINNING",
  "DEST_PAIR_INCOMPATIBLE",
] as const;

const CODES = [
  // VM-level: may this VM move at all now? (constraints.ts checkVm)
  "VM_EXCLUDED",
  "VM_PINNED",
  "VM_NOT_RUNNING",
  "VM_PINGPONG",
  "VM_FROZEN",
  "VM_MIGRATING",
  "VM_LISTED_TWICE",
  "VM_PLANNED",
  "VM_COOLDOWN",
  "VM_UNKNOWN",
  // Migratability: facts the agents publish (compatibility.ts)
  "VM_NOT_MIGRATABLE",
  "VM_LOCAL_DISKS",
  "VM_FACTS_UNKNOWN",
  // Source-side: the host the VM runs on, or the host to be relieved (checkVm, checkSource)
  "SOURCE_EXCLUDED",
  "SOURCE_SILENT",
  "SOURCE_CONCURRENCY",
  "SOURCE_SENDING",
  "SOURCE_SETTLING",
  // Per-cycle caps (checkCaps, checkMoveCap)
  "MOVES_PER_CYCLE",
  "TOTAL_CONCURRENCY",
  // Destination: may this VM go to this host? (checkDestination; DEST_OK from explainVm)
  "DEST_UNKNOWN",
  "DEST_IS_SOURCE",
  "DEST_EXCLUDED",
  "DEST_SILENT",
  "DEST_UNHEALTHY",
  "DEST_MAINTENANCE",
  "DEST_CLOSING",
  "DEST_NO_ADDRESS",
  "DEST_EMPTY",
  "DEST_SETTLING",
  "DEST_PINGPONG",
  "DEST_CONCURRENCY",
  "DEST_TOO_MANY_VMS",
  "RULE_MUST",
  "DEST_MEM",
  "DEST_CPU",
  ...DEST_FACTS,
  "DEST_OK",
  "DEST_POWERED_OFF",
  "DEST_BOOTING",
  // Hosts as a whole (evacuation, consolidation)
  "HOST_UNKNOWN",
  "HOST_RECEIVING",
  "HOST_BUSY",
  "HOST_NOT_EMPTIABLE",
  "HOST_SPARE",
  // Strategies' verdicts
  "NO_HOTSPOT",
  "OVERLOAD_TOO_SHORT",
  "HOTSPOT_UNRESOLVED",
  "NO_DESTINATION",
  "NO_BENEFICIAL_MOVE",
  "NO_HOST_EMPTIABLE",
  "CONSOLIDATION_LIMIT",
  "CONSOLIDATION_DEFERRED",
  "EVACUATE_INCOMPLETE",
  "STRATEGY_INVALID",
  // Power management (strategies/power.ts): the actions' codes, and why a host is not switched
  ...PowerCode.options,
  "POWER_HOLDS_VMS",
  "POWER_OFF_WAIT",
  "POWER_KEEP_RESERVE",
  "POWER_MIN_ON",
  "POWER_MIN_OFF",
  "POWER_CYCLE_CAP",
  "POWER_OPS_CAP",
  "POWER_UNSETTLED",
  "POWER_LAST_IN_GROUP",
  "POWER_MAINTENANCE",
  "POWER_NO_DRIVER",
  "POWER_HOST_FAILED",
  "POWER_BOOT_OVERDUE",
  "POWER_NO_HOST_TO_WAKE",
  "POWER_NOT_NEEDED",
  // Host failure (host-failure.ts), fencing (fence-gate.ts) and restarts (restart-plan.ts)
  "FAILURE_NONE",
  "FAILURE_SILENT_WAIT",
  "FAILURE_AGENT_DOWN",
  "FAILURE_POWERED_DOWN",
  "FAILURE_ISOLATED",
  "FAILURE_AWAIT_PROBES",
  "FAILURE_AWAIT_BMC",
  "FAILURE_BMC_ON",
  "FAILURE_CANDIDATE",
  "FAILURE_STILL_FENCED",
  "FAILURE_HOST_RETURNED",
  "FENCE_NOT_FAILED",
  "FENCE_NO_DRIVER",
  "FENCE_NEEDED",
  "FENCE_RETRY",
  "FENCE_FAILED",
  "FENCE_CONFIRMED",
  "FENCE_OPERATOR",
  "RESTART_PLANNED",
  "RESTART_PRIORITY_NEVER",
  "RESTART_RECORDED",
  "RESTART_RUNNING_ELSEWHERE",
  "RESTART_WAS_STOPPED",
  "RESTART_NO_RECORD",
  "RESTART_LOCAL_DISKS",
  "RESTART_SIZE_UNKNOWN",
  "RESTART_CAP",
  "RESTART_PRIORITY_WAIT",
  "DUPLICATE_PAUSED",
  "DUPLICATE_NO_RECORD",
  // The plan as a whole
  "SEARCH_BUDGET",
  "DECISIONS_TRUNCATED",
  "CPU_HEADROOM_ADAPTED",
  "MEM_HEADROOM_ADAPTED",
  // Problems in the snapshot itself
  "HOST_STALE",
  "HOST_DUPLICATE",
  "VM_DUPLICATE",
  "VM_UNKNOWN_HOST",
  // Reasons of planned moves (PlannedMove.code)
  "HOST_OVERLOADED",
  "IMBALANCE",
  "CONSOLIDATE",
  "EVACUATE",
  "MANUAL",
] as const;

/** One line per code: what it means (the decision's message gives the numbers). */
export const DECISION_CODE_HELP: Readonly<Record<(typeof CODES)[number], string>> = {
  VM_EXCLUDED: "The VM is in excluded_vms: the balancer never moves it.",
  VM_PINNED: "The VM is in pinned_vms: it stays on its host.",
  VM_NOT_RUNNING: "The VM is neither running nor paused, so it is not live-migrated (and holds no resources).",
  VM_PINGPONG:
    "The VM moved A to B and back within pingpong_window (moves an operator forced, evacuate and manual, do not count): this plan freezes it until an operator releases it.",
  VM_FROZEN: "The VM was frozen after a ping-pong and waits for an operator to release it.",
  VM_MIGRATING: "The VM is already migrating.",
  VM_LISTED_TWICE:
    "Two or more hosts list the VM running or paused (a migration Ballast does not track, or split brain): it is not moved until one host lists it.",
  VM_PLANNED: "The VM already moves earlier in this plan.",
  VM_COOLDOWN: "The VM moved recently and its cooldown (doubling with every recent move) has not run out.",
  VM_UNKNOWN: "The VM named in the request is not in the snapshot.",
  VM_NOT_MIGRATABLE:
    "Its agent found something in the VM's definition that rules out every live migration (host devices, vhost-user ports, a local CD-ROM, an unsafe cache mode, a local disk that cannot be copied); the facts list each.",
  VM_LOCAL_DISKS: "The VM has local writable disks and local_disks (or local_disks_vms) says skip: it moves only with shared storage.",
  VM_FACTS_UNKNOWN: "Its host's agent publishes migratability facts, but none for this VM yet: it is not moved until they arrive.",
  SOURCE_EXCLUDED: "The VM's host is in excluded_hosts: nothing moves off it.",
  SOURCE_SILENT: "The VM's host has not reported within stale_after: its figures cannot be trusted.",
  SOURCE_CONCURRENCY: "The VM's host already sends max_concurrent_per_source migrations (in flight and planned).",
  SOURCE_SENDING: "The overloaded host already sends VMs: their effect is awaited before shedding more.",
  SOURCE_SETTLING: "The overloaded host took part in a migration within host_settle: its samples may predate it.",
  MOVES_PER_CYCLE: "max_moves_per_cycle moves are already planned this cycle.",
  TOTAL_CONCURRENCY: "Migrations in flight plus planned reach max_concurrent_total.",
  DEST_UNKNOWN: "The destination named in the request is not in the snapshot.",
  DEST_IS_SOURCE: "The VM already runs on this host.",
  DEST_EXCLUDED: "The host is in excluded_hosts: it receives no VMs.",
  DEST_SILENT: "The host has not reported within stale_after: it receives no VMs.",
  DEST_UNHEALTHY: "The host's agent cannot read its hypervisor: what it reports is old and a migration to it may fail.",
  DEST_MAINTENANCE: "The host is in maintenance: closed to new VMs.",
  DEST_CLOSING: "The host is being emptied by this plan (consolidation or evacuation).",
  DEST_NO_ADDRESS: "The host has no migration address (host_mapping).",
  DEST_EMPTY: "The host is empty and empty hosts are not used here (consolidation; evacuation without use-empty-hosts).",
  DEST_SETTLING: "The host took part in a migration within host_settle: its samples may predate it.",
  DEST_PINGPONG:
    "The VM came from this host within pingpong_window: moving it back would complete an A to B to A ping-pong (and freeze it). Operator moves are not refused.",
  DEST_CONCURRENCY: "The host already receives max_concurrent_per_destination migrations (in flight and planned).",
  DEST_TOO_MANY_VMS: "The host runs max_vm_per_host VMs already.",
  RULE_MUST: "Placing the VM on this host would break a must placement rule.",
  DEST_MEM: "The VM's memory does not fit: over max_mem_candidate, over mem_overcommit of the host's memory, or over its physical memory less mem_reserve_mib.",
  DEST_CPU: "The host's projected CPU (with the VM and any predicted rise) would reach the CPU limit.",
  DEST_FACTS_UNKNOWN: "The host's migratability facts are not known (its agent has not sent them): VMs whose facts are known are not sent there.",
  DEST_DOMAIN_TYPE: "The host cannot run the VM's domain type (kvm, qemu) or architecture.",
  DEST_CPU_INCOMPATIBLE:
    "The host's CPU cannot run the VM's CPU definition: the model is not usable there, or features it requires are missing (host-passthrough, maximum: the host's CPU is not the source's model and vendor, or lacks some of the source's features).",
  DEST_MACHINE_MISSING: "The host's QEMU does not offer the VM's machine type.",
  DEST_VERSION_OLDER: "The host's libvirt or QEMU is older than the source's: migrations go to the same or newer versions only.",
  DEST_NETWORK_MISSING: "A libvirt network or bridge the VM is attached to does not exist on the host.",
  DEST_STORAGE_MISSING:
    "A shared disk of the VM lives on storage the host does not list as shared: the source's shared path that holds the disk (or a directory above it) is missing from the host's, so it would not see the disk. Network disks (rbd, iscsi, ...) never need it.",
  DEST_HUGEPAGES: "The host has too few free huge pages of the VM's page size.",
  DEST_PINNING: "The VM is pinned to host CPUs the host does not have.",
  DEST_PAIR_INCOMPATIBLE:
    "libvirt (or the destination's own check) refused this VM on this host for an incompatibility; remembered until the VM's or the host's facts change.",
  DEST_OK: "The host can take the VM (explainVm), with the projected loads.",
  DEST_POWERED_OFF: "The host is switched off (power management): it receives no VMs until it is switched on and its agent reports.",
  DEST_BOOTING: "The host is being switched on and its agent has not reported yet: its moves wait.",
  HOST_UNKNOWN: "The host to evacuate is not in the snapshot.",
  HOST_RECEIVING: "The host to evacuate still receives migrations in flight.",
  HOST_BUSY: "The host has migrations in flight or planned, so consolidation does not empty it now.",
  HOST_NOT_EMPTIABLE: "Consolidation cannot empty this host: one of its VMs may not move or fits nowhere else.",
  HOST_SPARE: "The host is empty and kept powered as a spare (spare_hosts).",
  NO_HOTSPOT: "No host stayed over its thresholds for max_over.",
  OVERLOAD_TOO_SHORT: "The host is over a threshold, but not yet for max_over.",
  HOTSPOT_UNRESOLVED: "The overloaded host stays over its targets: no further VM of it can be moved now.",
  NO_DESTINATION: "No host can take the VM; the numbers count the hosts refused per code.",
  NO_BENEFICIAL_MOVE: "Balancing stops: the cluster is balanced, or the best move gains less than min_gain.",
  NO_HOST_EMPTIABLE: "Consolidation found no host that can be emptied entirely.",
  CONSOLIDATION_LIMIT: "Consolidation stopped after its host-trial limit or when the search budget ran out.",
  CONSOLIDATION_DEFERRED:
    "The host can be emptied, but max_moves_per_cycle moves are already planned this cycle: its emptying starts in a later cycle (an emptying once started is planned whole).",
  EVACUATE_INCOMPLETE: "The host cannot be drained now; the blocking reasons are listed beside it.",
  STRATEGY_INVALID: "A strategy did not run because its arguments contradict each other.",
  POWER_OFF_IDLE: "Power: the host has held no VM for power_off_after and the reserve holds without it: it is switched off.",
  POWER_OFF_EMPTIED:
    "Power: this plan's consolidation empties the host and the reserve holds without it: it is switched off once its moves have succeeded and its agent reports it empty (power_off_emptied).",
  POWER_ON_HOTSPOT:
    "Power: a hot spot cannot be relieved on the powered hosts; this host is switched on and the hot spot's VMs move to it once its agent reports.",
  POWER_ON_DEMAND: "Power: demand predicted boot_time ahead would cross the powered capacity less the reserve; this host is switched on now.",
  POWER_ON_RESERVE: "Power: the powered hosts no longer keep standby_capacity (a host failed, load grew); this host is switched on.",
  POWER_ON_EVACUATE: "Power: an evacuation needs room the powered hosts do not have; this host is switched on.",
  POWER_MANUAL: "Power: an operator's power on or off.",
  POWER_HOLDS_VMS: "Power: the host holds VMs (running or defined): it stays on.",
  POWER_OFF_WAIT: "Power: the host is empty, but not yet for power_off_after.",
  POWER_KEEP_RESERVE: "Power: without this host the powered hosts would not keep standby_capacity: it stays on.",
  POWER_MIN_ON: "Power: the host has been on for less than min_on_time: it stays on.",
  POWER_MIN_OFF: "Power: the host has been off for less than min_off_time: it is not switched on for predicted demand yet.",
  POWER_CYCLE_CAP: "Power: the host was switched on max_power_cycles_per_day times within 24 hours: it is not cycled again today.",
  POWER_OPS_CAP: "Power: max_power_ops hosts are being switched already: this one waits.",
  POWER_UNSETTLED: "Power: the cluster is unsettled (migrations in flight, silent agents, hosts booting or shutting down): no host is switched off now.",
  POWER_LAST_IN_GROUP: "Power: the host is the last powered host a vm-host rule allows for some VMs: it stays on.",
  POWER_MAINTENANCE: "Power: the host is in maintenance and power_off_maintenance is off: it is left as it is.",
  POWER_NO_DRIVER: "Power: the host has no power driver: Ballast cannot switch it.",
  POWER_HOST_FAILED:
    "Power: the host's last power operation failed (or it did not boot in time): it is not switched on automatically until an operator clears it.",
  POWER_BOOT_OVERDUE: "Power: the host was switched on but its agent did not report within power_on_deadline: it is reported failed and another host is tried.",
  POWER_NO_HOST_TO_WAKE: "Power: more powered capacity is needed, but no switched-off host can be switched on (no driver, failed, capped, or none left).",
  POWER_NOT_NEEDED: "Power: the powered hosts keep the reserve and no demand is predicted over boot_time: no host is switched on.",
  FAILURE_NONE: "Host failure: the host's agent reports within stale_after: healthy.",
  FAILURE_SILENT_WAIT: "Host failure: the host's agent is silent, but for less than failure_detect_after: suspect, nothing else is judged yet.",
  FAILURE_AGENT_DOWN:
    "Host failure: the host's agent is silent but its libvirt answered a peer's probe: only the agent is down. Reported; its VMs are never restarted elsewhere.",
  FAILURE_POWERED_DOWN: "Host failure: the host is switched off, shutting down or booting (power management): silent on purpose, not a failure.",
  FAILURE_ISOLATED:
    "Host failure: more than failure_isolation_share of the hosts went silent at once, which is more likely the orchestrator cut off than hosts dead: recovery is paused and no host is a candidate.",
  FAILURE_AWAIT_PROBES:
    "Host failure: the host's agent is silent, but fewer than failure_peer_probes peers' probes of its libvirt failed within failure_detect_after: suspect.",
  FAILURE_AWAIT_BMC:
    "Host failure: agent silent and libvirt unreachable, but no BMC reading newer than the agent's last report yet: suspect until one arrives.",
  FAILURE_BMC_ON: "Host failure: agent silent and libvirt unreachable, but the BMC reads the host on and running normally: suspect, never a candidate.",
  FAILURE_CANDIDATE:
    "Host failure: agent silent for failure_detect_after, its libvirt unreachable from failure_peer_probes peers, and its BMC (where it has one) does not read it on: failed, to be fenced.",
  FAILURE_STILL_FENCED: "Host failure: the host was fenced (or is being recovered) and its agent is still silent: it stays so.",
  FAILURE_HOST_RETURNED:
    "Host failure: the agent of a fenced host reports again: healthy, but its old VMs may have been restarted elsewhere and must not start there.",
  FENCE_NOT_FAILED: "Fencing: the host is not failed (healthy, agent down, or suspect without an operator's confirmation): nothing is fenced or restarted.",
  FENCE_NO_DRIVER:
    "Fencing: the host has no power driver, so Ballast cannot make sure it is off: nothing is restarted until an operator runs ballast recover HOST --confirm-fenced.",
  FENCE_NEEDED: "Fencing: the host failed and has a power driver: it is to be powered off hard and read back off before any restart.",
  FENCE_RETRY: "Fencing: a power-off failed or did not read back off; it is tried again (up to failure_fence_attempts).",
  FENCE_FAILED:
    "Fencing: failure_fence_attempts power-offs failed or did not read back off: nothing is restarted until an operator runs ballast recover HOST --confirm-fenced.",
  FENCE_CONFIRMED: "Fencing: a power-off after the failure was read back off: the host's VMs may be restarted elsewhere.",
  FENCE_OPERATOR: "Fencing: an operator confirmed the host off (ballast recover HOST --confirm-fenced): its VMs may be restarted elsewhere.",
  RESTART_PLANNED: "Restart: the VM of a fenced host is defined and started on this host (highest priority first, placed by the planner's constraints).",
  RESTART_PRIORITY_NEVER: "Restart: the VM's restart priority is never: it is not restarted elsewhere.",
  RESTART_RECORDED: "Restart: a restart of the VM is already recorded for this failure: it is never planned twice.",
  RESTART_RUNNING_ELSEWHERE: "Restart: another host (not fenced) lists the VM: it is not started a second time.",
  RESTART_WAS_STOPPED: "Restart: the fenced host last listed the VM neither running nor paused: it is not started elsewhere.",
  RESTART_NO_RECORD: "Restart: the fenced host listed the VM, but the orchestrator keeps no record (definition) of it: it cannot be restarted elsewhere.",
  RESTART_LOCAL_DISKS: "Restart: the VM has a local writable disk on the fenced host: it waits for its host to come back.",
  RESTART_SIZE_UNKNOWN: "Restart: neither the snapshot nor the VM's recorded definition gives its memory and vCPUs: it cannot be placed and waits.",
  RESTART_CAP: "Restart: max_concurrent_restarts restarts are already planned: the VM waits for the next plan.",
  RESTART_PRIORITY_WAIT:
    "Restart: a higher priority's restarts are not up yet (restart_wait_for): the VM waits for them, at most restart_wait_timeout from their restart.",
  DUPLICATE_PAUSED:
    "Duplicate: the VM was listed running on two hosts in fresh inventories; the copy on each host its record does not name is paused (virsh suspend; a pause that fails is tried again on the next pass). Nothing is destroyed: the operator decides what to do with the paused copy.",
  DUPLICATE_NO_RECORD:
    "Duplicate: the VM runs on two hosts, and no record (or a record naming neither host) says which copy is the right one: nothing is paused, the operator decides.",
  SEARCH_BUDGET: "The plan's destination-search budget ran out; the plan may miss moves.",
  DECISIONS_TRUNCATED: "The plan hit its cap on decisions; further decisions were dropped.",
  CPU_HEADROOM_ADAPTED: "CPU loads are steady, so this plan's CPU levels keep less headroom than configured (headroom_min_share).",
  MEM_HEADROOM_ADAPTED:
    "Guests' memory grows faster than the configured headroom allows, so this plan fills destinations less (max_mem_candidate lowered; mem_headroom_rises).",
  HOST_STALE: "The host has not reported within stale_after: it is neither relieved nor a destination, and its VMs are not moved.",
  HOST_DUPLICATE: "The host appears twice in the snapshot; its first entry is used.",
  VM_DUPLICATE: "The VM is listed on more than one host; only its first entry is planned with (and, when another entry is running or paused, it is not moved).",
  VM_UNKNOWN_HOST: "The VM runs on a host that is not in the snapshot; it is ignored.",
  HOST_OVERLOADED: "Move: relieves a host over its CPU or memory threshold for max_over (hot-spot relief).",
  IMBALANCE: "Move: lowers the weighted imbalance of host loads by at least min_gain (balancing).",
  CONSOLIDATE: "Move: empties a host whose VMs all fit elsewhere (consolidation).",
  EVACUATE: "Move: drains a host for maintenance (evacuation).",
  MANUAL: "Move: an operator's request.",
};

/** The destination refusals that come from facts: they depend on what the VM needs, not only on its size. */
export const DEST_FACTS_CODES: readonly (typeof DEST_FACTS)[number][] = DEST_FACTS;

/** Machine code of a planner decision or planned move. */
export const DecisionCode = z.enum(CODES).meta({
  description: "Machine code of a planner decision or planned move (the meaning of each: DECISION_CODE_HELP in shared/schemas/decision-codes.ts).",
});
export type DecisionCode = z.infer<typeof DecisionCode>;

/** The codes a planned move carries: which strategy's goal it serves. */
export const MoveCode = DecisionCode.extract(["HOST_OVERLOADED", "IMBALANCE", "CONSOLIDATE", "EVACUATE", "MANUAL"]);
export type MoveCode = z.infer<typeof MoveCode>;
