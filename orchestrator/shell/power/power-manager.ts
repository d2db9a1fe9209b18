import type { Logger } from "pino";
import type { Policy } from "../../../shared/config/policy.js";
import { describeError } from "../../../shared/errors.js";
import type { DecisionCode } from "../../../shared/schemas/decision-codes.js";
import type { HostPower, PowerAction } from "../../../shared/schemas/power.js";
import type { BmcReading, FenceAttempt } from "../../../shared/schemas/recovery.js";
import type { Clock } from "../clock.js";
import { RingBuffer } from "../ring-buffer.js";
import { maxPowerOps } from "../../core/index.js";
import type { OffMode, PowerDriver } from "./power-driver.js";
import { DAY_MS, freshRecord, type PowerCall, type PowerOutcome, type StoredPower } from "./power-record.js";

// Owns the power record of every host that has a power driver: reads each host's state on start
// and every status_interval, carries out power actions (a plan's, or an operator's) and follows
// them to their end: a host switched on is booting until its agent reports again (or its deadline
// passes: failed), a host switched off is shutting_down until its interface reads off (or its
// timeout passes: failed). Just before a power-off it checks again, on the newest inventory, that
// the host holds no VM and that none is on its way there. Every driver call and its answer is kept
// (a ring buffer) and every outcome goes to the decision log. Only the leader calls drivers.
// A power-off planned after the moves that empty the host (POWER_OFF_EMPTIED) waits, in memory,
// until no migration from the host is queued or running and its agent has reported since: then
// it runs like any power-off (the same checks), or is dropped when the host still lists a VM (a
// move failed, a VM appeared). A new leader does not inherit it, and a leader that steps down
// forgets it: the host then waits power_off_after like any empty host.

/** Driver calls kept for `ballast power status`. */
const CALLS_KEPT = 500;

export interface PowerNote {
  host: string;
  code: DecisionCode;
  message: string;
  numbers: Record<string, number | string | boolean | null>;
}

export interface PowerManagerDeps {
  drivers: ReadonlyMap<string, PowerDriver>;
  clock: Clock;
  policy: () => Policy;
  statusIntervalMs: number;
  shutdownTimeoutMs: number;
  /** What the agents last reported of a host: its VMs (running or defined), capacity and when. */
  cluster: {
    metrics(host: string): { vms: readonly { name: string }[]; cpus: number; memTotalMiB: number } | undefined;
    metricsAt(host: string): number | undefined;
  };
  /** VMs queued or migrating to the host. */
  incoming(host: string): string[];
  /** VMs queued or migrating from the host. */
  outgoing(host: string): string[];
  /** Only the leader reads and switches. */
  leading(): boolean;
  log: Logger;
  /** Every change of a record (HA: written to the bucket). */
  onRecord?(r: StoredPower): void;
  /** Every outcome worth a line in the decision log. */
  onNote?(n: PowerNote): void;
}

/** A power-off waiting for the moves that empty its host. */
interface PendingOff {
  code: DecisionCode;
  by: string;
  /** When the last migration from the host was seen to end (null while one is queued or running). */
  drainedAt: number | null;
}

export class PowerManager {
  private readonly records = new Map<string, StoredPower>();
  private readonly calls = new RingBuffer<PowerCall>(CALLS_KEPT);
  private readonly lastRead = new Map<string, number>();
  private readonly lastCall = new Map<string, PowerCall>();
  /** Hosts with a driver call under way. */
  private readonly busy = new Set<string>();
  private ticking: Promise<void> | undefined;
  /** Why each host was last switched (the code of the action), for the line that says it arrived. */
  private readonly why = new Map<string, DecisionCode>();
  private readonly callListeners: ((c: PowerCall) => void)[] = [];
  /** Power-offs waiting for the moves that empty their host (POWER_OFF_EMPTIED), by host. */
  private readonly pendingOffs = new Map<string, PendingOff>();

  constructor(private readonly d: PowerManagerDeps) {
    const now = d.clock.now();
    for (const host of d.drivers.keys()) this.records.set(host, freshRecord(host, now));
  }

  /** Hosts with a power driver, sorted. */
  hosts(): string[] {
    return [...this.records.keys()].sort();
  }

  managed(host: string): boolean {
    return this.d.drivers.has(host);
  }

