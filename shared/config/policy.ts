import { z } from "zod";
import { HostId, VmName } from "../schemas/ids.js";
import { RestartPriority } from "../schemas/vm-record.js";
import { PROBE_TIMEOUT_DEFAULT_S } from "../schemas/agent-api.js";

// The planner's policy. Keys are snake_case because operators write them in config files and
// policy files; the same schema serves both (and `ballast schema policy`). Durations in seconds,
// loads in percent of a host's capacity.

const pct = z.number().min(0).max(100);
const seconds = z
  .number()
  .min(0)
  .max(30 * 86_400);

export const RuleStrength = z.enum(["must", "should"]);

/** Filters narrow when a rule applies (as OneCloud's migration alerts do). */
const RuleFilters = {
  source_hosts: z.array(HostId).optional().describe("The rule applies only while the VM runs on one of these hosts. Absent: on any host."),
  target_hosts: z.array(HostId).optional().describe("The rule constrains only placements onto these hosts. Absent: onto any host."),
};

const ruleName = z.string().min(1).max(100).describe("The rule's name, shown in decisions and in broken should-rule reports.");
const ruleStrength = RuleStrength.default("must").describe(
  "`must`: a destination that breaks the rule is refused (RULE_MUST). `should`: never refuses; a feasible destination reports the should rules it would break, and balancing and consolidation never break one.",
);

export const AffinityRule = z
  .object({
    name: ruleName,
    type: z.enum(["affinity", "anti-affinity"]).describe("`affinity`: the VMs run on the same host. `anti-affinity`: no two of them run on the same host."),
    strength: ruleStrength,
    vms: z.array(VmName).min(2).describe("The VMs the rule ties together (at least two)."),
    ...RuleFilters,
  })
  .strict()
  .describe("An affinity or anti-affinity rule between VMs.");
export type AffinityRule = z.infer<typeof AffinityRule>;

export const VmHostRule = z
  .object({
    name: ruleName,
    type: z.enum(["vm-host", "vm-not-host"]).describe("`vm-host`: the VMs run only on the listed hosts. `vm-not-host`: never on them."),
    strength: ruleStrength,
    vms: z.array(VmName).min(1).describe("The VMs the rule applies to."),
    hosts: z.array(HostId).min(1).describe("The hosts the VMs must (`vm-host`) or must not (`vm-not-host`) run on."),
    ...RuleFilters,
  })
  .strict()
  .describe("A rule between VMs and hosts.");
export type VmHostRule = z.infer<typeof VmHostRule>;

export const PlacementRule = z.union([AffinityRule, VmHostRule]);
export type PlacementRule = z.infer<typeof PlacementRule>;

export const LocalDisks = z.enum(["skip", "copy"]);
export type LocalDisks = z.infer<typeof LocalDisks>;

export const Automation = z.enum(["manual", "partial", "full"]);
export type Automation = z.infer<typeof Automation>;

const cpuLevelNote = "The adaptive CPU headroom may raise it (see `headroom_min_share`).";

