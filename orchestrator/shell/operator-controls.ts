import { BoundedMap } from "../../shared/bounded-map.js";
import type { Plan } from "../../shared/schemas/plan.js";
import type { PendingPlan, PersistedState, StateSink } from "./persisted-state.js";

// What operators (and the planner's ping-pong detection) set and the cycles obey: hosts in
// maintenance, frozen VMs, the pause, and plans waiting for `approve`. Every change is written to
// the HA store (when there is one) here, in one place, so no caller can forget it.

/** Plans kept for approve at most; the oldest go first when more pile up. */
export const MAX_PENDING_PLANS = 100;

export class OperatorControls {
  private readonly inMaintenance = new Set<string>();
  private readonly frozenVms = new Set<string>();
  private readonly plans: BoundedMap<string, PendingPlan>;
  private reason: string | undefined;

  constructor(private readonly sink: StateSink | undefined) {
    this.plans = new BoundedMap(MAX_PENDING_PLANS, { onEvict: (id) => this.sink?.pending(id, undefined) });
  }

  // ---- maintenance --------------------------------------------------------------------------

  get maintenance(): ReadonlySet<string> {
    return this.inMaintenance;
  }

  enterMaintenance(hosts: Iterable<string>): void {
    for (const h of hosts) this.inMaintenance.add(h);
    this.sink?.maintenance(this.inMaintenance);
  }

  /** Reopens a host; false when it was not in maintenance. */
  releaseHost(host: string): boolean {
    const was = this.inMaintenance.delete(host);
    if (was) this.sink?.maintenance(this.inMaintenance);
    return was;
  }

  // ---- frozen VMs ---------------------------------------------------------------------------

  get frozen(): ReadonlySet<string> {
    return this.frozenVms;
  }

  freeze(vms: Iterable<string>): void {
    const before = this.frozenVms.size;
    for (const v of vms) this.frozenVms.add(v);
    if (this.frozenVms.size !== before) this.sink?.frozen(this.frozenVms);
  }

  /** Unfreezes a VM; false when it was not frozen. */
  releaseVm(vm: string): boolean {
    const was = this.frozenVms.delete(vm);
    if (was) this.sink?.frozen(this.frozenVms);
    return was;
  }

  // ---- pause --------------------------------------------------------------------------------

  get pausedReason(): string | undefined {
    return this.reason;
  }

  pause(reason: string): void {
    this.reason = reason;
    this.sink?.paused(reason);
  }

  /** Resumes; true when it was paused. */
  resume(): boolean {
    const was = this.reason !== undefined;
    this.reason = undefined;
    if (was) this.sink?.paused(undefined);
    return was;
  }

  // ---- pending plans ------------------------------------------------------------------------

  /** Keeps a plan for approve (as the newest; the oldest go when too many pile up). */
  propose(plan: Plan, expiresAt: number): void {
    const entry = { plan, expiresAt };
    this.plans.set(plan.id, entry);
    this.sink?.pending(plan.id, entry);
  }

  /** The plan, removed (approve applies a plan once), or undefined. */
  take(planId: string): PendingPlan | undefined {
    const p = this.plans.get(planId);
    if (p) this.drop(planId);
    return p;
  }

  expire(now: number): void {
    for (const [id, p] of this.plans) if (p.expiresAt <= now) this.drop(id);
  }

  /** Plans not yet expired at `now`, oldest first. */
  pending(now: number): PendingPlan[] {
    return [...this.plans.values()].filter((p) => p.expiresAt > now);
  }

  /** Every plan kept, expired or not (status lists what is held). */
  held(): PendingPlan[] {
    return [...this.plans.values()];
  }

  private drop(id: string): void {
    if (this.plans.delete(id)) this.sink?.pending(id, undefined);
  }

  // ---- HA -----------------------------------------------------------------------------------

  /** Replaces everything with the shared state (a new leader); writes nothing back. */
  restore(st: Pick<PersistedState, "maintenance" | "frozen" | "pending" | "pausedReason">): void {
    this.inMaintenance.clear();
    for (const h of st.maintenance) this.inMaintenance.add(h);
    this.frozenVms.clear();
    for (const v of st.frozen) this.frozenVms.add(v);
    this.plans.clear();
    for (const p of [...st.pending].sort((a, b) => a.expiresAt - b.expiresAt)) this.plans.set(p.plan.id, p);
    this.reason = st.pausedReason;
  }

  persisted(): Pick<PersistedState, "maintenance" | "frozen" | "pending" | "pausedReason"> {
    return { maintenance: [...this.inMaintenance], frozen: [...this.frozenVms], pending: this.held(), pausedReason: this.reason };
  }
}
