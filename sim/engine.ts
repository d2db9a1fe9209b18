import {
  CLOUDSIM_DATACENTRE,
  hostTypeOf,
  migrationTimeS,
  totalMips,
  validateSpec,
  vmTypeIndex,
  type DataCentreSpec,
  type HostType,
  type VmType,
} from "./model/datacentre.js";
import { intervalEnergyJ } from "./model/power.js";
import {
  cycleStats,
  DEFAULT_BOOT_TIME_S,
  DEFAULT_SHUTDOWN_TIME_S,
  HostPowerModel,
  HostPowerError,
  INSTANT,
  RUN_START_SINCE_S,
  stateEnergyJ,
  validateBootModel,
  type BootModel,
  type BootModelOptions,
} from "./model/host-power.js";
import { allocate, CLOUDSIM_SHARES, type MigrationShares, type SchedEntry } from "./model/scheduler.js";
import { utilisationAt, withTrailingSample } from "./model/workload.js";
import type {
  ConsolidationPolicy,
  HostPowerView,
  InFlightView,
  MigrationRequest,
  PowerRequest,
  SimHostView,
  SimView,
  SimVmView,
  StepPlan,
} from "./policies/policy.js";
import type { VmTrace } from "./traces/parse.js";

// Trace-driven data-centre simulation with CloudSim 3.0.3's timing and accounting.
//
// Timeline (CloudSim's, reproduced on purpose so results can be compared):
// - t = 0: initial placement; every VM asks for its full MIPS.
// - Scheduling steps at startOffset + k·interval (0.1 + 300k s: CloudSim submits the workload at
//   0.1 s), k = 1, 2, ... while t < duration. The interval is the decision interval only: the
//   trace's own spacing is sampleInterval, and the default duration is samples × sampleInterval
//   (288 × 300 s = 86,400 s for a PlanetLab day), so a longer step never stretches the trace.
//   At each step: update every host (demand of each VM interpolated from its trace, CPU shares,
//   utilisation), integrate energy since the previous update, drop VMs whose demand is exactly 0
//   (removeIdleVms), then ask the policy and start its migrations.
// - A migration of a VM with RAM r ends r / (bw/2) seconds later. At each distinct end time the
//   data centre is updated (energy of the sub-interval, SLA state), the VM moves, and it is updated
//   again. During the copy the VM gets 90 % of its demand on the source and 10 % is reserved on
//   the destination.
//
// Metrics follow CloudSim's Helper: SLATAH pooled over hosts (time with allocated < requested
// over active time), PDM pooled over VMs (under-allocation while migrating over total requested),
// SLAV = SLATAH × PDM, ESV = energy × SLAV, plus migrations and host shutdowns.
//
// Power (model/host-power.ts). `instant` (the default) is CloudSim's: a host without CPU in use
// is off at 0 W and switching is free; the engine only counts the implicit power-ons. `boot`:
// hosts with no VM after the initial placement start off; a host switched on boots for
// bootTimeS, one switched off shuts down for shutdownTimeS, both at idle power, and an on host
// draws idle power even when empty. Who switches: a policy with `switchesHosts` through its
// power actions (a migration to a host that is not on is then refused and counted); otherwise
// the engine, CloudSim-like: a host that empties is switched off once the step's (or the
// migration end's) work is done, and a migration to a host that is not on switches it on and
// waits: the VM keeps running whole on its source, reserved on the destination, and the copy
// starts when the destination is on. Transitions are events, so the energy of each interval is
// that of the state the host held through it.

export interface EngineOptions {
  /** Scheduling (decision) interval, seconds. Default 300. */
  interval?: number;
  /**
   * Spacing of the trace's samples, seconds. Default 300 (PlanetLab, GCD). The interval must be a
   * whole multiple or a whole divisor of it (otherwise steps fall at arbitrary points between samples).
   */
  sampleInterval?: number;
  /** Offset of the step grid, seconds. Default 0.1 (CloudSim). */
  startOffset?: number;
  /** Events at or after this time are not processed. Default: samples per VM × sampleInterval. */
  duration?: number;
  /** Stop after this many scheduling steps (short runs). */
  maxSteps?: number;
  /** Per-VM utilisation history kept for the policies. Default 30 (CloudSim's PowerVm). */
  historyLength?: number;
  /** Remove a VM when its CPU demand is exactly 0 (CloudSim's "completed VM"). Default true. */
  removeIdleVms?: boolean;
  /** Accept VMs the policy cannot place at t = 0 (counted as vmsUnplaced); otherwise an EngineError. Default false. */
  allowUnplaced?: boolean;
  shares?: MigrationShares;
  spec?: DataCentreSpec;
  /** Power model: "instant" (CloudSim's, the default) or "boot". */
  bootModel?: BootModel;
  /** Boot model: seconds from power-on until the host can receive VMs. Default 300. */
  bootTimeS?: number;
  /** Boot model: seconds from power-off until the host draws nothing. Default 30. */
  shutdownTimeS?: number;
}