  driverKind(host: string): PowerDriver["kind"] | undefined {
    return this.d.drivers.get(host)?.kind;
  }

  record(host: string): Readonly<StoredPower> | undefined {
    return this.records.get(host);
  }

  /** The host's newest driver call and answer. */
  lastAnswer(host: string): PowerCall | undefined {
    return this.lastCall.get(host);
  }

  /** Driver calls, newest first. */
  log(filter: { host?: string; limit: number }): PowerCall[] {
    return this.calls.newest(filter.limit, (c) => filter.host === undefined || c.host === filter.host);
  }

  /** What the planner is told of a managed host (the snapshot's SnapshotHost.power). */
  power(host: string, now = this.d.clock.now()): HostPower | undefined {
    const r = this.records.get(host);
    if (!r) return undefined;
    return {
      state: r.state,
      since: r.since,
      switchable: true,
      emptySince: r.emptySince,
      cyclesToday: r.onTimes.filter((t) => t > now - DAY_MS).length,
      bootDeadline: r.bootDeadline,
      failed: r.failed,
    };
  }

  /** Hosts being switched (or with a driver call under way): they count against max_power_ops. */
  inTransition(): string[] {
    return this.hosts().filter((h) => this.busy.has(h) || this.records.get(h)!.state === "booting" || this.records.get(h)!.state === "shutting_down");
  }

  /**
   * Brings the records up to date with what the agents reported: a booting host whose agent
   * reported since the power-on is on, one past its deadline failed; emptiness and capacity follow
   * the newest inventory. Synchronous: called before every snapshot.
   */
  observe(now = this.d.clock.now()): void {
    const policy = this.d.policy();
    for (const r of this.records.values()) {
      const m = this.d.cluster.metrics(r.host);
      const at = this.d.cluster.metricsAt(r.host);
      let changed = false;
      const set = (patch: Partial<StoredPower>): void => {
        Object.assign(r, patch);
        changed = true;
      };
      if (m && (r.cpus !== m.cpus || r.memTotalMiB !== m.memTotalMiB)) set({ cpus: m.cpus, memTotalMiB: m.memTotalMiB });
      r.onTimes = r.onTimes.filter((t) => t > now - DAY_MS);
      const reported = at !== undefined && at > r.since;
      if (r.state === "booting" && reported) {
        // An empty host counts its power_off_after from the boot, not from before it was switched off:
        // otherwise a host woken for a need is switched off again the next cycle.
        set({ state: "on", since: now, bootDeadline: null, emptySince: r.emptySince === null ? null : now });
        this.note(
          r.host,
          this.why.get(r.host) ?? "POWER_MANUAL",
          `power: ${r.host} is on: its agent reported ${Math.round((at - (r.onTimes.at(-1) ?? at)) / 1000)} s after the power-on`,
          {
            event: "booted",
          },
        );
      } else if (r.state === "booting" && r.bootDeadline !== null && now > r.bootDeadline) {
        const why = `did not report within ${policy.power_on_deadline} s of the power-on`;
        set({ state: "unknown", since: now, bootDeadline: null, failed: why });
        this.d.log.warn({ host: r.host }, `power: ${why}`);
        this.note(r.host, "POWER_BOOT_OVERDUE", `power: ${r.host} was switched on but ${why}: reported failed`, { deadlineS: policy.power_on_deadline });
      } else if (r.state === "shutting_down" && r.offDeadline !== null && now > r.offDeadline) {
        const why = `did not read off within ${this.d.shutdownTimeoutMs / 1000} s of the power-off`;
        set({ state: "unknown", since: now, offDeadline: null, failed: why });
        this.d.log.warn({ host: r.host }, `power: ${why}`);
        this.note(r.host, "POWER_HOST_FAILED", `power: ${r.host} ${why}: reported failed`, { timeoutS: this.d.shutdownTimeoutMs / 1000 });
      } else if ((r.state === "off" || r.state === "unknown") && reported && this.lastCall.get(r.host)?.operation !== "off") {
        // An agent reporting after the host was read off: someone switched it on (a host that was
        // only unknown may have run all along: its empty time goes on).
        set({ state: "on", since: now, ...(r.state === "off" && r.emptySince !== null ? { emptySince: now } : {}) });
      }
      if (m) {
        const holds = m.vms.length > 0 || this.d.incoming(r.host).length > 0;
        if (holds && r.emptySince !== null) set({ emptySince: null });
        else if (!holds && r.emptySince === null) set({ emptySince: now });
      }
      if (changed) this.d.onRecord?.(r);
    }
  }

