import type { ConsolidationPolicy, MigrationRequest, PowerRequest, SimView, StepPlan } from "./policy.js";

// The seam for running Ballast's production planner in the simulator.
//
// Ballast's planner is `plan(snapshot: ClusterSnapshot, policy, now)` (orchestrator/core/
// planner.ts, in progress). This file deliberately does not import it: the engine only needs a
// ConsolidationPolicy, and PlannerPolicy below turns any "snapshot in, moves out" planner into
// one. Whoever wires Ballast in implements SnapshotPlanner with
//   S = ClusterSnapshot (shared/schemas/snapshot.ts), P = Plan (shared/schemas/plan.ts)
// and passes it to `new PlannerPolicy(...)`.
//
// What the engine gives you each step (SimView, see policy.ts), and how it maps to ClusterSnapshot:
// - view.now: simulated seconds. Snapshot times are ms since the epoch: use ctx.toMs(view.now).
// - hosts[i]: id (0..H-1; name it with ctx.hostName(i)), type.cores -> SnapshotHost.cpus,
//   type.ramMb -> memTotalMiB, utilMips / totalMips * 100 -> cpuPercent (percent of ALL cores),
//   memDemandMb -> memAvailableMiB = ramMb - memDemandMb, samples -> ctx.hostSamples(view, i)
//   (oldest first, one per past step, derived from the histories of the VMs on the host now,
//   exactly like CloudSim's host history), address: any non-empty string (every host can receive).
//   A host with no VMs is "off" (0 W); the planner may still target it.
// - vms[j]: skip removed VMs. name = ctx.vmName(j), host = ctx.hostName(vm.host), state "running",
//   vcpus 1, memMiB = type.ramMb, cpuPercent = ctx.vmCpuPercentOfCore(view, j) (percent of ONE
//   core of the host it runs on), tags [].
// - view.inFlight -> InFlightMigration (requestId any unique string, memMiB = VM RAM,
//   cpuPercent = its demand); CloudSim-timed migrations last < 30 s, so at 300 s steps this is
//   normally empty.
// - history / frozenVms: keep your own record of past moves (PlannerPolicy passes ctx.history).
// - hosts[i].power (boot model): state, since, emptySince, powerOnsLastDay -> SnapshotHost.power
//   (times through ctx.toMs); view.power.bootTimeS is the run's boot time.
//
// What the engine needs back: MigrationRequest[] = { vm: index, host: index }, in the order they
// should start; all start at view.now. In the boot model also the power actions (toPowerActions:
// { host: index, action: on | off }), carried out before the moves; with `switchesHosts` the
// engine switches nothing by itself and refuses (counts) moves to a host that is not on. The engine refuses (and counts) moves of removed VMs and
// moves to the VM's own host; it does not enforce CPU or memory capacity (over-commitment shows
// up as SLATAH and as memOverCapacityHostS), so the planner's own limits are what keep it safe.
//
// Known mismatch to decide on: hosts are heterogeneous (G4 cores 1860 MIPS, G5 2660 MIPS) but a
// ClusterSnapshot has no core speed. A VM at 100 % of a G5 core needs 143 % of a G4 core and is
// capped at 100 % there. Either run Ballast on a homogeneous spec (DataCentreSpec with one host
// type), or add the speed ratio to the VM's cpuPercent when reasoning about a destination.

export interface PastMoveRecord {
  vm: number;
  source: number;
  destination: number;
  /** Simulated seconds. */
  startedAt: number;
}

export interface AdapterContext {
  /** Simulated seconds -> epoch ms (t = 0 maps to `epochMs`). */
  toMs(seconds: number): number;
  hostName(host: number): string;
  vmName(vm: number): string;
  /** Host CPU and memory samples, oldest first: percent of all cores / of RAM, one per step. */
  hostSamples(view: SimView, host: number, window?: number): { ts: number; cpu: number; mem: number }[];
  /** The VM's current demand as percent of one core of its host (may exceed 100 %). */
  vmCpuPercentOfCore(view: SimView, vm: number): number;
  /** Moves this adapter started so far, oldest first. */
  readonly history: readonly PastMoveRecord[];
}