export interface PowerMetrics {
  model: BootModel;
  /** 0 in the instant model. */
  bootTimeS: number;
  shutdownTimeS: number;
  /** Power-ons: real switchings (boot), or hosts starting to draw power again (instant, CloudSim's implicit switching). */
  powerOns: number;
  /** Power-offs: real switchings (boot), or CloudSim's host shutdowns (instant). */
  powerOffs: number;
  /** Hosts switched on at least once. */
  hostsCycled: number;
  /** Median over all hosts of power-ons per day (a run shorter than a day counts as one). */
  cyclesPerHostDayMedian: number;
  /** The same median over the hosts switched on at least once (0 when none was). */
  cyclesPerCycledHostDayMedian: number;
  /** The most power-ons one host made in one calendar day. */
  cyclesPerHostDayMax: number;
  /** Energy drawn while booting and shutting down, kWh (part of energyKWh; 0 in the instant model). */
  switchingEnergyKWh: number;
  /** Migrations that waited for their destination to boot (boot model, engine switching). */
  waitedMigrations: number;
  /** Migrations refused because their destination was not on (boot model, policy switching). */
  refusedMigrations: number;
  /** Power actions refused (host not found, off for a host with VMs or not on, on for a host already on or booting). */
  refusedPowerActions: number;
}

export interface RunMetrics {
  policy: string;
  hosts: number;
  /** VMs in the traces, placed or not. */
  vms: number;
  /** Spacing of the trace's samples, seconds. */
  sampleIntervalS: number;
  /** Scheduling (decision) interval, seconds. */
  stepS: number;
  /** Samples per VM × sampleIntervalS: the span the trace covers, seconds. */
  durationS: number;
  /** Simulated span actually covered by processed events, seconds. */
  simulatedS: number;
  steps: number;
  energyKWh: number;
  migrations: number;
  /** Migration requests the engine refused (unknown VM, removed VM, same host). */
  rejectedMigrations: number;
  /** Pooled SLA time per active host (CloudSim's definition), fraction. */
  slatah: number;
  /** Per-host mean of the SLA time per active host (the paper's definition), fraction. */
  slatahPerHostMean: number;
  /** Performance degradation due to migrations, pooled, fraction. */
  pdm: number;
  slav: number;
  esv: number;
  /** (requested - allocated) / requested over all VMs and time. */
  overallSlaViolation: number;
  /** Mean relative under-allocation over VM intervals that had any. */
  averageSlaViolation: number;
  hostShutdowns: number;
  /** VMs removed for good during the run because their CPU demand was exactly 0 (removeIdleVms). */
  vmsRemoved: number;
  /** VMs the policy could not place at t = 0 (only with allowUnplaced; never simulated). */
  vmsUnplaced: number;
  /** Whether CloudSim's "demand exactly 0 = finished VM" rule was on. */
  removeIdleVms: boolean;
  /** Whether memory demand was simulated (two-resource traces). The memory metrics are absent when not. */
  memorySimulated: boolean;
  /** Host-seconds with memory demand above the host's RAM (two-resource traces only). */
  memOverCapacityHostS?: number;
  /** memOverCapacityHostS / active host-seconds (two-resource traces only). */
  memOverCapacityShare?: number;
  /** Time-average (over steps) of the standard deviation of CPU utilisation over active hosts. */
  meanHostCpuStdDev: number;
  /** Same for memory utilisation (two-resource traces only). */
  meanHostMemStdDev?: number;
  meanActiveHosts: number;
  /** Migrations started per hour of the simulated day. */
  migrationsPerHour: number[];
  /** Wall-clock run time, ms. */
  wallMs: number;
  /** CPU time of this process during the run, ms (wall time is unreliable on a shared machine). */
  cpuMs: number;
  /** Power model, switchings and power cycles (absent from metrics written before the boot model). */
  power?: PowerMetrics;
}

interface Entry {
  t: number;
  alloc: number;
  req: number;
  flag: boolean;
  memOver: boolean;
}

class HostState implements SimHostView {
  vms: number[] = [];
  migratingIn: number[] = [];
  utilMips = 0;
  requestedMips = 0;
  memDemandMb = 0;
  readonly totalMips: number;
  // accounting
  pend: Entry | null = null;
  prevActive = true;
  activeS = 0;
  violS = 0;
  memOverS = 0;
  shutdowns = 0;
  // power
  readonly pm = new HostPowerModel("on", RUN_START_SINCE_S);
  /** Instant model: when the committed on/off state last changed. */
  instantSince = 0;
  emptySince: number | null = null;
  /** A power-off waits for the migrations from this host started in this step (PowerRequest.afterMoves). */
  offAfterMoves = false;
  power: HostPowerView = { state: "on", since: 0, until: null, emptySince: null, powerOnsLastDay: 0 };
  constructor(
    readonly id: number,
    readonly type: HostType,
  ) {
    this.totalMips = totalMips(type);
  }
  utilFraction(): number {
    const u = this.utilMips / this.totalMips;
    return u > 1 && u < 1.01 ? 1 : u;
  }
}