  /**
   * The periodic work (the leader's timer): observe, read the hosts being switched off, and read
   * every host whose state was not read for status_interval (all of them on the first call).
   */
  tick(): Promise<void> {
    if (!this.ticking)
      this.ticking = this.runTick().finally(() => {
        this.ticking = undefined;
      });
    return this.ticking;
  }

  private async runTick(): Promise<void> {
    if (!this.d.leading()) {
      // Judged by a plan of this leadership: a later one must not carry it out on a stale reserve.
      this.pendingOffs.clear();
      return;
    }
    const now = this.d.clock.now();
    this.observe(now);
    const due = this.hosts().filter((h) => {
      if (this.busy.has(h)) return false;
      const r = this.records.get(h)!;
      const last = this.lastRead.get(h);
      return r.state === "shutting_down" || r.state === "unknown" || last === undefined || now - last >= this.d.statusIntervalMs;
    });
    await Promise.all(due.map((h) => this.readState(h, "status poll")));
    this.observe(this.d.clock.now());
    await this.settlePendingOffs();
  }

  /** Hosts whose power-off waits for the moves that empty them. */
  pendingOff(): string[] {
    return [...this.pendingOffs.keys()].sort();
  }

  /**
   * Runs each waiting power-off whose moves are over and whose host's agent reported since (the
   * usual checks then refuse it if a VM is still listed there), or drops it: the host is no longer
   * on, or its agent did not report within stale_after of the last move's end.
   */
  private async settlePendingOffs(): Promise<void> {
    for (const [host, p] of [...this.pendingOffs]) {
      const now = this.d.clock.now();
      const r = this.records.get(host)!;
      if (r.state !== "on") {
        this.pendingOffs.delete(host);
        this.note(host, "POWER_NOT_NEEDED", `power: the power-off of ${host} after its moves is dropped: the host is ${r.state} now`, { event: "dropped" });
        continue;
      }
      if (this.d.outgoing(host).length > 0) {
        p.drainedAt = null;
        continue;
      }
      p.drainedAt ??= now;
      const at = this.d.cluster.metricsAt(host);
      if (at === undefined || at <= p.drainedAt) {
        const staleMs = this.d.policy().stale_after * 1000;
        if (now - p.drainedAt <= staleMs) continue;
        this.pendingOffs.delete(host);
        this.note(
          host,
          "POWER_UNSETTLED",
          `power: the power-off of ${host} after its moves is dropped: its agent has not reported in the ${this.d.policy().stale_after} s since they ended, so whether it is empty is not known (it waits power_off_after like any empty host)`,
          { event: "dropped", stale_after: this.d.policy().stale_after },
        );
        continue;
      }
      this.pendingOffs.delete(host);
      await this.switchOff(host, "soft", p.by, p.code);
    }
  }

  /** Reads one host's power state and folds the answer into its record. */
  async readState(host: string, by: string): Promise<void> {
    const driver = this.d.drivers.get(host);
    const r = this.records.get(host);
    if (!driver || !r) return;
    this.busy.add(host);
    try {
      const s = await driver.status();
      const now = this.d.clock.now();
      this.lastRead.set(host, now);
      this.remember({ at: now, host, operation: "status", ok: true, detail: `${s.state}: ${s.detail}`, by });
      const before = r.state;
      if (s.state === "off" && before !== "off" && before !== "booting") {
        Object.assign(r, { state: "off", since: now, offDeadline: null });
        // An on host that reads off without a power-off from Ballast lost its power (or was switched
        // off by hand): its VMs may be waiting for recovery, so the automation must not switch it on
        // again by itself (a reserve power-on would bring the old host back mid-recovery).
        if (before === "on") {
          r.failed =
            "read off without a power-off from Ballast (a power loss, or switched off by hand): not switched on automatically until an operator runs ballast power on";
          this.d.log.warn({ host }, `power: ${host} ${r.failed}`);
          this.note(host, "POWER_HOST_FAILED", `power: ${host} ${r.failed}`, { event: "unexpected_off" });
        }
        if (before === "shutting_down") this.note(host, this.why.get(host) ?? "POWER_MANUAL", `power: ${host} is off (${s.detail})`, { event: "off" });
        this.d.onRecord?.(r);
      } else if (s.state === "on" && (before === "unknown" || before === "off")) {
        Object.assign(r, { state: "on", since: now });
        this.d.onRecord?.(r);
      }
    } catch (e) {
      const now = this.d.clock.now();
      this.lastRead.set(host, now);
      this.remember({ at: now, host, operation: "status", ok: false, detail: describeError(e), by });
      // An off host whose BMC does not answer is not known to be off any more. An on host stays on:
      // its agent is the better witness (and a silent agent makes it stale like any host), and a
      // host flapping between on and unknown with its BMC would never be judged for power-off,
      // where the failure belongs (POWER_HOST_FAILED). A switch under way has its own deadline.
      if (r.state === "off") {
        Object.assign(r, { state: "unknown", since: now });
        this.d.onRecord?.(r);
      }
    } finally {
      this.busy.delete(host);
    }
  }

