import type { HostType, VmType } from "../model/datacentre.js";
import type { BootModelOptions, SimPowerState } from "../model/host-power.js";

// The seam between the simulator and a consolidation policy. Each scheduling step the engine hands
// the policy a read-only view of the data centre as measured at that instant and gets back the
// migrations to start now, in order. Policies never mutate the view: they plan on their own copy
// (see cloudsim/tentative.ts) and return a plan. The engine validates and executes it.

export interface SimHostView {
  readonly id: number;
  readonly type: HostType;
  /** cores × MIPS per core. */
  readonly totalMips: number;
  /**
   * VM ids on this host in the host's list order, including VMs migrating IN (they occupy RAM
   * and a 10 % CPU reservation here until the copy finishes).
   */
  readonly vms: readonly number[];
  /** VM ids currently migrating in (a subset of `vms`). */
  readonly migratingIn: readonly number[];
  /** Measured CPU use at the last update, MIPS (allocated, with migrating-out VMs counted at 100 %). */
  readonly utilMips: number;
  /** Sum of the CPU demand of the VMs on the host, MIPS (may exceed capacity). */
  readonly requestedMips: number;
  /** Sum of the memory demand of the VMs on the host, MB (only meaningful for two-resource traces). */
  readonly memDemandMb: number;
  /** The host's power state (model/host-power.ts). */
  readonly power: HostPowerView;
}

export interface HostPowerView {
  /**
   * Boot model: the host's state. Instant model: "on" while the host's last update found CPU in
   * use, else "off" (CloudSim's: an idle host is off).
   */
  readonly state: SimPowerState;
  /** When the host entered `state`, simulated seconds. */
  readonly since: number;
  /** booting: when the host will be on; shutting_down: when it will be off; otherwise null. */
  readonly until: number | null;
  /** Since when the host has held no VM (none placed, none migrating in), simulated seconds; null while it holds one. */
  readonly emptySince: number | null;
  /** Power-ons of this host within the last 24 hours. */
  readonly powerOnsLastDay: number;
}

export interface SimVmView {
  readonly id: number;
  /** Trace file name. */
  readonly name: string;
  readonly type: VmType;
  /** Host the VM runs on (the source while migrating); -1 once removed. */
  readonly host: number;
  readonly inMigration: boolean;
  /** Current CPU demand, MIPS (utilisation × the VM's MIPS; not capped). */
  readonly requestedMips: number;
  /** Current memory demand, MB (= type RAM for CPU-only traces). */
  readonly memDemandMb: number;
  /** CPU utilisation of the VM's MIPS at past scheduling steps, NEWEST FIRST, at most historyLength. */
  readonly history: readonly number[];
  /** Removed from the simulation (CloudSim treats a VM whose demand reaches exactly 0 as finished). */
  readonly removed: boolean;
}

export interface InFlightView {
  readonly vm: number;
  readonly source: number;
  readonly destination: number;
  readonly startedAt: number;
  readonly endsAt: number;
}

export interface SimView {
  /** Simulated seconds since the start. */
  readonly now: number;
  /** Scheduling step number, 1-based (0 during initial placement). */
  readonly step: number;
  readonly interval: number;
  /** The run's power model: instant (CloudSim's) or boot, with its times. */
  readonly power: BootModelOptions;
  readonly hosts: readonly SimHostView[];
  readonly vms: readonly SimVmView[];
  readonly inFlight: readonly InFlightView[];
}

export interface MigrationRequest {
  readonly vm: number;
  readonly host: number;
}

/** Switch a host on or off (boot model; ignored in the instant model, where switching is implicit). */
export interface PowerRequest {
  readonly host: number;
  readonly action: "on" | "off";
  /**
   * off: after this step's migrations from the host (Ballast's POWER_OFF_EMPTIED): the host is
   * switched off when the last of them ends and it holds no VM; dropped (and counted refused) if
   * a VM stays or arrives.
   */
  readonly afterMoves?: boolean;
}

/** What a policy may return from a step: migrations, and power actions to carry out before them. */
export interface StepPlan {
  readonly migrations: readonly MigrationRequest[];
  readonly power: readonly PowerRequest[];
}

export interface ConsolidationPolicy {
  readonly name: string;
  /**
   * Boot model only. true: the engine switches hosts only on this policy's power actions; a
   * migration to a host that is not on is refused (and counted). Absent or false (CloudSim's
   * policies): the engine switches a host off when it empties and on when a migration targets
   * it, and that migration waits until the host is on.
   */
  readonly switchesHosts?: boolean;
  /**
   * Initial placement at time 0: a host id per VM, in VM order. During this call every VM's
   * `requestedMips` is its full MIPS (CloudSim: a VM being instantiated asks for all of it).
   * Return -1 for a VM that fits nowhere (the engine reports it and drops the VM).
   */
  initialPlacement(view: SimView): number[];
  /**
   * Called once per step after the data centre was updated; returns migrations to start now (or
   * a StepPlan: power actions, carried out first, and migrations).
   */
  decide(view: SimView): readonly MigrationRequest[] | StepPlan;
}