export interface SnapshotPlanner<S, P> {
  /** Build the planner's input (Ballast: a ClusterSnapshot) from the simulator's view. */
  toSnapshot(view: SimView, ctx: AdapterContext): S;
  /** Call the production planner (Ballast: plan(snapshot, policy, now)). */
  plan(snapshot: S, nowMs: number): P;
  /** The plan's moves as migrations, in start order (Ballast: Plan.moves by seq). */
  toMigrations(plan: P, view: SimView, ctx: AdapterContext): MigrationRequest[];
  /** The plan's power actions, in order (Ballast: Plan.power by seq). Absent: none. */
  toPowerActions?(plan: P, view: SimView, ctx: AdapterContext): PowerRequest[];
}

export interface PlannerPolicyOptions {
  name: string;
  /** Epoch ms for simulated t = 0. Default 2011-03-03T00:00:00Z (the first PlanetLab day). */
  epochMs?: number;
  /**
   * Initial placement. Default: round-robin over hosts. To compare with the CloudSim baselines
   * from the same start, pass `(v) => cloudSimPolicy("thr-mmt-0.8", "303").initialPlacement(v)`.
   */
  initialPlacement?: (view: SimView) => number[];
  /** Boot model: the planner switches hosts itself (see ConsolidationPolicy.switchesHosts). Default false. */
  switchesHosts?: boolean;
}

export function makeAdapterContext(epochMs: number, history: readonly PastMoveRecord[]): AdapterContext {
  return {
    toMs: (s) => epochMs + Math.round(s * 1000),
    hostName: (h) => `sim-host-${h}`,
    vmName: (v) => `sim-vm-${v}`,
    history,
    hostSamples(view, host, window = 30) {
      const h = view.hosts[host];
      if (!h) return [];
      const n = Math.min(window, ...h.vms.map((v) => view.vms[v]?.history.length ?? 0), window);
      const out: { ts: number; cpu: number; mem: number }[] = [];
      for (let k = n - 1; k >= 0; k--) {
        let mips = 0;
        for (const v of h.vms) {
          const vm = view.vms[v]!;
          mips += (vm.history[k] ?? 0) * vm.type.mips;
        }
        out.push({
          ts: epochMs + Math.round((view.now - k * view.interval) * 1000),
          cpu: (100 * mips) / h.totalMips,
          mem: (100 * h.memDemandMb) / h.type.ramMb,
        });
      }
      return out;
    },
    vmCpuPercentOfCore(view, vm) {
      const v = view.vms[vm];
      if (!v || v.host < 0) return 0;
      return (100 * v.requestedMips) / view.hosts[v.host]!.type.mipsPerCore;
    },
  };
}

/** A ConsolidationPolicy driven by a snapshot-based planner (Ballast's, once wired). */
export class PlannerPolicy<S, P> implements ConsolidationPolicy {
  readonly name: string;
  readonly switchesHosts: boolean;
  private readonly history: PastMoveRecord[] = [];
  private readonly ctx: AdapterContext;
  private readonly place: (view: SimView) => number[];

  constructor(
    private readonly planner: SnapshotPlanner<S, P>,
    opts: PlannerPolicyOptions,
  ) {
    this.name = opts.name;
    this.switchesHosts = opts.switchesHosts ?? false;
    this.ctx = makeAdapterContext(opts.epochMs ?? Date.UTC(2011, 2, 3), this.history);
    this.place = opts.initialPlacement ?? ((v) => v.vms.map((_, i) => i % v.hosts.length));
  }

  initialPlacement(view: SimView): number[] {
    return this.place(view);
  }

  decide(view: SimView): StepPlan {
    const snapshot = this.planner.toSnapshot(view, this.ctx);
    const plan = this.planner.plan(snapshot, this.ctx.toMs(view.now));
    const moves = this.planner.toMigrations(plan, view, this.ctx);
    for (const m of moves) {
      const vm = view.vms[m.vm];
      if (vm) this.history.push({ vm: m.vm, source: vm.host, destination: m.host, startedAt: view.now });
    }
    return { migrations: moves, power: this.planner.toPowerActions?.(plan, view, this.ctx) ?? [] };
  }
}