// What the engine knows of a VM and shows the policies. The trace itself (its future) is not
// here: Simulation keeps it in private arrays, so a policy holding the view cannot read ahead.
class VmState implements SimVmView {
  host = -1;
  inMigration = false;
  requestedMips: number;
  memDemandMb: number;
  history: number[] = [];
  lastHistoryT = -1;
  removed = false;
  /** Boot model: the host this VM is reserved on while that host boots (its copy has not started); -1 otherwise. */
  waitingFor = -1;
  pend: Entry | null = null;
  constructor(
    readonly id: number,
    readonly name: string,
    readonly type: VmType,
  ) {
    this.requestedMips = type.mips;
    this.memDemandMb = type.ramMb;
  }
}

interface QueuedEvent {
  time: number;
  seq: number;
  kind: "step" | "migration-end" | "power";
  vm: number;
  target: number;
  startedAt: number;
  source: number;
}

export class EngineError extends Error {
  override readonly name = "EngineError";
}

export class Simulation {
  readonly interval: number;
  readonly sampleInterval: number;
  readonly allowUnplaced: boolean;
  readonly memorySimulated: boolean;
  readonly startOffset: number;
  readonly duration: number;
  readonly historyLength: number;
  readonly removeIdleVms: boolean;
  readonly shares: MigrationShares;
  readonly spec: DataCentreSpec;
  readonly power: BootModelOptions;
  readonly hosts: HostState[];
  readonly vms: VmState[];
  private readonly maxSteps: number;
  private queue: QueuedEvent[] = [];
  private seq = 0;
  private lastProcessT = 0;
  private now = 0;
  private step = 0;
  private energyJ = 0;
  /** Hosts whose last migration out ended now, with a power-off waiting for it. */
  private readonly offsDue: number[] = [];
  private migrations = 0;
  private rejected = 0;
  private vmsRemoved = 0;
  private vmsUnplaced = 0;
  // The traces (with CloudSim's trailing sample), by VM id. Private: never part of a view.
  readonly #cpu: Float64Array[];
  readonly #mem: (Float64Array | undefined)[];
  private vmTotReq = 0;
  private vmTotAlloc = 0;
  private vmUnderMig = 0;
  private slaViolSum = 0;
  private slaViolCount = 0;
  private stdCpuSum = 0;
  private stdMemSum = 0;
  private activeSum = 0;
  private readonly perHour: number[];
  private readonly entriesScratch: SchedEntry[] = [];
  // power (boot model)
  private boot = false;
  private engineSwitches = false;
  private updated = false;
  private switchingJ = 0;
  private waitedMigrations = 0;
  private refusedMigrations = 0;
  private refusedPower = 0;
  private readonly maybeEmpty = new Set<number>();

  constructor(traces: readonly VmTrace[], opts: EngineOptions = {}) {
    this.interval = opts.interval ?? 300;
    this.sampleInterval = opts.sampleInterval ?? 300;
    this.allowUnplaced = opts.allowUnplaced ?? false;
    this.startOffset = opts.startOffset ?? 0.1;
    if (!(this.sampleInterval > 0)) throw new EngineError("sample interval must be > 0");
    if (!(this.interval > 0)) throw new EngineError("interval must be > 0");
    if (!wholeRatio(this.interval, this.sampleInterval))
      throw new EngineError(
        `step ${this.interval} s and sample interval ${this.sampleInterval} s: the step must be a whole multiple or a whole divisor of the sample interval`,
      );
    const lengths = new Set(traces.map((t) => t.cpu.length));
    if (lengths.size > 1) {
      const first = traces[0]!;
      const other = traces.find((t) => t.cpu.length !== first.cpu.length)!;
      throw new EngineError(`traces differ in length: ${first.name} has ${first.cpu.length} samples, ${other.name} ${other.cpu.length}`);
    }
    const samples = traces[0]?.cpu.length ?? 0;
    this.duration = opts.duration ?? samples * this.sampleInterval;
    this.historyLength = opts.historyLength ?? 30;
    this.removeIdleVms = opts.removeIdleVms ?? true;
    this.shares = opts.shares ?? CLOUDSIM_SHARES;
    this.spec = opts.spec ?? CLOUDSIM_DATACENTRE;
    this.maxSteps = opts.maxSteps ?? Number.POSITIVE_INFINITY;
    this.power =
      (opts.bootModel ?? "instant") === "instant"
        ? { ...INSTANT }
        : { model: "boot", bootTimeS: opts.bootTimeS ?? DEFAULT_BOOT_TIME_S, shutdownTimeS: opts.shutdownTimeS ?? DEFAULT_SHUTDOWN_TIME_S };
    if (opts.bootModel !== undefined && opts.bootModel !== "instant" && opts.bootModel !== "boot")
      throw new EngineError(`boot model must be instant or boot, not ${String(opts.bootModel)}`);
    try {
      validateBootModel(this.power);
    } catch (e) {
      if (e instanceof HostPowerError) throw new EngineError(e.message, { cause: e });
      throw e;
    }
    this.boot = this.power.model === "boot";
    validateSpec(this.spec);
    this.hosts = [];
    for (let i = 0; i < this.spec.hostCount; i++) this.hosts.push(new HostState(i, hostTypeOf(this.spec, i)));
    const n = traces.length;
    const nt = this.spec.vmTypes.length;
    if (this.spec.vmTypesPerVm && this.spec.vmTypesPerVm.length !== n)
      throw new EngineError(`vmTypesPerVm has ${this.spec.vmTypesPerVm.length} types for ${n} VMs`);
    this.vms = traces.map((t, i) => {
      const type = this.spec.vmTypesPerVm?.[i] ?? this.spec.vmTypes[Math.min(vmTypeIndex(i, n, nt), nt - 1)]!;
      return new VmState(i, t.name, type);
    });
    this.#cpu = traces.map((t) => withTrailingSample(t.cpu));
    this.#mem = traces.map((t) => (t.mem ? withTrailingSample(t.mem) : undefined));
    this.memorySimulated = traces.some((t) => t.mem !== undefined);
    this.perHour = new Array<number>(Math.max(1, Math.ceil(this.duration / 3600))).fill(0);
  }

