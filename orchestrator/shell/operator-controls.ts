import type { Plan } from "../../shared/schemas/plan.js";
import { PendingPlans, type PlanFate } from "./pending-plans.js";
import type { PendingPlan, PersistedState, StateSink } from "./persisted-state.js";

export { MAX_PENDING_PLANS } from "./pending-plans.js";

// What operators (and the planner's ping-pong detection) set and the cycles obey: hosts in
// maintenance, frozen VMs, the pause, and plans waiting for `approve`. Every change is written to
// the HA store (when there is one) here, in one place, so no caller can forget it. The pending
// plans, by kind, are pending-plans.ts.

export class OperatorControls {
  private readonly inMaintenance = new Set<string>();
  private readonly frozenVms = new Set<string>();
  private readonly plans: PendingPlans;
  private reason: string | undefined;

  constructor(private readonly sink: StateSink | undefined) {
    this.plans = new PendingPlans((id, p) => this.sink?.pending(id, p));
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

  /**
   * Keeps a plan for approve (as the newest of its kind; the oldest of that kind go when too many
   * pile up, and an identical plan kept before is replaced). `from`: a dry run's requester and
   * evacuation; absent, a cycle's proposal.
   */
  propose(plan: Plan, expiresAt: number, from?: Pick<PendingPlan, "dryRun" | "evacuation">): void {
    this.plans.propose({ plan, expiresAt, ...(from?.dryRun ? { dryRun: from.dryRun } : {}), ...(from?.evacuation ? { evacuation: from.evacuation } : {}) });
  }

  /**
   * The plan an id names, removed (approve applies a plan once), or undefined: its own, or the
   * identical newer plan that replaced it (the returned plan's id says which).
   */
  take(planId: string, now?: number): PendingPlan | undefined {
    return this.plans.take(planId, now);
  }

  /** Records what became of a plan taken (approve cancelled it). */
  settle(p: PendingPlan, fate: PlanFate): void {
    this.plans.settle(p, fate);
  }

  /** What became of a plan that is not pending, if it is remembered. */
  fate(planId: string): PlanFate | undefined {
    return this.plans.fate(planId);
  }

  expire(now: number): void {
    this.plans.expire(now);
  }

  /** Plans not yet expired at `now`, oldest first. */
  pending(now: number): PendingPlan[] {
    return this.plans.held().filter((p) => p.expiresAt > now);
  }

  /** Every plan kept, expired or not (status lists what is held). */
  held(): PendingPlan[] {
    return this.plans.held();
  }

  // ---- HA -----------------------------------------------------------------------------------

  /** Replaces everything with the shared state (a new leader); writes nothing back. */
  restore(st: Pick<PersistedState, "maintenance" | "frozen" | "pending" | "pausedReason">): void {
    this.inMaintenance.clear();
    for (const h of st.maintenance) this.inMaintenance.add(h);
    this.frozenVms.clear();
    for (const v of st.frozen) this.frozenVms.add(v);
    this.plans.restore(st.pending);
    this.reason = st.pausedReason;
  }

  persisted(): Pick<PersistedState, "maintenance" | "frozen" | "pending" | "pausedReason"> {
    return { maintenance: [...this.inMaintenance], frozen: [...this.frozenVms], pending: this.held(), pausedReason: this.reason };
  }
}
