import { Policy, type PolicyInput } from "../../shared/config/policy.js";
import { maxPowerOps, plan as planCycle } from "../../orchestrator/core/index.js";
import type { Plan } from "../../shared/schemas/plan.js";
import type { ClusterSnapshot, HostSample, PastMove, SnapshotHost, SnapshotVm } from "../../shared/schemas/snapshot.js";
import { migrationTimeS } from "../model/datacentre.js";
import { cloudSimPolicy } from "./cloudsim/policy.js";
import type { CloudSimVariant } from "./cloudsim/pabfd.js";
import { PlannerPolicy, type AdapterContext, type SnapshotPlanner } from "./ballast-adapter.js";
import type { ConsolidationPolicy, PowerRequest, MigrationRequest, SimView, StepPlan } from "./policy.js";
import type { HostPower } from "../../shared/schemas/power.js";
import type { BootModelOptions } from "../model/host-power.js";
import { WindowMax } from "../../shared/window-max.js";

// Ballast's own policy in the simulator: every step, the simulator's view becomes a
// ClusterSnapshot (what the orchestrator shell builds from agent messages), the PRODUCTION planner
// `plan(snapshot, policy, now, { mode: "cycle" })` runs on it, and the plan's moves are started in
// sequence order. There is no second copy of the policy here: only the translation of the
// simulated data centre into the planner's input, and of the plan into migrations.
//
// Time: the orchestrator cycle is the simulator's step (the traces' sample interval). The
// production defaults are written for a 10 s cycle; `simPolicy` carries over every key unchanged
// except the three that are tied to the metrics interval:
//   interval    = the step (300 s),
//   stale_after = 3.5 × interval (the default's ratio, 35 s / 10 s: a host that missed three
//                 reports is silent; a 300 s gap between two samples must not break a window),
//   max_over    = max(default 60 s, 2 × the longer of the step and the trace's sample interval)
//                 (the newest three of the trace's own samples over the threshold: a step shorter
//                 than the samples sees interpolated points, no further evidence).
// and the cycle runs the strategies a power-saving deployment runs: hotspot, then consolidate.
// One key is tied to the host model rather than the interval: mem_reserve_mib = 0. The reserve is
// memory for the hypervisor's own OS (1 GiB: under 1 % of a real hypervisor's RAM), but a
// CloudSim host's RAM is all VM RAM (its RAM provisioner hands all 4,096 MB to VMs, and the
// two-resource baseline fills it to 80 %); a 1 GiB reserve would take a quarter of it.
//
// Memory: the PlanetLab traces are CPU-only and CloudSim's PlanetLab VMs reserve no RAM after
// creation (its placements are CPU-only), so with `memory: "ignore"` (the default for
// `--format planetlab`) hosts are given memory that never binds: VM sizes still drive the
// migration cost (MMT's criterion too), but no memory limit refuses a destination. With
// `memory: "model"` (the default for `--format cpu-mem`) hosts have their real RAM and VMs use
// their traced memory demand, so memory limits, mem_threshold and the overcommit rules all apply.
//
// Heterogeneous hosts: every host reports `cpuSpeed` = its core MIPS / the slowest core MIPS, so
// a VM measured at x % of one G5 core needs x × 2660/1860 % of a G4 core.
//
// Power (the boot model, `bootModel.model = "boot"`): the planner is handed `power_management:
// true` and the run's `boot_time` (a policy file may still set either), every host carries
// SnapshotHost.power from the engine's power state (what the orchestrator's power manager would
// report: every host switchable, no boot deadline, no failure), and the plan's power actions are
// the engine's (the policy `switchesHosts`: the engine switches nothing by itself). In the
// instant model none of this is set, so the planner sees exactly what it saw before.
// Power keys tied to the step: power_off_after, min_on_time and min_off_time are met at the step
// nearest their end (atStep), and one max_power_ops slot stands for the operations it completes
// in a step (powerOpsPerSlot); boot_time is the run's boot time.

export type MemoryModel = "ignore" | "model";

export interface BallastSimOptions {
  /** Policy keys on top of simPolicy's (themselves on top of the production defaults). */
  policy?: PolicyInput;
  memory?: MemoryModel;
  /**
   * Initial placement: CloudSim's PABFD of the given variant (same start as that baseline), or
   * round-robin. Default "prefix" (the start of LR-MMT-1.2 pre-fix, the comparison target).
   */
  initialPlacement?: CloudSimVariant | "round-robin";
  name?: string;
  /** Epoch ms of simulated t = 0. */
  epochMs?: number;
  /** Called with every plan (for inspection in tests and tools). */
  onPlan?: (plan: Plan, view: SimView) => void;
  /** Spacing of the trace's samples, seconds (default: the step); max_over spans three of them. */
  sampleIntervalS?: number;
  /** The run's power model; "boot" turns power management on (see above). Default instant. */
  bootModel?: BootModelOptions;
}