  /** Runs the whole simulation with `policy` and returns the metrics. */
  run(policy: ConsolidationPolicy): RunMetrics {
    const wall0 = performance.now();
    const cpu0 = process.cpuUsage();
    this.engineSwitches = this.boot && policy.switchesHosts !== true;
    this.placeInitially(policy);
    this.push({ time: this.startOffset + this.interval, kind: "step", vm: -1, target: -1, startedAt: 0, source: -1 });
    while (this.queue.length > 0) {
      const ev = this.queue[0]!;
      if (ev.time >= this.duration) break;
      this.queue.shift();
      this.now = ev.time;
      if (ev.kind === "step") {
        this.onStep(policy, ev.time);
      } else if (ev.kind === "power") {
        this.onPowerEnd(ev);
      } else {
        this.onMigrationEnd(ev);
      }
    }
    const cpu = process.cpuUsage(cpu0);
    return this.finish(policy.name, performance.now() - wall0, (cpu.user + cpu.system) / 1000);
  }

  view(): SimView {
    const inFlight: InFlightView[] = [];
    for (const e of this.queue) {
      if (e.kind === "migration-end") inFlight.push({ vm: e.vm, source: e.source, destination: e.target, startedAt: e.startedAt, endsAt: e.time });
    }
    for (const h of this.hosts) h.power = this.powerView(h);
    return { now: this.now, step: this.step, interval: this.interval, power: this.power, hosts: this.hosts, vms: this.vms, inFlight };
  }

  private powerView(h: HostState): HostPowerView {
    const base = { emptySince: h.emptySince, powerOnsLastDay: h.pm.powerOnsWithinDay(this.now) };
    if (this.boot) return { state: h.pm.state, since: h.pm.since, until: h.pm.until, ...base };
    // Instant: the state of the latest update, which may not be committed yet (commitHost).
    const p = h.pend;
    if (!p) return { state: "on", since: 0, until: null, ...base };
    return { state: p.flag ? "on" : "off", since: p.flag !== h.prevActive ? p.t : h.instantSince, until: null, ...base };
  }

  // ---------------------------------------------------------------- events

