import { powerAt, type PowerTable } from "./power.js";

// The simulator's host power model: what it costs to switch a host on and off.
//
// `instant` is CloudSim's model: a host with no CPU in use is off and draws 0 W, and switching is
// free and immediate. `boot` is a real server's: a host is on, booting, shutting down or off, a
// power-on takes bootTimeS before the host can receive VMs, a power-off takes shutdownTimeS, and
// the host draws power through both. Nothing here reads a clock: the engine passes the time.

export type BootModel = "instant" | "boot";
export type SimPowerState = "on" | "booting" | "shutting_down" | "off";

export interface BootModelOptions {
  readonly model: BootModel;
  /** Power-on to able to receive VMs, seconds (boot model). */
  readonly bootTimeS: number;
  /** Power-off to drawing nothing, seconds (boot model). */
  readonly shutdownTimeS: number;
}

/** Firmware POST, hypervisor boot and agent start on a rack server: typically 3–6 minutes. */
export const DEFAULT_BOOT_TIME_S = 300;
/**
 * A clean shutdown of a hypervisor that holds no VM: systemd stops libvirtd and the agent and
 * syncs the disks, typically 15–60 s.
 */
export const DEFAULT_SHUTDOWN_TIME_S = 30;

/**
 * When the state every host holds at t = 0 began, simulated seconds: a day before the run. A trace
 * starts in the middle of a data centre's life, so its hosts have been on (or off) for long, and a
 * policy's hysteresis (Ballast's min_on_time, min_off_time) must not treat the run's start as a
 * switching. (With `since` = 0 every host looked switched on at t = 0, and min_on_time kept every
 * host that consolidation emptied in the first hour on for that hour.)
 */
export const RUN_START_SINCE_S = -86_400;

export const INSTANT: BootModelOptions = { model: "instant", bootTimeS: 0, shutdownTimeS: 0 };

export class HostPowerError extends Error {
  override readonly name = "HostPowerError";
}

export function validateBootModel(o: BootModelOptions): void {
  if (o.model !== "instant" && o.model !== "boot") throw new HostPowerError(`boot model must be instant or boot, not ${String(o.model)}`);
  if (!(o.bootTimeS >= 0) || !Number.isFinite(o.bootTimeS)) throw new HostPowerError(`boot time must be a number of seconds >= 0, got ${o.bootTimeS}`);
  if (!(o.shutdownTimeS >= 0) || !Number.isFinite(o.shutdownTimeS))
    throw new HostPowerError(`shutdown time must be a number of seconds >= 0, got ${o.shutdownTimeS}`);
}

const DAY_S = 86_400;

/** What a switch request did. */
export type SwitchResult = "started" | "queued" | "refused";

/**
 * One host's power state over time (boot model), and its power-ons (both models). The engine
 * calls switchOn / switchOff at event times and complete() when a transition falls due.
 */
export class HostPowerModel {
  state: SimPowerState;
  /** When the host entered `state`, simulated seconds. */
  since: number;
  /** booting: when it is on; shutting_down: when it is off; otherwise null. */
  until: number | null = null;
  /** A power-on asked for while shutting down: the host boots as soon as it is off. */
  onAfterShutdown = false;
  /** Times of the power-ons, oldest first. */
  readonly powerOns: number[] = [];
  powerOffs = 0;

  constructor(state: SimPowerState, t: number) {
    this.state = state;
    this.since = t;
  }

  /** Power on: an off host starts booting; a host shutting down boots once it is off; on or booting: refused. */
  switchOn(t: number, bootTimeS: number): SwitchResult {
    if (this.state === "off") {
      this.enter("booting", t, t + bootTimeS);
      this.powerOns.push(t);
      return "started";
    }
    if (this.state === "shutting_down" && !this.onAfterShutdown) {
      this.onAfterShutdown = true;
      return "queued";
    }
    return "refused";
  }

  /** Power off: only an on host (the caller checks that it is empty). */
  switchOff(t: number, shutdownTimeS: number): SwitchResult {
    if (this.state !== "on") return "refused";
    this.enter("shutting_down", t, t + shutdownTimeS);
    this.powerOffs++;
    return "started";
  }

