import type { Logger } from "pino";
import { describeError } from "../../../shared/errors.js";
import type { PauseVmRequest, PauseVmResult } from "../../../shared/schemas/agent-api.js";
import type { DecisionCode } from "../../../shared/schemas/decision-codes.js";
import type { Numbers } from "../../../shared/schemas/numbers.js";
import type { RecoveryAlert } from "../../../shared/schemas/orchestrator-events.js";
import type { VmState } from "../../../shared/schemas/vm.js";
import type { Clock } from "../clock.js";

// A VM running on two hosts (a returning host's old copy started by hand or by its autostart before
// the agent could stop it): the copy on every host the VM's record does not name is paused, never
// destroyed or undefined, and an alert says so. What the operator then does with the paused copy
// (virsh destroy, undefine, or keep it) is theirs to decide.
//
// A live migration lists a VM on two hosts too, for a moment: the source pauses it before the
// destination resumes it, so the two are never both `running` in one instant; but one host's
// inventory may be older than the switch-over. Hence: only fresh inventories, none older than the
// VM's last migration's end, no migration of it queued or running, and both listing it `running`.

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

  /** VMs listed running by more than one fresh host, with those hosts sorted. */
  duplicates(now: number): Map<string, string[]> {
    const at = new Map<string, string[]>();
    for (const h of this.d.hostIds()) {
      if (!this.d.fresh(h, now)) continue;
      for (const v of this.d.inventory(h) ?? []) {
        if (v.state !== "running") continue;
        const hosts = at.get(v.name);
        if (hosts) hosts.push(h);
        else at.set(v.name, [h]);
      }
    }
    for (const [vm, hosts] of at) {
      if (hosts.length < 2) at.delete(vm);
      else hosts.sort();
    }
    return at;
  }

  private async run(): Promise<void> {
    if (!this.d.leading()) return;
    const now = this.d.clock.now();
    const found = this.duplicates(now);
    for (const vm of [...this.reported.keys()]) if (!found.has(vm)) this.reported.delete(vm);
    const work: Promise<void>[] = [];
    for (const [vm, hosts] of found) {
      if (this.d.migrating(vm)) {
        this.d.log.debug({ vm, hosts }, "VM listed running on two hosts while it migrates: left alone");
        continue;
      }
      // An inventory from before the VM's last switch-over still shows it where it was.
      const moved = this.d.lastMoveAt(vm);
      if (moved !== undefined && hosts.some((h) => (this.d.inventoryAt(h) ?? 0) <= moved)) continue;
      const key = hosts.join(",");
      const first = this.reported.get(vm) !== key;
      this.reported.set(vm, key);
      const recordHost = this.d.recordHost(vm);
      if (recordHost === undefined || !hosts.includes(recordHost)) {
        if (first) {
          const why = recordHost === undefined ? "no record of it" : `its record names ${recordHost}, which does not run it`;
          const message = `VM ${vm} runs on ${hosts.join(" and ")}, and ${why}: nothing is paused. Decide which copy is the right one and pause or shut down the other (virsh suspend / virsh shutdown on its host).`;
          this.d.note({ vm, code: "DUPLICATE_NO_RECORD", message, numbers: { hosts: key, recordHost: recordHost ?? null } }, now);
          this.d.alert({
            alert: "duplicate_running",
            host: null,
            code: "DUPLICATE_NO_RECORD",
            message,
            numbers: { vm, hosts: key, recordHost: recordHost ?? null },
          });
        }
        continue;
      }
      for (const h of hosts) if (h !== recordHost) work.push(this.pauseOne(vm, h, recordHost, first));
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
      if (first) this.d.note({ vm, code: "DUPLICATE_PAUSE_FAILED", message, numbers }, at);
      if (first) this.d.alert({ alert: "duplicate_running", host, code: "DUPLICATE_PAUSE_FAILED", message, numbers });
    } finally {
      this.sending.delete(key);
    }
  }
}