  /**
   * Host failure: reads a silent host's power state for the failure judge (on, off, or failed when
   * the BMC does not answer), recorded like every call. Undefined: the host has no driver.
   */
  async readBmc(host: string, by: string): Promise<BmcReading | undefined> {
    const driver = this.d.drivers.get(host);
    if (!driver || !this.records.has(host)) return undefined;
    try {
      const s = await driver.status();
      const at = this.d.clock.now();
      this.remember({ at, host, operation: "status", ok: true, detail: `${s.state}: ${s.detail}`, by });
      return { reading: s.state, at };
    } catch (e) {
      const at = this.d.clock.now();
      const error = describeError(e).slice(0, 1000);
      this.remember({ at, host, operation: "status", ok: false, detail: error, by });
      return { reading: "failed", at, error };
    }
  }

  /**
   * Host failure: fences a failed host, a hard power-off then a read-back, and returns the attempt
   * for the fence gate. Unlike switchOff it ignores the host's last inventory (a dead host's still
   * lists its VMs: that is why it is fenced) and max_power_ops (a fence waits for nothing). A host
   * read back off is marked failed, so that power management never switches it on by itself: its
   * VMs may run elsewhere now, and only an operator brings it back.
   */
  async fence(host: string, by: string): Promise<FenceAttempt | undefined> {
    const driver = this.d.drivers.get(host);
    const r = this.records.get(host);
    if (!driver || !r) return undefined;
    this.busy.add(host);
    const at = this.d.clock.now();
    try {
      try {
        const a = await driver.off("hard");
        this.remember({ at: this.d.clock.now(), host, operation: "off", ok: true, detail: `hard (fence): ${a.detail}`, by });
      } catch (e) {
        const error = describeError(e).slice(0, 1000);
        this.remember({ at: this.d.clock.now(), host, operation: "off", ok: false, detail: `hard (fence): ${error}`, by });
        return { by: "driver", at, result: "failed", readBackAt: null, error };
      }
      let s;
      try {
        s = await driver.status();
      } catch (e) {
        const readBackAt = this.d.clock.now();
        const error = `read-back failed: ${describeError(e)}`.slice(0, 1000);
        this.remember({ at: readBackAt, host, operation: "status", ok: false, detail: error, by });
        return { by: "driver", at, result: "not_off", readBackAt, error };
      }
      const readBackAt = this.d.clock.now();
      this.remember({ at: readBackAt, host, operation: "status", ok: true, detail: `${s.state}: ${s.detail}`, by });
      if (s.state !== "off") return { by: "driver", at, result: "not_off", readBackAt, error: `read back ${s.state}: ${s.detail}`.slice(0, 1000) };
      Object.assign(r, { state: "off", since: readBackAt, offDeadline: null, bootDeadline: null, failed: `fenced after a host failure (${by})` });
      this.d.onRecord?.(r);
      return { by: "driver", at, result: "off", readBackAt };
    } finally {
      this.busy.delete(host);
    }
  }