  /**
   * The transition due at t, if any: booting -> on, shutting_down -> off (then booting when a
   * power-on was queued). Returns the new state, or null when nothing was due.
   */
  complete(t: number, bootTimeS: number): SimPowerState | null {
    if (this.until === null || t < this.until) return null;
    if (this.state === "booting") {
      this.enter("on", t, null);
      return "on";
    }
    this.enter("off", t, null);
    if (this.onAfterShutdown) {
      this.onAfterShutdown = false;
      this.switchOn(t, bootTimeS);
      return "booting";
    }
    return "off";
  }

  /** Instant model: the engine saw the host start drawing power (CloudSim's implicit power-on). */
  countPowerOn(t: number): void {
    this.powerOns.push(t);
  }

  /** Power-ons within the 24 hours up to t (what max_power_cycles_per_day caps). */
  powerOnsWithinDay(t: number): number {
    let n = 0;
    for (let i = this.powerOns.length - 1; i >= 0 && this.powerOns[i]! > t - DAY_S; i--) if (this.powerOns[i]! <= t) n++;
    return n;
  }

  /** Power-ons in each calendar day of the run (day k = [k·86,400 s, (k+1)·86,400 s)). */
  powerOnsByDay(): Map<number, number> {
    const out = new Map<number, number>();
    for (const t of this.powerOns) {
      const d = Math.floor(t / DAY_S);
      out.set(d, (out.get(d) ?? 0) + 1);
    }
    return out;
  }

  private enter(state: SimPowerState, t: number, until: number | null): void {
    this.state = state;
    this.since = t;
    this.until = until;
  }
}

/**
 * Energy (joules) of a host over an interval it spent in one power state, boot model.
 * - on: the trapezoid of the power at the previous and the current utilisation, idle power at
 *   0 % (a powered host that holds nothing still draws table[0]: 86 W on a G4, 93.7 W on a G5).
 * - booting and shutting_down: table[0] throughout. It is the only measured figure of these
 *   machines that fits: POST and the OS boot keep the CPUs and fans busy without running guests,
 *   which servers' measurements put near idle power, and it keeps the model free of invented
 *   numbers.
 * - off: 0 W (a BMC's few standby watts are not modelled, as in CloudSim).
 */
export function stateEnergyJ(state: SimPowerState, table: PowerTable, fromU: number, toU: number, seconds: number): number {
  switch (state) {
    case "on": {
      const from = powerAt(table, fromU);
      const to = powerAt(table, toU);
      return (from + (to - from) / 2) * seconds;
    }
    case "booting":
    case "shutting_down":
      return table[0]! * seconds;
    case "off":
      return 0;
  }
}

export interface CycleStats {
  /** Power-ons over the run, all hosts. */
  powerOns: number;
  /** Hosts switched on at least once. */
  hostsCycled: number;
  /** Median over all hosts of the host's power-ons per day (power-ons / max(1, run days)). */
  perHostDayMedian: number;
  /** The same median over the hosts switched on at least once (0 when none was). */
  perCycledHostDayMedian: number;
  /** The most power-ons one host made in one calendar day of the run. */
  perHostDayMax: number;
}

/** Power cycles per host and day over a run of `durationS` seconds. */
export function cycleStats(hosts: readonly HostPowerModel[], durationS: number): CycleStats {
  const days = Math.max(1, durationS / DAY_S);
  const perDay = hosts.map((h) => h.powerOns.length / days).sort((a, b) => a - b);
  const cycledPerDay = perDay.filter((x) => x > 0);
  let max = 0;
  let total = 0;
  let cycled = 0;
  for (const h of hosts) {
    total += h.powerOns.length;
    if (h.powerOns.length > 0) cycled++;
    for (const n of h.powerOnsByDay().values()) max = Math.max(max, n);
  }
  return { powerOns: total, hostsCycled: cycled, perHostDayMedian: medianOf(perDay), perCycledHostDayMedian: medianOf(cycledPerDay), perHostDayMax: max };
}

/** Median of sorted values, 0 for none. */
function medianOf(sorted: readonly number[]): number {
  const m = sorted.length >> 1;
  return sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}
