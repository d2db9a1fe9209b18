import { z } from "zod";
import { HostId, VmName } from "../schemas/ids.js";

// The planner's policy. Keys are snake_case because operators write them in config files and
// policy files; the same schema serves both (and `ballast schema policy`). Durations in seconds,
// loads in percent of a host's capacity.

const pct = z.number().min(0).max(100);
const seconds = z.number().min(0).max(30 * 86_400);

export const RuleStrength = z.enum(["must", "should"]);

/** Filters narrow when a rule applies (as OneCloud's migration alerts do). */
const RuleFilters = {
  /** Only when the VM currently runs on one of these hosts. */
  source_hosts: z.array(HostId).optional(),
  /** Only constrains placements onto these hosts. */
  target_hosts: z.array(HostId).optional(),
};

export const AffinityRule = z
  .object({
    name: z.string().min(1).max(100),
    type: z.enum(["affinity", "anti-affinity"]),
    strength: RuleStrength.default("must"),
    vms: z.array(VmName).min(2),
    ...RuleFilters,
  })
  .strict();
export type AffinityRule = z.infer<typeof AffinityRule>;

export const VmHostRule = z
  .object({
    name: z.string().min(1).max(100),
    type: z.enum(["vm-host", "vm-not-host"]),
    strength: RuleStrength.default("must"),
    vms: z.array(VmName).min(1),
    hosts: z.array(HostId).min(1),
    ...RuleFilters,
  })
  .strict();
export type VmHostRule = z.infer<typeof VmHostRule>;

export const PlacementRule = z.union([AffinityRule, VmHostRule]);
export type PlacementRule = z.infer<typeof PlacementRule>;

export const Automation = z.enum(["manual", "partial", "full"]);
export type Automation = z.infer<typeof Automation>;

export const Policy = z
  .object({
    /** Seconds between orchestrator cycles (and the expected agent metrics interval). */
    interval: seconds.min(0.1).default(10),
    /** A host whose newest metrics or heartbeat is older than this is silent: never a destination. */
    stale_after: seconds.min(0.1).default(35),
    /** Seconds a host must stay over a threshold before it is a source (at least 2 x interval). */
    max_over: seconds.default(60),
    /** CPU trigger threshold, percent of host capacity. */
    load_threshold: pct.default(80),
    /** Hysteresis: shed load until the host is at or below this (<= load_threshold). */
    load_target: pct.default(70),
    /** Memory trigger threshold, percent of host memory used. */
    mem_threshold: pct.default(90),
    mem_target: pct.default(85),
    /** A destination must stay under this CPU load after the move (projected). */
    max_load_candidate: pct.default(70),
    /** A destination must stay under this memory use after the move (projected). */
    max_mem_candidate: pct.default(85),
    /** A destination must have fewer VMs than this. */
    max_vm_per_host: z.number().int().min(1).max(100_000).default(30),
    /** Sum of VM memory on a host may reach this multiple of its physical memory. */
    mem_overcommit: z.number().min(0.1).max(10).default(1),
    /** Memory kept free on every destination for the hypervisor itself, MiB. */
    mem_reserve_mib: z.number().min(0).default(1024),
    /** A VM that moved is not moved again for this long; doubles for VMs that keep moving. */
    vm_cooldown: seconds.default(600),
    vm_cooldown_max: seconds.default(6 * 3600),
    /** A host that sent or received a VM is left to settle this long. */
    host_settle: seconds.default(60),
    /** A VM moved A->B->A within this window is frozen and reported. */
    pingpong_window: seconds.default(3600),
    /** Balance: move only when the weighted imbalance drops by at least this (percentage points). */
    min_gain: z.number().min(0).default(2),
    /** Balance: weights of CPU and memory in the imbalance measure. */
    cpu_weight: z.number().min(0).default(1),
    mem_weight: z.number().min(0).default(1),
    /** Balance is attempted only when host loads spread wider than this (std-dev, points). */
    balance_threshold: pct.default(10),
    /** Strategies the periodic cycle runs, in order. */
    strategies: z.array(z.enum(["hotspot", "balance", "consolidate"])).default(["hotspot"]),
    /** Consolidation keeps this many empty hosts powered as spare capacity. */
    spare_hosts: z.number().int().min(0).default(1),
    /**
     * Consolidation packs hosts up to this CPU load (capped at max_load_candidate). At the default
     * it packs as far as any other placement goes: the 10 points under load_threshold leave room
     * for a host's load to grow before hotspot has to move a VM out again.
     */
    consolidate_load: pct.default(70),
    /**
     * Adaptive CPU headroom (orchestrator/core/headroom.ts): when host loads swing little between
     * samples, the CPU levels above (load_threshold, load_target, max_load_candidate,
     * consolidate_load) move up towards 100 % so that only headroom_swings times the measured swing
     * (90th percentile over busy hosts) is kept, but never less than headroom_min_share of the
     * configured headroom (100 − load_threshold); a host whose own swing needs more keeps
     * headroom_swings times its own. 1 turns adaptation off; each adapted plan says so.
     */
    headroom_min_share: z.number().min(0).max(1).default(0.5),
    headroom_swings: z.number().min(0).max(100).default(2),
    /**
     * Load prediction: a destination is judged on max(its CPU now, its CPU predicted predict_ahead
     * seconds ahead by a least-squares line through its samples of the last predict_window
     * seconds), so VMs are not placed on hosts whose load is climbing. 0 turns it off.
     */
    predict_window: seconds.default(600),
    predict_ahead: seconds.default(300),
    /**
     * Per-cycle and cluster-wide migration caps. Consolidation frees hosts only as fast as these
     * let it drain them; at 2 and 4 the PlanetLab replays spent 5 % more energy (sim/README.md).
     */
    max_moves_per_cycle: z.number().int().min(0).default(4),
    max_concurrent_total: z.number().int().min(1).default(8),
    max_concurrent_per_source: z.number().int().min(1).default(2),
    max_concurrent_per_destination: z.number().int().min(1).default(2),
    automation: Automation.default("full"),
    /** Partial automation: an unapproved plan expires after this long. */
    plan_ttl: seconds.min(1).default(300),
    rules: z.array(PlacementRule).default([]),
    /** VMs that never move (pinned). */
    pinned_vms: z.array(VmName).default([]),
    /** VMs the balancer ignores entirely. */
    excluded_vms: z.array(VmName).default([]),
    /** Hosts the balancer neither moves from nor to. */
    excluded_hosts: z.array(HostId).default([]),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (p.load_target > p.load_threshold)
      ctx.addIssue({ code: "custom", path: ["load_target"], message: "load_target must not exceed load_threshold (hysteresis)" });
    if (p.mem_target > p.mem_threshold)
      ctx.addIssue({ code: "custom", path: ["mem_target"], message: "mem_target must not exceed mem_threshold (hysteresis)" });
    if (p.max_over > 0 && p.max_over < 2 * p.interval)
      ctx.addIssue({ code: "custom", path: ["max_over"], message: `max_over (${p.max_over}s) must be 0 or at least 2 x interval (${2 * p.interval}s)` });
    if (p.vm_cooldown_max < p.vm_cooldown)
      ctx.addIssue({ code: "custom", path: ["vm_cooldown_max"], message: "vm_cooldown_max must be >= vm_cooldown" });
  });
export type Policy = z.infer<typeof Policy>;
export type PolicyInput = z.input<typeof Policy>;

/** The default policy, fully populated. */
export const defaultPolicy = (): Policy => Policy.parse({});