  /**
   * Carries out power actions in order, each judged again now: max_power_ops, the host's state,
   * and for a power-off the host's newest inventory. Never throws: each action has an outcome.
   */
  async execute(actions: readonly PowerAction[], by: string): Promise<PowerOutcome[]> {
    const out: PowerOutcome[] = [];
    for (const a of actions) {
      if (a.action === "off" && a.afterMoves.length > 0) {
        out.push(this.offAfterMoves(a, by));
        continue;
      }
      try {
        out.push(
          a.action === "on"
            ? await this.switchOn(a.host, by, { automatic: a.code !== "POWER_MANUAL", code: a.code })
            : await this.switchOff(a.host, a.numbers["force"] === true ? "hard" : "soft", by, a.code),
        );
      } catch (e) {
        out.push({ host: a.host, action: a.action, result: "failed", detail: describeError(e) });
      }
    }
    return out;
  }

  /** Keeps a power-off for when the moves that empty its host are over (settlePendingOffs). */
  private offAfterMoves(a: PowerAction, by: string): PowerOutcome {
    const r = this.records.get(a.host);
    if (!r)
      return this.outcome(
        { host: a.host, action: "off", result: "refused", detail: `${a.host} has no power driver (not in the power inventory)` },
        "POWER_NO_DRIVER",
      );
    if (r.state !== "on")
      return this.outcome({ host: a.host, action: "off", result: "skipped", detail: `${a.host} is ${r.state}, not on` }, "POWER_NOT_NEEDED");
    this.pendingOffs.set(a.host, { code: a.code, by, drainedAt: null });
    return {
      host: a.host,
      action: "off",
      result: "pending",
      detail: `switched off once its ${a.afterMoves.length} move(s) are over and its agent reports it empty`,
    };
  }

  /** Why a power-off of the host would be refused now (a VM it holds or that is on its way), or undefined. */
  offRefusal(host: string): { why: string; vms: string[] } | undefined {
    const m = this.d.cluster.metrics(host);
    if (m && m.vms.length > 0) {
      const vms = m.vms.map((v) => v.name).sort();
      return { why: `VM ${vms.join(", ")} appeared (the host's newest inventory lists ${vms.length === 1 ? "it" : "them"})`, vms };
    }
    const incoming = this.d.incoming(host).sort();
    if (incoming.length > 0) return { why: `VM ${incoming.join(", ")} is migrating to it`, vms: incoming };
    return undefined;
  }

  /** Why an action cannot start now (no driver, the cap, the state), or undefined. */
  private blocked(host: string, action: "on" | "off"): [PowerOutcome, DecisionCode] | undefined {
    const r = this.records.get(host);
    if (!r) return [{ host, action, result: "refused", detail: `${host} has no power driver (not in the power inventory)` }, "POWER_NO_DRIVER"];
    if (this.busy.has(host)) return [{ host, action, result: "skipped", detail: `a power call to ${host} is under way` }, "POWER_OPS_CAP"];
    if (action === "on" && (r.state === "on" || r.state === "booting"))
      return [{ host, action, result: "skipped", detail: `${host} is ${r.state} already` }, "POWER_NOT_NEEDED"];
    if (action === "off" && (r.state === "off" || r.state === "shutting_down"))
      return [{ host, action, result: "skipped", detail: `${host} is ${r.state === "off" ? "off" : "shutting down"} already` }, "POWER_NOT_NEEDED"];
    // The same cap as the planner's: max_power_ops, or by default one in HOSTS_PER_POWER_OP switchable hosts.
    const max = maxPowerOps(this.d.policy(), this.records.size);
    const switching = this.inTransition().filter((h) => h !== host);
    if (switching.length >= max)
      return [
        { host, action, result: "skipped", detail: `max_power_ops = ${max} hosts are being switched already (${switching.join(", ")})` },
        "POWER_OPS_CAP",
      ];
    return undefined;
  }

  /** Switches a host on: booting until its agent reports. An operator's power-on clears a failure. */
  async switchOn(host: string, by: string, o: { automatic: boolean; code?: DecisionCode } = { automatic: false }): Promise<PowerOutcome> {
    const stop = this.blocked(host, "on");
    if (stop) return this.outcome(...stop);
    const r = this.records.get(host)!;
    if (o.automatic && r.failed !== null)
      return this.outcome(
        { host, action: "on", result: "skipped", detail: `${host} failed before (${r.failed}): an operator must switch it on` },
        "POWER_HOST_FAILED",
      );
    const driver = this.d.drivers.get(host)!;
    this.busy.add(host);
    try {
      const a = await driver.on();
      const now = this.d.clock.now();
      this.remember({ at: now, host, operation: "on", ok: true, detail: a.detail, by });
      const deadlineS = this.d.policy().power_on_deadline;
      Object.assign(r, { state: "booting", since: now, bootDeadline: now + deadlineS * 1000, failed: null, offDeadline: null });
      r.onTimes = [...r.onTimes.filter((t) => t > now - DAY_MS), now];
      this.d.onRecord?.(r);
      this.why.set(host, o.code ?? "POWER_MANUAL");
      return this.outcome(
        { host, action: "on", result: "done", detail: `switched on (${a.detail}); booting until its agent reports, at most ${deadlineS} s` },
        o.code ?? "POWER_MANUAL",
      );
    } catch (e) {
      return this.failure(r, "on", e, by);
    } finally {
      this.busy.delete(host);
    }
  }