/** Memory reported for every host when memory is not modelled (never binds). */
export const UNBOUNDED_MEMORY_MIB = 1 << 30;

/**
 * The production defaults with the interval-tied keys mapped to a step of `stepS` seconds, on a
 * trace sampled every `sampleIntervalS` seconds (default: the step).
 */
export function simPolicy(stepS: number, overrides: PolicyInput = {}, sampleIntervalS = stepS): Policy {
  const d = Policy.parse({});
  // Cycles of the default interval that fit in one step: the caps on moves and concurrency are
  // per cycle, so one step of the simulator may start as many as that many production cycles.
  const k = Math.max(1, Math.round(stepS / d.interval));
  const base: PolicyInput = {
    interval: stepS,
    stale_after: (d.stale_after / d.interval) * stepS,
    // Three samples over the threshold, counted in the trace's own samples: between two of them
    // the simulator interpolates, so a shorter step adds no evidence that a host stays hot.
    max_over: Math.max(d.max_over, 2 * Math.max(stepS, sampleIntervalS)),
    max_moves_per_cycle: d.max_moves_per_cycle * k,
    max_concurrent_total: d.max_concurrent_total * k,
    max_concurrent_per_source: d.max_concurrent_per_source * k,
    max_concurrent_per_destination: d.max_concurrent_per_destination * k,
    strategies: ["hotspot", "consolidate"],
    mem_reserve_mib: 0,
  };
  // The power waits are production durations whoever sets them: mapped to the step after the
  // overrides (atStep).
  const merged = Policy.parse({ ...base, ...overrides });
  return Policy.parse({
    ...base,
    ...overrides,
    power_off_after: atStep(merged.power_off_after, stepS),
    min_on_time: atStep(merged.min_on_time, stepS),
    min_off_time: atStep(merged.min_off_time, stepS),
  });
}

/**
 * A power wait of `s` seconds as the simulator can honour it. The planner runs once a step, so a
 * wait is judged only at steps, and moves (which empty hosts) and boots (which start a host's on
 * time) begin at a step: with the wait unchanged it is met only at the first step after its end,
 * up to a whole step late (power_off_after 300 s switched an emptied host off 580 s after its last
 * VM left, where a 10 s production cycle does it at 300 s). Half a step less makes the step
 * nearest to the wait's end the one that meets it.
 */
export function atStep(s: number, stepS: number): number {
  return s <= 0 ? 0 : Math.max(0, s - stepS / 2);
}

/** The SnapshotPlanner that drives the production planner. */
export class BallastPlanner implements SnapshotPlanner<ClusterSnapshot, Plan> {
  /** The policy the planner runs (max_power_ops fixed at the first plan in the boot model, see powerOpsPerSlot). */
  policy: Policy;
  readonly frozen = new Set<string>();
  private readonly memory: MemoryModel;
  private readonly sampleWindow: number;
  private minCoreMips = 0;
  /** Each VM's memory peak over mem_peak_window, from the demands the policy has seen (the past only). */
  private readonly memPeaks = new Map<number, WindowMax>();
  /** Each VM's memory demand at the last sampleWindow steps, oldest first (the engine keeps CPU history only). */
  private readonly memHistory = new Map<number, number[]>();
  plans = 0;
  planMs = 0;

  constructor(
    policy: Policy,
    memory: MemoryModel,
    private readonly onPlan?: (plan: Plan, view: SimView) => void,
    /** Fill SnapshotHost.power (the boot model). */
    private readonly reportPower = false,
    /**
     * Power operations one max_power_ops slot completes in a step (the boot model). The cap counts
     * hosts being switched at once; a production cycle sees a slot free as soon as a shutdown
     * ends, but the simulator plans once a step and its shutdowns end within it, so one slot
     * stands for step / (shutdown time + the production interval) operations per step (300 s /
     * (30 s + 10 s): 7). Boots take a whole step, so this lets more boots start in a step than
     * production would; the runs show few at once.
     */
    private readonly powerOpsPerSlot = 1,
  ) {
    this.policy = policy;
    this.memory = memory;
    // Samples the shell keeps (cluster-state.ts): max_over + 3 intervals + stale_after, at least
    // what the prediction needs.
    const keepS = policy.max_over + 3 * policy.interval + policy.stale_after;
    this.sampleWindow = Math.max(2, Math.ceil(keepS / policy.interval) + 1);
  }