export const Policy = z
  .object({
    interval: seconds
      .min(0.1)
      .default(10)
      .meta({ unit: "s", description: "Seconds between orchestrator cycles; also the metrics interval the orchestrator expects from the agents." }),
    stale_after: seconds.min(0.1).default(35).meta({
      unit: "s",
      description: "A host whose newest metrics or heartbeat is older than this is silent: it is never a destination, and its VMs are not moved by guesswork.",
    }),
    max_over: seconds.default(60).meta({
      unit: "s",
      description: "Seconds a host must stay over a threshold (CPU or memory) before it sheds VMs. 0, or at least 2 × `interval`.",
    }),
    load_threshold: pct.default(80).meta({
      unit: "%",
      description: `CPU trigger: a host above this CPU load, in percent of its capacity, for \`max_over\` seconds sheds VMs (hot-spot relief). ${cpuLevelNote}`,
    }),
    load_target: pct.default(70).meta({
      unit: "%",
      description: `Hysteresis: an overloaded host sheds VMs until its CPU load is at or below this. At most \`load_threshold\`. ${cpuLevelNote}`,
    }),
    mem_threshold: pct.default(90).meta({ unit: "%", description: "Memory trigger, in percent of the host's memory in use." }),
    mem_target: pct.default(85).meta({
      unit: "%",
      description: "Memory hysteresis: a host over `mem_threshold` sheds VMs until its memory use is at or below this. At most `mem_threshold`.",
    }),
    max_load_candidate: pct.default(70).meta({
      unit: "%",
      description: `A destination's CPU load must stay under this after the move, projected with the VM's measured CPU. ${cpuLevelNote}`,
    }),
    max_mem_candidate: pct.default(85).meta({
      unit: "%",
      description: "A destination's memory use must not exceed this after the move (projected with the VM's memory).",
    }),
    mem_headroom_rises: z
      .number()
      .min(0)
      .max(20)
      .default(2)
      .describe(
        "Adaptive memory headroom: a destination keeps at least this many times the measured memory rise (the largest increase of a host's memory between consecutive samples, 99th percentile over the busy hosts) free below capacity; when `max_mem_candidate` leaves less, it is lowered by the difference (never raised, never below 50 %), and a plan that lowers it says so (`MEM_HEADROOM_ADAPTED`). The rise also makes a host over `mem_threshold` a hot spot at once, without waiting `max_over`, when its memory plus the rise (or its own trend over `max_over`) reaches capacity less `mem_reserve_mib`. 0: fixed memory levels and the usual `max_over` wait.",
      ),
    mem_peak_window: seconds.default(86_400).meta({
      unit: "s",
      description:
        "Memory growth: each VM's peak memory over this window is remembered, and a destination must have room (physical memory less `mem_reserve_mib`) for its VMs and the one arriving to grow back to their peaks. 0: only current memory counts.",
    }),
    max_vm_per_host: z.number().int().min(1).max(100_000).default(30).describe("A destination must hold fewer VMs than this."),
    mem_overcommit: z
      .number()
      .min(0.1)
      .max(10)
      .default(1)
      .describe("The memory of the VMs on a host (minus `mem_reserve_mib`) may reach this multiple of its physical memory. 1: no overcommit."),
    mem_reserve_mib: z.number().min(0).default(1024).meta({
      unit: "MiB",
      description:
        "Memory kept free on every destination for the hypervisor itself: a VM fits only if used memory + the VM's memory stays at or below total − reserve.",
    }),
    vm_cooldown: seconds.default(600).meta({
      unit: "s",
      description:
        "A VM that moved is not moved again for this long by hot-spot relief or balancing (consolidation's emptyings of whole hosts do not wait for it). The cooldown doubles with every further move within `vm_cooldown_max`. 0 turns it off.",
    }),
    vm_cooldown_max: seconds.default(6 * 3600).meta({
      unit: "s",
      description: "The longest cooldown, and how far back moves count towards the doubling. At least `vm_cooldown`.",
    }),
    host_settle: seconds.default(60).meta({
      unit: "s",
      description: "A host that sent or received a VM is left to settle this long: it neither sends nor receives another.",
    }),
    pingpong_window: seconds.default(3600).meta({
      unit: "s",
      description: "A VM moved A→B→A within this window is frozen (it no longer moves) and reported, until `ballast release --vm`.",
    }),
    min_gain: z.number().min(0).default(2).meta({
      unit: "points",
      description: "Balance: a move must lower the weighted imbalance by at least this much.",
    }),
    cpu_weight: z.number().min(0).default(1).describe("Balance: weight of CPU in the imbalance measure."),
    mem_weight: z.number().min(0).default(1).describe("Balance: weight of memory in the imbalance measure."),
    balance_threshold: pct.default(10).meta({
      unit: "points",
      description: "Balance runs only when host loads spread wider than this (the weighted standard deviation of the hosts' loads).",
    }),
    strategies: z
      .array(z.enum(["hotspot", "balance", "consolidate"]))
      .default(["hotspot"])
      .describe("What the periodic cycle runs, in order: `hotspot` (relieve overloaded hosts), `balance`, `consolidate` (empty whole hosts)."),
    spare_hosts: z
      .number()
      .int()
      .min(0)
      .default(1)
      .describe(
        "Consolidation keeps this many empty hosts (the largest) powered as spare capacity; the other empty hosts are reported as power-off candidates.",
      ),
    consolidate_load: pct.default(70).meta({
      unit: "%",
      description: `Consolidation packs hosts up to this CPU load (capped at \`max_load_candidate\`). The 10 points under the default \`load_threshold\` leave room for a host's load to grow before hot-spot relief must move a VM out again. ${cpuLevelNote}`,
    }),
    headroom_min_share: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe(
        "Adaptive CPU headroom: when host loads swing little between samples, the four CPU levels (`load_threshold`, `load_target`, `max_load_candidate`, `consolidate_load`) move towards 100 %, keeping at least this share of the configured headroom (100 − `load_threshold`). At 0.5 the defaults become at most 90 / 85 / 85 / 85 %. 1 turns adaptation off.",
      ),
    headroom_swings: z
      .number()
      .min(0)
      .max(100)
      .default(2)
      .describe(
        "Adaptive CPU headroom: the headroom kept is this many times the measured swing, the mean absolute change between a host's consecutive CPU samples, 90th percentile over the busy hosts (at least 5 hosts with 4 of their newest 6 samples, else no adaptation). A host whose own swing needs more keeps this many times its own swing. A plan that adapts says so (`CPU_HEADROOM_ADAPTED`, with the numbers).",
      ),
    predict_window: seconds.default(600).meta({
      unit: "s",
      description:
        "Load prediction: a destination's CPU trend is a least-squares line through its samples of this many seconds, and it is judged on max(its CPU now, its predicted CPU). 0 turns prediction off.",
    }),
    predict_ahead: seconds.default(300).meta({ unit: "s", description: "Load prediction: how far ahead the trend is extrapolated." }),
    max_moves_per_cycle: z
      .number()
      .int()
      .min(0)
      .default(16)
      .describe(
        "Moves one cycle may plan. A consolidation that starts under the cap empties its host whole (a half-emptied host saves nothing), so a cycle may exceed the cap by one host's VMs; the dispatcher queues the moves under the max_concurrent_* caps. Consolidation frees hosts only as fast as the caps let it: on the PlanetLab replays, 4 moves per cycle and 8 concurrent migrations left most of a sparse start's hosts powered for the first hour, which was two thirds of the energy above LR-MMT-1.2 (docs/simulator.md).",
      ),
    max_concurrent_total: z
      .number()
      .int()
      .min(1)
      .default(32)
      .describe(
        "Migrations running at once in the whole cluster (a dispatch limit: more wait in the queue). Each host still sends and receives at most max_concurrent_per_source / _per_destination at once.",
      ),
    max_concurrent_per_source: z
      .number()
      .int()
      .min(1)
      .default(2)
      .describe("Migrations running at once out of one host (a dispatch limit: more wait in the queue)."),
    max_concurrent_per_destination: z
      .number()
      .int()
      .min(1)
      .default(2)
      .describe("Migrations running at once into one host (a dispatch limit: more wait in the queue)."),
    automation: Automation.default("full").describe(
      "`full`: planned moves start on their own (unless paused). `manual` and `partial`: a cycle's plan waits as a pending plan until `ballast approve <plan>` applies it or it expires (`plan_ttl`); the two behave the same today.",
    ),
    plan_ttl: seconds.min(1).default(300).meta({
      unit: "s",
      description: "A pending (unapproved) plan expires after this long. It is also cancelled on approval when the cluster drifted from it.",
    }),
    rules: z.array(PlacementRule).default([]).describe("Placement rules: affinity, anti-affinity, vm-host and vm-not-host, each `must` or `should`."),
    pinned_vms: z.array(VmName).default([]).describe("VMs that never move (decision `VM_PINNED`); their load still counts on their host."),
    excluded_vms: z
      .array(VmName)
      .default([])
      .describe("VMs the balancer leaves alone: never moved (decision `VM_EXCLUDED`); their load still counts on their host."),
    excluded_hosts: z.array(HostId).default([]).describe("Hosts the balancer neither moves VMs from (`SOURCE_EXCLUDED`) nor to (`DEST_EXCLUDED`)."),
    local_disks: LocalDisks.default("copy").describe(
      "VMs with local (not shared) writable disks: `copy` moves them live with their disks (`virsh migrate --copy-storage-all`), and the cost model makes such moves the last choice; `skip` never moves them (`VM_LOCAL_DISKS`). The default is `copy`: on a cluster of local disks, `skip` leaves nothing to balance and no way to drain a host, and the source copy is kept (`local_disk_source`), so a failed copy loses nothing.",
    ),
    local_disks_vms: z
      .record(VmName, LocalDisks)
      .default({})
      .describe("Per-VM override of `local_disks`, e.g. `{ db-1: skip }` for a VM whose disks are too large to copy."),
    power_management: z
      .boolean()
      .default(false)
      .describe(
        "Switch hosts off when consolidation has left them empty, and back on before they are needed (hot spots no powered host can relieve, demand predicted over `boot_time`, a lost reserve, an evacuation without room). Needs a power driver per host (`power.inventory` in orchestrator.yaml); `automation` decides whether power actions run or wait for approval.",
      ),
    power_off_after: seconds.default(300).meta({
      unit: "s",
      description:
        "Power management: a host that became empty by itself (VMs shut down, deleted, or moved away by an operator) is switched off once it has held no VM (running or defined) for this long; a host a cycle's consolidation empties is switched off with those moves (`power_off_emptied`). Five minutes by default: long enough for a VM restarted or defined just after to keep its host, while the reserve (`standby_capacity`) keeps room for a failure or a surge and `min_on_time` and `max_power_cycles_per_day` stop cycling; every further minute keeps an idle server at 50–70 % of its peak power.",
    }),
    power_off_emptied: z
      .boolean()
      .default(true)
      .describe(
        "Power management: a host that a cycle's consolidation empties is switched off as soon as those moves have succeeded and its agent reports it empty (`POWER_OFF_EMPTIED`), without waiting `power_off_after`, as VMware DPM's standby mode evacuates a host and powers it off as one operation. The reserve, `min_on_time`, `max_power_ops` and the rule groups are judged as for any power-off; a move that fails or a VM that appears there drops the power-off. `power_off_after` then applies to hosts that became empty otherwise (VMs shut down, deleted or moved by an operator). false: every empty host waits `power_off_after`.",
      ),
    standby_capacity: z
      .union([
        z.literal("largest_host").describe("Spare CPU and memory, on the powered hosts, of the largest powered host: the cluster absorbs its failure."),
        z
          .object({ hosts: z.number().int().min(0).max(10_000).describe("Keep this many empty hosts powered (the largest).") })
          .strict()
          .describe("A number of empty hosts kept powered."),
        z
          .object({
            cpu_percent: pct.describe("Spare CPU to keep, percent of the powered hosts' total CPU capacity."),
            mem_percent: pct.describe("Spare memory to keep, percent of the powered hosts' total memory."),
          })
          .strict()
          .describe("Spare shares of the powered hosts' CPU and memory."),
      ])
      .default("largest_host")
      .describe(
        "Power management: the reserve the powered hosts keep. A host is switched off only if the reserve holds without it, and a host is switched on when the reserve is lost. `largest_host` (the default): spare CPU and memory of the largest powered host; `{ hosts: N }`: N empty hosts; `{ cpu_percent, mem_percent }`: spare shares of the powered capacity. Spare CPU counts up to each host's hot-spot trigger (`load_threshold`), spare memory up to `max_mem_candidate`.",
      ),
    max_power_ops: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .optional()
      .describe(
        "Power management: hosts being switched on or off at once, in the whole cluster. Unset (the default): one in 20 of the hosts Ballast can switch, at least 1 (1 up to 20 hosts, 40 of 800), so a large cluster that consolidation empties at night is not switched off one host at a time for hours, while a small one still switches one at a time.",
      ),
    boot_time: seconds.default(300).meta({
      unit: "s",
      description:
        "Power management: how long a host takes from power-on until its agent reports. Demand is predicted this far ahead, so a host is switched on before it is needed.",
    }),
    power_on_deadline: seconds.min(1).default(900).meta({
      unit: "s",
      description:
        "Power management: a host switched on whose agent has not reported after this long is reported failed (`POWER_BOOT_OVERDUE`), and another host is tried.",
    }),
    min_off_time: seconds.default(1800).meta({
      unit: "s",
      description:
        "Power management: a host switched off stays off at least this long before it is switched on for predicted demand (hot spots, a lost reserve and evacuations do not wait).",
    }),
    min_on_time: seconds.default(1800).meta({
      unit: "s",
      description: "Power management: a host switched on (or seen on) stays on at least this long (30 minutes by default) before it is switched off again.",
    }),
    max_power_cycles_per_day: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(2)
      .describe(
        "Power management: power-ons of one host within any 24 hours; a host that reached it stays on. Two by default: every host is cycled at most twice a day, which on the PlanetLab replays cost almost no energy (docs/power.md, Hysteresis). 0: no limit.",
      ),
    power_off_maintenance: z
      .boolean()
      .default(false)
      .describe("Power management: hosts in maintenance may be switched off too once empty (by default they are left as they are, for the operator)."),
    local_disk_source: z
      .enum(["keep", "remove"])
      .default("keep")
      .describe(
        "After a local-disk VM moved and runs on its destination: `keep` leaves its old disk files on the source and reports them (in the migration's history entry); `remove` deletes them there. Never removed unless the migration succeeded and the destination lists the VM running.",
      ),
    failure_detect_after: seconds.min(1).default(60).meta({
      unit: "s",
      description:
        "Host failure: a host's agent must be silent (no heartbeat, no metrics) this long before the host can be judged failed, and its peers' probes of its libvirt count within this window. A value under `stale_after` counts as `stale_after`.",
    }),
    failure_peer_probes: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(2)
      .describe(
        "Host failure: how many peer agents' probes of a silent host's libvirt (over the migration network) must have failed within `failure_detect_after` before it is a candidate; any probe that reaches libvirt makes it `agent_down` instead (never restarted). A cluster of two hosts must set 1.",
      ),
    failure_isolation_share: z
      .number()
      .min(0)
      .max(1)
      .default(0.5)
      .describe(
        "Host failure: when more than this share of the hosts (those switched off or already fenced not counted) are silent at once, the orchestrator is more likely cut off than the hosts dead: recovery pauses and no host is a candidate (`FAILURE_ISOLATED`).",
      ),
    failure_fence_attempts: z
      .number()
      .int()
      .min(1)
      .max(100)
      .default(3)
      .describe(
        "Host failure: hard power-offs tried on a failed host before giving up (`FENCE_FAILED`); then nothing is restarted until `ballast recover HOST --confirm-fenced`.",
      ),
    failure_probe_timeout: seconds.min(0.1).max(60).default(PROBE_TIMEOUT_DEFAULT_S).meta({
      unit: "s",
      description:
        "Host failure: how long a peer agent waits for a silent host's libvirt to answer its probe (`virsh version` over the migration network). No answer in time counts as a failed probe. Raise it where the migration network is slow or libvirt answers over TLS or SSH.",
    }),
    max_concurrent_restarts: z
      .number()
      .int()
      .min(1)
      .max(10_000)
      .default(4)
      .describe("Host failure: VMs of fenced hosts one restart plan starts; the rest wait for the next plan (`RESTART_CAP`)."),
    restart_wait_for: z
      .enum(["guest_agent", "started", "none"])
      .default("guest_agent")
      .describe(
        "Host failure: what a lower restart priority waits for before its VMs are started (`RESTART_PRIORITY_WAIT`). guest_agent: every restart of a higher priority is up, meaning its QEMU guest agent channel is connected (qemu-ga runs in the guest), or it was started and has no such channel; started: libvirt started them; none: every priority at once (still highest first). Never longer than `restart_wait_timeout`.",
      ),
    restart_wait_timeout: seconds.min(1).max(3600).default(120).meta({
      unit: "s",
      description:
        "Host failure: the longest a lower restart priority waits for a higher one's restart to be up (`restart_wait_for`), counted from when that restart was recorded; then it starts anyway, and its decision says which were not up.",
    }),
    restart_start_timeout: seconds.min(5).max(3600).default(60).meta({
      unit: "s",
      description:
        "Host failure: how long the orchestrator waits for a destination agent's answer to a restart (define the VM from its record, then start it). No answer in time counts as a failed try (`restart_start_tries`); the agent's own start, if it went ahead, is found by the next try (idempotent per request).",
    }),
    restart_start_tries: z
      .number()
      .int()
      .min(1)
      .max(20)
      .default(3)
      .describe("Host failure: sends of a restart whose start failed or got no answer, before it is given up and alerted (`start_failed`)."),
    restart_retention: seconds
      .min(3600)
      .max(366 * 86_400)
      .default(7 * 86_400)
      .meta({
        unit: "s",
        description:
          "Host failure: how long a restart is kept (in memory, in the HA bucket, in `ballast recovery status` and the history) after it was recorded, once its source host is healthy again and its VM's record has moved on.",
      }),
    restart_priority: RestartPriority.default("medium").describe(
      "When a host dies (docs/host-failure.md): the restart priority of a VM that restart_priorities does not name. high first, then medium, then low; never: not restarted elsewhere.",
    ),
    restart_priorities: z
      .object({
        vms: z.record(VmName, RestartPriority).default({}).describe("Per VM, e.g. `{ db-1: high }`. Wins over rules."),
        rules: z
          .record(ruleName, RestartPriority)
          .default({})
          .describe("Per placement rule (its `name` in `rules`): every VM of the rule. A VM in several rules gets the highest of them."),
      })
      .strict()
      .default({ vms: {}, rules: {} })
      .describe("Restart priorities of named VMs and of rule groups; precedence: vms, then rules, then restart_priority."),
  })
  .strict()
  .superRefine((p, ctx) => {
    for (const name of Object.keys(p.restart_priorities.rules))
      if (!p.rules.some((r) => r.name === name))
        ctx.addIssue({ code: "custom", path: ["restart_priorities", "rules", name], message: `no rule named ${JSON.stringify(name)} in rules` });
    if (p.load_target > p.load_threshold)
      ctx.addIssue({ code: "custom", path: ["load_target"], message: "load_target must not exceed load_threshold (hysteresis)" });
    if (p.mem_target > p.mem_threshold)
      ctx.addIssue({ code: "custom", path: ["mem_target"], message: "mem_target must not exceed mem_threshold (hysteresis)" });
    if (p.max_over > 0 && p.max_over < 2 * p.interval)
      ctx.addIssue({ code: "custom", path: ["max_over"], message: `max_over (${p.max_over}s) must be 0 or at least 2 x interval (${2 * p.interval}s)` });
    if (p.vm_cooldown_max < p.vm_cooldown) ctx.addIssue({ code: "custom", path: ["vm_cooldown_max"], message: "vm_cooldown_max must be >= vm_cooldown" });
  })
  .describe("The planner's policy: the `policy:` section of orchestrator.yaml, or a policy file for `ballast plan --policy`.");
export type Policy = z.infer<typeof Policy>;
export type PolicyInput = z.input<typeof Policy>;

/** The default policy, fully populated. */
export const defaultPolicy = (): Policy => Policy.parse({});
