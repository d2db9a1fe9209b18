import type { Logger } from "pino";
import { describeError } from "../../../shared/errors.js";
import type { PauseVmRequest, PauseVmResult } from "../../../shared/schemas/agent-api.js";
import type { DecisionCode } from "../../../shared/schemas/decision-codes.js";
import type { Numbers } from "../../../shared/schemas/numbers.js";
import type { RecoveryAlert } from "../../../shared/schemas/orchestrator-events.js";
import type { VmState } from "../../../shared/schemas/vm.js";
import type { Clock } from "../clock.js";
import { judgeDuplicates, type DuplicateVerdict } from "../../core/index.js";

// A VM running on two hosts (a returning host's old copy started by hand or by its autostart before
// the agent could stop it): the copy on every host the VM's record does not name is paused, never
// destroyed or undefined, and an alert says so. What the operator then does with the paused copy
// (virsh destroy, undefine, or keep it) is theirs to decide.
//
// Which VMs and which copies is the core's decision (orchestrator/core/duplicates.ts, with its
// care for live migrations' switch-over); this file gathers its inputs, sends the pauses, and
// notes and alerts once per incident.

export interface DuplicateGuardDeps {
  /** Hosts with an inventory. */
  hostIds(): string[];
  /** The host's newest inventory: its VMs and their states; undefined: none. */
  inventory(host: string): readonly { name: string; state: VmState }[] | undefined;
  /** When that inventory arrived, ms. */
  inventoryAt(host: string): number | undefined;
  /** The inventory is fresh (within stale_after). */
  fresh(host: string, now: number): boolean;
  /** The host the VM's record names; undefined: no record. */
  recordHost(vm: string): string | undefined;
  /** A migration of the VM is queued or running. */
  migrating(vm: string): boolean;
  /** When the VM's newest finished migration ended, ms; undefined: none known. */
  lastMoveAt(vm: string): number | undefined;
  /** Sends pause-vm to the host's agent (rejects on an error answer or no answer). */
  pause(host: string, body: PauseVmRequest): Promise<PauseVmResult>;
  leading(): boolean;
  epoch(): number | undefined;
  note(d: { vm: string; code: DecisionCode; message: string; numbers: Numbers }, at: number): void;
  alert(a: RecoveryAlert): void;
  clock: Clock;
  log: Logger;
}

export class DuplicateGuard {
  /** `vm@host` pauses being sent now. */
  private readonly sending = new Set<string>();
  /** Duplicates already reported (`vm` -> hosts joined), so one incident is one alert. */
  private readonly reported = new Map<string, string>();
  private running: Promise<void> | undefined;

  constructor(private readonly d: DuplicateGuardDeps) {}

  /** One pass (the recovery timer): a pass still running is joined, never doubled. */
  check(): Promise<void> {
    this.running ??= this.run().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** What the core makes of the newest inventories (judgeDuplicates). */
  verdicts(now: number): DuplicateVerdict[] {
    const hosts = this.d.hostIds();
    const names = new Set<string>();
    const listings = hosts.map((host) => {
      const vms = this.d.inventory(host) ?? [];
      for (const v of vms) if (v.state === "running") names.add(v.name);
      return { host, fresh: this.d.fresh(host, now), at: this.d.inventoryAt(host) ?? 0, vms };
    });
    const recordHost = new Map<string, string>();
    const migrating = new Set<string>();
    const lastMoveAt = new Map<string, number>();
    for (const vm of names) {
      const r = this.d.recordHost(vm);
      if (r !== undefined) recordHost.set(vm, r);
      if (this.d.migrating(vm)) migrating.add(vm);
      const m = this.d.lastMoveAt(vm);
      if (m !== undefined) lastMoveAt.set(vm, m);
    }
    return judgeDuplicates({ listings, recordHost, migrating, lastMoveAt });
  }

  private async run(): Promise<void> {
    if (!this.d.leading()) return;
    const now = this.d.clock.now();
    const found = this.verdicts(now);
    const current = new Set(found.map((v) => v.vm));
    for (const vm of [...this.reported.keys()]) if (!current.has(vm)) this.reported.delete(vm);
    const work: Promise<void>[] = [];
    for (const v of found) {
      const key = v.hosts.join(",");
      const first = this.reported.get(v.vm) !== key;
      this.reported.set(v.vm, key);
      if (v.code === "DUPLICATE_NO_RECORD") {
        if (first) {
          this.d.note({ vm: v.vm, code: v.code, message: v.message, numbers: v.numbers }, now);
          this.d.alert({ alert: "duplicate_running", host: null, code: v.code, message: v.message, numbers: { vm: v.vm, ...v.numbers } });
        }
        continue;
      }
      for (const h of v.pauseOn) work.push(this.pauseOne(v.vm, h, v.recordHost!, first));
    }
    await Promise.all(work);
  }

  private async pauseOne(vm: string, host: string, recordHost: string, first: boolean): Promise<void> {
    const key = `${vm}@${host}`;
    if (this.sending.has(key)) return;
    this.sending.add(key);
    const numbers = { vm, host, recordHost };
    try {
      const r = await this.d.pause(host, { vm, recordHost, epoch: this.d.epoch() ?? 0 });
      const at = this.d.clock.now();
      const message = r.paused
        ? `VM ${vm} ran on ${host} and on ${recordHost}, the host its record names: the copy on ${host} is paused (nothing destroyed). Check it, then shut it down and undefine it there (virsh destroy ${vm}; virsh undefine ${vm} on ${host}) if ${recordHost}'s copy is the right one.`
        : `VM ${vm} was listed running on ${host} and on ${recordHost}, the host its record names; ${host}'s agent paused nothing: ${r.detail}`;
      this.d.log.warn({ vm, host, recordHost, paused: r.paused, state: r.state }, message);
      // A pause that did nothing is noted once per incident, not on every pass.
      if (r.paused || first) this.d.note({ vm, code: "DUPLICATE_PAUSED", message, numbers: { ...numbers, paused: r.paused, state: r.state } }, at);
      if (first) this.d.alert({ alert: "duplicate_running", host, code: "DUPLICATE_PAUSED", message, numbers: { ...numbers, paused: r.paused } });
    } catch (e) {
      const at = this.d.clock.now();
      const message = `VM ${vm} runs on ${host} and on ${recordHost}, the host its record names; pausing it on ${host} failed (tried again on the next pass): ${describeError(e)}`;
      this.d.log.warn({ vm, host, recordHost, err: describeError(e) }, "cannot pause a VM running on two hosts");
      if (first) this.d.note({ vm, code: "DUPLICATE_PAUSED", message, numbers: { ...numbers, paused: false } }, at);
      if (first) this.d.alert({ alert: "duplicate_running", host, code: "DUPLICATE_PAUSED", message, numbers: { ...numbers, paused: false } });
    } finally {
      this.sending.delete(key);
    }
  }
}