  toSnapshot(view: SimView, ctx: AdapterContext): ClusterSnapshot {
    const now = ctx.toMs(view.now);
    if (this.minCoreMips === 0) this.minCoreMips = Math.min(...view.hosts.map((h) => h.type.mipsPerCore));
    const model = this.memory === "model";
    if (model) this.recordMemory(view);
    const hosts: SnapshotHost[] = view.hosts.map((h) => {
      const memTotal = model ? h.type.ramMb : UNBOUNDED_MEMORY_MIB;
      const memUsed = model ? h.memDemandMb : 0;
      const samples: HostSample[] = ctx.hostSamples(view, h.id, this.sampleWindow);
      if (model) this.memorySamples(h.vms, h.type.ramMb, samples);
      else for (const s of samples) s.mem = 0;
      return {
        id: ctx.hostName(h.id),
        cpus: h.type.cores,
        cpuSpeed: h.type.mipsPerCore / this.minCoreMips,
        memTotalMiB: memTotal,
        memAvailableMiB: Math.max(0, memTotal - memUsed),
        cpuPercent: (100 * h.utilMips) / h.totalMips,
        lastSeen: now,
        samples,
        address: `10.0.${h.id >> 8}.${h.id & 255}`,
        maintenance: false,
        tags: [],
        ...(this.reportPower ? { power: hostPower(h.power, ctx) } : {}),
      };
    });
    const vms: SnapshotVm[] = [];
    for (const v of view.vms) {
      if (v.removed || v.host < 0) continue;
      let memPeakMiB: number | undefined;
      if (model && this.policy.mem_peak_window > 0) {
        let w = this.memPeaks.get(v.id);
        if (!w) this.memPeaks.set(v.id, (w = new WindowMax(this.policy.mem_peak_window * 1000)));
        w.push(now, v.memDemandMb);
        memPeakMiB = w.max(now) ?? undefined;
      }
      vms.push({
        name: ctx.vmName(v.id),
        host: ctx.hostName(v.host),
        state: "running",
        vcpus: 1,
        memMiB: model ? v.memDemandMb : v.type.ramMb,
        ...(memPeakMiB !== undefined ? { memPeakMiB } : {}),
        cpuPercent: ctx.vmCpuPercentOfCore(view, v.id),
        tags: [],
      });
    }
    const inFlight = view.inFlight.map((f, i) => {
      const v = view.vms[f.vm]!;
      return {
        requestId: `sim-${f.vm}-${f.startedAt}-${i}`,
        vm: ctx.vmName(f.vm),
        source: ctx.hostName(f.source),
        destination: ctx.hostName(f.destination),
        startedAt: ctx.toMs(f.startedAt),
        memMiB: model ? v.memDemandMb : 0,
        cpuPercent: ctx.vmCpuPercentOfCore(view, f.vm),
      };
    });
    // Finished moves within the horizon that cooldowns and ping-pong detection look at.
    const horizonS = view.now - Math.max(this.policy.vm_cooldown_max, this.policy.pingpong_window, this.policy.host_settle);
    const history: PastMove[] = [];
    for (const m of ctx.history) {
      const vm = view.vms[m.vm]!;
      const finished = m.startedAt + migrationTimeS(vm.type.ramMb, view.hosts[m.destination]!.type.bwKbit);
      if (finished < horizonS || finished > view.now) continue;
      history.push({
        vm: ctx.vmName(m.vm),
        source: ctx.hostName(m.source),
        destination: ctx.hostName(m.destination),
        finishedAt: ctx.toMs(finished),
        outcome: "succeeded",
      });
    }
    return { v: 1, takenAt: now, hosts, vms, inFlight, history, frozenVms: [...this.frozen].sort(), incompatible: [] };
  }

  /** Appends every placed VM's current memory demand to its history (what an agent reports each interval). */
  private recordMemory(view: SimView): void {
    for (const v of view.vms) {
      if (v.removed || v.host < 0) continue;
      let h = this.memHistory.get(v.id);
      if (!h) this.memHistory.set(v.id, (h = []));
      h.push(v.memDemandMb);
      if (h.length > this.sampleWindow) h.shift();
    }
  }