  /**
   * Switches a host off (soft: a clean shutdown; hard: power cut), after checking its newest
   * inventory once more: a VM listed there, or on its way, refuses it.
   */
  async switchOff(host: string, mode: OffMode, by: string, code: DecisionCode = "POWER_MANUAL"): Promise<PowerOutcome> {
    const stop = this.blocked(host, "off");
    if (stop) return this.outcome(...stop);
    const refusal = this.offRefusal(host);
    if (refusal) {
      this.d.log.info({ host, vms: refusal.vms }, "power-off refused");
      return this.outcome({ host, action: "off", result: "refused", detail: `power-off refused: ${refusal.why}` }, "POWER_HOLDS_VMS");
    }
    const r = this.records.get(host)!;
    const driver = this.d.drivers.get(host)!;
    this.busy.add(host);
    try {
      const a = await driver.off(mode);
      const now = this.d.clock.now();
      this.remember({ at: now, host, operation: "off", ok: true, detail: `${mode}: ${a.detail}`, by });
      Object.assign(r, { state: "shutting_down", since: now, offDeadline: now + this.d.shutdownTimeoutMs, bootDeadline: null, failed: null });
      this.d.onRecord?.(r);
      this.why.set(host, code);
      return this.outcome({ host, action: "off", result: "done", detail: `${mode} power-off sent (${a.detail}); shutting down until it reads off` }, code);
    } catch (e) {
      return this.failure(r, "off", e, by);
    } finally {
      this.busy.delete(host);
    }
  }

  private failure(r: StoredPower, action: "on" | "off", e: unknown, by: string): PowerOutcome {
    const detail = describeError(e);
    const now = this.d.clock.now();
    this.remember({ at: now, host: r.host, operation: action, ok: false, detail, by });
    r.failed = `power ${action} failed: ${detail}`.slice(0, 1000);
    this.d.onRecord?.(r);
    this.d.log.warn({ host: r.host, action, err: detail }, "power call failed");
    return this.outcome({ host: r.host, action, result: "failed", detail }, "POWER_HOST_FAILED");
  }

  /** Logs an outcome in the decision log; `code` is used for the outcomes that are not done. */
  private outcome(o: PowerOutcome, code: DecisionCode): PowerOutcome {
    const verb = o.action === "on" ? "power-on" : "power-off";
    this.note(o.host, code, `${verb} of ${o.host} ${o.result}: ${o.detail}`, { action: o.action, result: o.result });
    return o;
  }

  private note(host: string, code: DecisionCode, message: string, numbers: PowerNote["numbers"]): void {
    this.d.onNote?.({ host, code, message, numbers });
  }

  private remember(c: PowerCall): void {
    this.calls.push(c);
    this.lastCall.set(c.host, c);
    for (const fn of this.callListeners) {
      try {
        fn(c);
      } catch (e) {
        this.d.log.warn({ err: describeError(e) }, "power call listener failed");
      }
    }
  }

  /** Called with every driver call and its answer (the metrics count them). */
  onCall(fn: (c: PowerCall) => void): void {
    this.callListeners.push(fn);
  }

  // ---- HA -----------------------------------------------------------------------------------

  /** Every record (the HA store's first write, tests). */
  persisted(): StoredPower[] {
    return this.hosts().map((h) => ({ ...this.records.get(h)!, onTimes: [...this.records.get(h)!.onTimes] }));
  }

  /** Continues from the records a previous leader wrote (hosts no longer in the inventory are dropped). */
  restore(records: readonly StoredPower[]): void {
    for (const r of records) if (this.records.has(r.host)) this.records.set(r.host, { ...r, onTimes: [...r.onTimes] });
  }
}