  private push(e: Omit<QueuedEvent, "seq">): void {
    const ev: QueuedEvent = { ...e, seq: this.seq++ };
    // insertion keeping (time, seq) order; queues are short
    let lo = 0;
    let hi = this.queue.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const q = this.queue[mid]!;
      if (q.time < ev.time || (q.time === ev.time && q.seq < ev.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.queue.splice(lo, 0, ev);
  }

  private placeInitially(policy: ConsolidationPolicy): void {
    for (const vm of this.vms) {
      vm.requestedMips = vm.type.mips;
      vm.memDemandMb = vm.type.ramMb;
    }
    const placement = policy.initialPlacement(this.view());
    if (placement.length !== this.vms.length) throw new EngineError(`initial placement has ${placement.length} entries for ${this.vms.length} VMs`);
    for (let i = 0; i < placement.length; i++) {
      const h = placement[i]!;
      const vm = this.vms[i]!;
      if (h < 0 || h >= this.hosts.length) {
        vm.removed = true;
        this.vmsUnplaced++;
        continue;
      }
      vm.host = h;
      this.hosts[h]!.vms.push(i);
    }
    for (const h of this.hosts) {
      this.noteContents(h, 0);
      // Boot model: the comparison is about switching during the run, so hosts the placement
      // left empty start off (as if switched off before t = 0) rather than on and idle.
      if (this.boot && h.vms.length === 0) h.pm.state = "off";
    }
    if (this.vmsUnplaced > 0 && !this.allowUnplaced) {
      const names = this.vms.filter((v) => v.removed).map((v) => v.name);
      throw new EngineError(
        `${this.vmsUnplaced} of ${this.vms.length} VMs fit on no host at t = 0 (first: ${names.slice(0, 3).join(", ")}); add hosts, shrink the VM types, or allow it (--allow-unplaced)`,
      );
    }
  }

  private onStep(policy: ConsolidationPolicy, t: number): void {
    this.step++;
    this.fullUpdate(t, true);
    this.stepStats();
    const decided = policy.decide(this.view());
    const plan: StepPlan = isStepPlan(decided) ? decided : { migrations: decided, power: [] };
    // The instant model has no switching to do: a policy's power actions change nothing there.
    if (this.boot) for (const p of plan.power) this.applyPower(p, t);
    for (const r of plan.migrations) this.startMigration(r, t);
    if (this.boot) this.checkOffsAfterMoves(t);
    if (this.engineSwitches) {
      for (const h of this.hosts) this.maybeEmpty.add(h.id);
      this.switchOffEmptied(t);
    }
    if (this.step < this.maxSteps) {
      this.push({ time: t + this.interval, kind: "step", vm: -1, target: -1, startedAt: 0, source: -1 });
    }
  }

  private startMigration(r: MigrationRequest, t: number): void {
    const vm = this.vms[r.vm];
    const target = this.hosts[r.host];
    // A VM waiting for its destination to boot is already on its way.
    if (!vm || !target || vm.removed || vm.host < 0 || vm.host === r.host || vm.waitingFor >= 0) {
      this.rejected++;
      return;
    }
    if (this.boot && target.pm.state !== "on") {
      if (!this.engineSwitches) {
        this.refusedMigrations++;
        return;
      }
      this.waitForBoot(vm, target, t);
      return;
    }
    vm.inMigration = true;
    if (target.offAfterMoves) this.dropOffAfterMoves(target);
    if (!target.migratingIn.includes(vm.id)) {
      target.migratingIn.push(vm.id);
      target.vms.push(vm.id);
    }
    this.updateHost(target, t, true);
    this.updateHost(this.hosts[vm.host]!, t, true);
    this.noteContents(target, t);
    this.countMigration(t);
    this.push({
      time: t + migrationTimeS(vm.type.ramMb, target.type.bwKbit),
      kind: "migration-end",
      vm: vm.id,
      target: target.id,
      startedAt: t,
      source: vm.host,
    });
  }

  private countMigration(t: number): void {
    this.migrations++;
    const hour = Math.min(this.perHour.length - 1, Math.floor(t / 3600));
    this.perHour[hour] = (this.perHour[hour] ?? 0) + 1;
  }

  // ---------------------------------------------------------------- power (boot model)

  /**
   * Engine switching: the destination is switched on (or stays booting) and the VM is reserved
   * there, shown as migrating so no policy picks it again, while it keeps running whole on its
   * source; its copy starts when the destination is on (onPowerEnd).
   */
  private waitForBoot(vm: VmState, target: HostState, t: number): void {
    this.switchOn(target, t);
    vm.inMigration = true;
    vm.waitingFor = target.id;
    if (!target.migratingIn.includes(vm.id)) {
      target.migratingIn.push(vm.id);
      target.vms.push(vm.id);
    }
    this.noteContents(target, t);
    this.waitedMigrations++;
    this.countMigration(t);
  }

  /**
   * Power-offs after moves (PowerRequest.afterMoves), once the step's migrations have started:
   * kept only for hosts every VM of which is leaving and to which none is coming; a host already
   * empty (its VMs ended while leaving) is switched off now.
   */
  private checkOffsAfterMoves(t: number): void {
    for (const h of this.hosts) {
      if (!h.offAfterMoves) continue;
      if (h.migratingIn.length > 0 || h.vms.some((v) => !this.vms[v]!.inMigration)) this.dropOffAfterMoves(h);
      else if (h.vms.length === 0) {
        h.offAfterMoves = false;
        this.applyPower({ host: h.id, action: "off" }, t);
      }
    }
  }

  private dropOffAfterMoves(h: HostState): void {
    h.offAfterMoves = false;
    this.refusedPower++;
  }

  private applyPower(p: PowerRequest, t: number): void {
    const h = this.hosts[p.host];
    if (!h) {
      this.refusedPower++;
      return;
    }
    if (p.action === "on") {
      if (this.switchOn(h, t) === "refused") this.refusedPower++;
      return;
    }
    if (p.afterMoves === true && h.vms.length > 0 && h.pm.state === "on") {
      h.offAfterMoves = true;
      return;
    }
    // A VM placed or arriving since the policy looked: the host is no longer empty.
    if (h.vms.length > 0 || h.pm.switchOff(t, this.power.shutdownTimeS) === "refused") {
      this.refusedPower++;
      return;
    }
    this.push({ time: h.pm.until!, kind: "power", vm: -1, target: h.id, startedAt: t, source: -1 });
  }

  private switchOn(h: HostState, t: number): "started" | "queued" | "refused" {
    const r = h.pm.switchOn(t, this.power.bootTimeS);
    if (r === "started") this.push({ time: h.pm.until!, kind: "power", vm: -1, target: h.id, startedAt: t, source: -1 });
    return r;
  }

  /** A boot or shutdown ends: the energy up to now is that of the old state, then the host changes. */
  private onPowerEnd(ev: QueuedEvent): void {
    const t = ev.time;
    if (t > this.lastProcessT) this.fullUpdate(t, false);
    const h = this.hosts[ev.target]!;
    const state = h.pm.complete(t, this.power.bootTimeS);
    if (state === "booting") this.push({ time: h.pm.until!, kind: "power", vm: -1, target: h.id, startedAt: t, source: -1 });
    if (state === "on") {
      const sources = new Set<number>();
      for (const v of [...h.vms]) {
        const vm = this.vms[v]!;
        if (vm.waitingFor !== h.id) continue;
        vm.waitingFor = -1;
        sources.add(vm.host);
        this.push({ time: t + migrationTimeS(vm.type.ramMb, h.type.bwKbit), kind: "migration-end", vm: vm.id, target: h.id, startedAt: t, source: vm.host });
      }
      if (sources.size > 0) {
        this.updateHost(h, t, false);
        for (const s of sources) this.updateHost(this.hosts[s]!, t, false);
      }
      // Booted for nothing (its VMs went elsewhere): an engine-switched host goes off again.
      this.maybeEmpty.add(h.id);
    }
    if (this.engineSwitches) this.switchOffEmptied(t);
  }

  /** Engine switching: hosts that are on and hold no VM (none placed, none arriving) are switched off. */
  private switchOffEmptied(t: number): void {
    for (const id of this.maybeEmpty) {
      const h = this.hosts[id]!;
      if (h.vms.length === 0 && h.pm.switchOff(t, this.power.shutdownTimeS) === "started")
        this.push({ time: h.pm.until!, kind: "power", vm: -1, target: h.id, startedAt: t, source: -1 });
    }
    this.maybeEmpty.clear();
  }

  private noteContents(h: HostState, t: number): void {
    if (h.vms.length > 0) h.emptySince = null;
    else h.emptySince ??= t;
  }

  private onMigrationEnd(ev: QueuedEvent): void {
    const t = ev.time;
    if (t > this.lastProcessT) this.fullUpdate(t, false);
    const vm = this.vms[ev.vm]!;
    const target = this.hosts[ev.target]!;
    if (!vm.removed) {
      if (vm.host >= 0) {
        const source = this.hosts[vm.host]!;
        removeFrom(source.vms, vm.id);
        this.noteContents(source, t);
        this.maybeEmpty.add(source.id);
        if (source.offAfterMoves && source.vms.length === 0) {
          source.offAfterMoves = false;
          this.offsDue.push(source.id);
        }
      }
      removeFrom(target.migratingIn, vm.id);
      removeFrom(target.vms, vm.id);
      vm.inMigration = false;
      target.vms.push(vm.id);
      vm.host = target.id;
    }
    const next = this.queue[0];
    if (!next || next.kind !== "migration-end" || next.time !== t) {
      this.fullUpdate(t, false);
      // After the update, so the interval up to now is drawn in the old state (when another
      // migration ends at the same time, its update comes first).
      for (const id of this.offsDue.splice(0)) this.applyPower({ host: id, action: "off" }, t);
    }
    if (this.engineSwitches) this.switchOffEmptied(t);
  }

  // ---------------------------------------------------------------- data centre update

  private fullUpdate(t: number, isStep: boolean): void {
    const dt = t - this.lastProcessT;
    const prev = new Float64Array(this.hosts.length);
    for (const h of this.hosts) {
      prev[h.id] = h.utilFraction();
      this.updateHost(h, t, isStep);
    }
    if (dt > 0 && !this.boot) {
      for (const h of this.hosts) this.energyJ += intervalEnergyJ(h.type.power, prev[h.id]!, h.utilFraction(), dt);
    }
    // Boot model: the state each host held since the last update. Before the first update no
    // utilisation was measured and nothing is counted, as in the instant model (CloudSim's), so
    // the two models differ by switching only.
    if (dt > 0 && this.boot && this.updated) {
      for (const h of this.hosts) {
        const j = stateEnergyJ(h.pm.state, h.type.power, prev[h.id]!, h.utilFraction(), dt);
        this.energyJ += j;
        if (h.pm.state === "booting" || h.pm.state === "shutting_down") this.switchingJ += j;
      }
    }
    this.updated = true;
    if (this.removeIdleVms) {
      for (const h of this.hosts) {
        if (h.vms.length === 0) continue;
        const done = h.vms.filter((v) => {
          const vm = this.vms[v]!;
          return !vm.inMigration && vm.requestedMips === 0;
        });
        for (const v of done) this.removeVm(this.vms[v]!);
      }
    }
    this.lastProcessT = t;
  }

  private removeVm(vm: VmState): void {
    if (vm.host >= 0) {
      const h = this.hosts[vm.host]!;
      removeFrom(h.vms, vm.id);
      this.noteContents(h, this.now);
      this.maybeEmpty.add(h.id);
    }
    vm.host = -1;
    vm.removed = true;
    this.vmsRemoved++;
  }

  private updateVm(vm: VmState, t: number, isStep: boolean): void {
    const u = utilisationAt(this.#cpu[vm.id]!, t, this.sampleInterval);
    vm.requestedMips = u * vm.type.mips;
    const mem = this.#mem[vm.id];
    vm.memDemandMb = mem ? utilisationAt(mem, t, this.sampleInterval) * vm.type.ramMb : vm.type.ramMb;
    if (isStep && t > vm.lastHistoryT) {
      vm.history.unshift(u);
      if (vm.history.length > this.historyLength) vm.history.length = this.historyLength;
      vm.lastHistoryT = t;
    }
  }

  private updateHost(h: HostState, t: number, isStep: boolean): void {
    const entries = this.entriesScratch;
    entries.length = 0;
    let mem = 0;
    // A VM reserved on a host that is still booting is not there yet (boot model): it is left
    // out of the host's update and runs whole on its source.
    const ids = this.boot ? h.vms.filter((v) => this.vms[v]!.waitingFor !== h.id) : h.vms;
    const n = ids.length;
    for (let i = 0; i < n; i++) {
      const vm = this.vms[ids[i]!]!;
      this.updateVm(vm, t, isStep);
      const migIn = h.migratingIn.length > 0 && h.migratingIn.includes(vm.id);
      entries.push({ request: vm.requestedMips, migratingIn: migIn, migratingOut: vm.inMigration && !migIn && vm.waitingFor < 0 });
      mem += vm.memDemandMb;
    }
    const a = allocate(entries, h.type.mipsPerCore, h.totalMips, this.shares);
    let util = 0;
    let req = 0;
    for (let i = 0; i < n; i++) {
      const vm = this.vms[ids[i]!]!;
      const e = entries[i]!;
      let alloc = a.alloc[i]!;
      if (!e.migratingIn) {
        // e.migratingOut: in migration and copying (not waiting for a boot).
        this.recordVm(vm, t, alloc, vm.requestedMips, e.migratingOut);
        if (e.migratingOut) alloc /= this.shares.sourceShare;
      }
      util += alloc;
      req += vm.requestedMips;
    }
    h.utilMips = util;
    h.requestedMips = req;
    h.memDemandMb = mem;
    this.recordHost(h, t, util, req, util > 0, mem > h.type.ramMb);
  }

  // ---------------------------------------------------------------- accounting

  private recordVm(vm: VmState, t: number, alloc: number, req: number, inMig: boolean): void {
    const p = vm.pend;
    if (p && p.t === t) {
      p.alloc = alloc;
      p.req = req;
      p.flag = inMig;
      return;
    }
    if (p) {
      const dt = t - p.t;
      this.vmTotAlloc += p.alloc * dt;
      this.vmTotReq += p.req * dt;
      if (p.alloc < p.req) {
        this.slaViolSum += (p.req - p.alloc) / p.req;
        this.slaViolCount++;
        if (p.flag) this.vmUnderMig += (p.req - p.alloc) * dt;
      }
      p.t = t;
      p.alloc = alloc;
      p.req = req;
      p.flag = inMig;
      return;
    }
    vm.pend = { t, alloc, req, flag: inMig, memOver: false };
  }

  private recordHost(h: HostState, t: number, alloc: number, req: number, active: boolean, memOver: boolean): void {
    const p = h.pend;
    if (p && p.t === t) {
      p.alloc = alloc;
      p.req = req;
      p.flag = active;
      p.memOver = memOver;
      return;
    }
    if (p) {
      this.commitHost(h, p, t);
      p.t = t;
      p.alloc = alloc;
      p.req = req;
      p.flag = active;
      p.memOver = memOver;
      return;
    }
    h.pend = { t, alloc, req, flag: active, memOver };
  }

  /** Closes the interval that starts at entry p and ends at tNext (or just books the entry). */
  private commitHost(h: HostState, p: Entry, tNext: number | null): void {
    if (tNext !== null && p.flag) {
      const dt = tNext - p.t;
      h.activeS += dt;
      if (p.alloc < p.req) h.violS += dt;
      if (p.memOver) h.memOverS += dt;
    }
    if (h.prevActive && !p.flag) h.shutdowns++;
    // Instant model: CloudSim's implicit switching, a host that starts drawing power again.
    if (!this.boot && !h.prevActive && p.flag) h.pm.countPowerOn(p.t);
    if (h.prevActive !== p.flag) h.instantSince = p.t;
    h.prevActive = p.flag;
  }

  private stepStats(): void {
    let n = 0;
    let s = 0;
    let s2 = 0;
    let m = 0;
    let m2 = 0;
    for (const h of this.hosts) {
      if (h.utilMips <= 0) continue;
      n++;
      const u = h.utilMips / h.totalMips;
      s += u;
      s2 += u * u;
      const mu = h.memDemandMb / h.type.ramMb;
      m += mu;
      m2 += mu * mu;
    }
    this.activeSum += n;
    if (n > 0) {
      this.stdCpuSum += Math.sqrt(Math.max(0, s2 / n - (s / n) ** 2));
      if (this.memorySimulated) this.stdMemSum += Math.sqrt(Math.max(0, m2 / n - (m / n) ** 2));
    }
  }

  private finish(policy: string, wallMs: number, cpuMs: number): RunMetrics {
    let activeS = 0;
    let violS = 0;
    let memOverS = 0;
    let shutdowns = 0;
    let perHostSum = 0;
    let perHostN = 0;
    for (const h of this.hosts) {
      if (h.pend) this.commitHost(h, h.pend, null);
      activeS += h.activeS;
      violS += h.violS;
      memOverS += h.memOverS;
      shutdowns += h.shutdowns;
      if (h.activeS > 0) {
        perHostSum += h.violS / h.activeS;
        perHostN++;
      }
    }
    const slatah = activeS > 0 ? violS / activeS : 0;
    const pdm = this.vmTotReq > 0 ? this.vmUnderMig / this.vmTotReq : 0;
    const energyKWh = this.energyJ / (3600 * 1000);
    const slav = slatah * pdm;
    const steps = Math.max(1, this.step);
    const cycles = cycleStats(
      this.hosts.map((h) => h.pm),
      this.duration,
    );
    const power: PowerMetrics = {
      model: this.power.model,
      bootTimeS: this.power.bootTimeS,
      shutdownTimeS: this.power.shutdownTimeS,
      powerOns: cycles.powerOns,
      powerOffs: this.boot ? this.hosts.reduce((s, h) => s + h.pm.powerOffs, 0) : shutdowns,
      hostsCycled: cycles.hostsCycled,
      cyclesPerHostDayMedian: cycles.perHostDayMedian,
      cyclesPerCycledHostDayMedian: cycles.perCycledHostDayMedian,
      cyclesPerHostDayMax: cycles.perHostDayMax,
      switchingEnergyKWh: this.switchingJ / (3600 * 1000),
      waitedMigrations: this.waitedMigrations,
      refusedMigrations: this.refusedMigrations,
      refusedPowerActions: this.refusedPower,
    };
    return {
      policy,
      hosts: this.hosts.length,
      vms: this.vms.length,
      sampleIntervalS: this.sampleInterval,
      stepS: this.interval,
      durationS: this.duration,
      simulatedS: this.lastProcessT,
      steps: this.step,
      energyKWh,
      migrations: this.migrations,
      rejectedMigrations: this.rejected,
      slatah,
      slatahPerHostMean: perHostN > 0 ? perHostSum / perHostN : 0,
      pdm,
      slav,
      esv: energyKWh * slav,
      overallSlaViolation: this.vmTotReq > 0 ? (this.vmTotReq - this.vmTotAlloc) / this.vmTotReq : 0,
      averageSlaViolation: this.slaViolCount > 0 ? this.slaViolSum / this.slaViolCount : 0,
      hostShutdowns: shutdowns,
      vmsRemoved: this.vmsRemoved,
      vmsUnplaced: this.vmsUnplaced,
      removeIdleVms: this.removeIdleVms,
      memorySimulated: this.memorySimulated,
      ...(this.memorySimulated ? { memOverCapacityHostS: memOverS, memOverCapacityShare: activeS > 0 ? memOverS / activeS : 0 } : {}),
      meanHostCpuStdDev: this.stdCpuSum / steps,
      ...(this.memorySimulated ? { meanHostMemStdDev: this.stdMemSum / steps } : {}),
      meanActiveHosts: this.activeSum / steps,
      migrationsPerHour: [...this.perHour],
      wallMs,
      cpuMs,
      power,
    };
  }
}

/** True when a / b or b / a is a whole number (to within rounding). */
function wholeRatio(a: number, b: number): boolean {
  const r = a >= b ? a / b : b / a;
  return Math.abs(r - Math.round(r)) < 1e-9;
}

function isStepPlan(d: readonly MigrationRequest[] | StepPlan): d is StepPlan {
  return !Array.isArray(d);
}

function removeFrom(list: number[], v: number): void {
  const i = list.indexOf(v);
  if (i >= 0) list.splice(i, 1);
}

/** Convenience: build a Simulation and run one policy. */
export function simulate(traces: readonly VmTrace[], policy: ConsolidationPolicy, opts: EngineOptions = {}): RunMetrics {
  return new Simulation(traces, opts).run(policy);
}