  /**
   * Host memory samples derived from the histories of the VMs on the host now, as the CPU samples
   * are (CloudSim's host history): sample i of n is the sum of each VM's demand i steps from its
   * newest, its oldest known value where its history is shorter.
   */
  private memorySamples(vmIds: readonly number[], ramMb: number, samples: HostSample[]): void {
    const n = samples.length;
    for (let i = 0; i < n; i++) {
      const back = n - 1 - i;
      let mb = 0;
      for (const id of vmIds) {
        const h = this.memHistory.get(id);
        if (h && h.length > 0) mb += h[Math.max(0, h.length - 1 - back)]!;
      }
      samples[i]!.mem = ramMb > 0 ? (100 * mb) / ramMb : 0;
    }
  }

  plan(snapshot: ClusterSnapshot, nowMs: number): Plan {
    if (this.reportPower && this.plans === 0) {
      const switchable = snapshot.hosts.filter((h) => h.power?.switchable === true).length;
      this.policy = { ...this.policy, max_power_ops: Math.min(1000, maxPowerOps(this.policy, switchable) * this.powerOpsPerSlot) };
    }
    const t0 = performance.now();
    const p = planCycle(snapshot, this.policy, nowMs, { mode: "cycle" });
    this.planMs += performance.now() - t0;
    this.plans += 1;
    for (const vm of p.frozen) this.frozen.add(vm);
    return p;
  }

  toPowerActions(plan: Plan, view: SimView, ctx: AdapterContext): PowerRequest[] {
    void view;
    void ctx;
    return [...plan.power]
      .sort((a, b) => a.seq - b.seq)
      .map((p) => ({ host: Number(p.host.slice("sim-host-".length)), action: p.action, ...(p.afterMoves.length > 0 ? { afterMoves: true } : {}) }));
  }

  toMigrations(plan: Plan, view: SimView, ctx: AdapterContext): MigrationRequest[] {
    this.onPlan?.(plan, view);
    void ctx;
    return [...plan.moves]
      .sort((a, b) => a.seq - b.seq)
      .map((m) => ({ vm: Number(m.vm.slice("sim-vm-".length)), host: Number(m.destination.slice("sim-host-".length)) }));
  }
}

/** Ballast's production planner as a simulator policy (a ConsolidationPolicy). */
export class BallastPolicy implements ConsolidationPolicy {
  readonly name: string;
  readonly planner: BallastPlanner;
  private readonly inner: PlannerPolicy<ClusterSnapshot, Plan>;

  readonly switchesHosts: boolean;

  constructor(stepS = 300, opts: BallastSimOptions = {}) {
    const boot = opts.bootModel?.model === "boot" ? opts.bootModel : undefined;
    const keys: PolicyInput = boot ? { power_management: true, boot_time: boot.bootTimeS, ...opts.policy } : (opts.policy ?? {});
    const perSlot = boot ? Math.max(1, Math.floor(stepS / (boot.shutdownTimeS + Policy.parse({}).interval))) : 1;
    this.planner = new BallastPlanner(simPolicy(stepS, keys, opts.sampleIntervalS ?? stepS), opts.memory ?? "ignore", opts.onPlan, boot !== undefined, perSlot);
    this.switchesHosts = boot !== undefined;
    this.name = opts.name ?? "Ballast";
    const start = opts.initialPlacement ?? "prefix";
    const place = start === "round-robin" ? undefined : (v: SimView): number[] => cloudSimPolicy("lr-mmt-1.2", start).initialPlacement(v);
    this.inner = new PlannerPolicy(this.planner, {
      name: this.name,
      switchesHosts: this.switchesHosts,
      ...(opts.epochMs !== undefined ? { epochMs: opts.epochMs } : {}),
      ...(place ? { initialPlacement: place } : {}),
    });
  }

  initialPlacement(view: SimView): number[] {
    return this.inner.initialPlacement(view);
  }

  decide(view: SimView): StepPlan {
    return this.inner.decide(view);
  }
}

/** A host's power state as the orchestrator's power manager would put it in the snapshot. */
function hostPower(p: SimView["hosts"][number]["power"], ctx: AdapterContext): HostPower {
  return {
    state: p.state,
    since: ctx.toMs(p.since),
    switchable: true,
    emptySince: p.emptySince === null ? null : ctx.toMs(p.emptySince),
    cyclesToday: p.powerOnsLastDay,
    bootDeadline: null,
    failed: null,
  };
}

export function ballastPolicy(stepS = 300, opts: BallastSimOptions = {}): BallastPolicy {
  return new BallastPolicy(stepS, opts);
}
