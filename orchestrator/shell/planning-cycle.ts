import type { Policy } from "../../shared/config/policy.js";
import type { Plan, PlanRequest } from "../../shared/schemas/plan.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { plan as makePlan } from "../core/index.js";
import type { Clock } from "./clock.js";
import type { ClusterState } from "./cluster-state.js";
import type { DecisionLog } from "./decision-log.js";
import type { EventHub } from "./event-hub.js";
import type { HostMapping } from "./host-mapping.js";
import type { MigrationReconciler } from "./migration-reconciler.js";
import type { MigrationTracker } from "./migration-tracker.js";
import type { MoveQueue } from "./move-queue.js";
import type { OperatorControls } from "./operator-controls.js";
import type { FactsView } from "./facts-store.js";
import type { IncompatiblePairs } from "./incompatible-pairs.js";
import type { PowerView } from "./cluster-state.js";
import type { PowerAction } from "../../shared/schemas/power.js";

// The cycle itself: settle stragglers, take a snapshot, run the pure planner, record every
// decision, and act on the plan per the automation level (queue its moves, or keep it for
// approve). Also the snapshot and planning every operator request goes through.

export interface CycleDeps {
  policy: Policy;
  state: ClusterState;
  tracker: MigrationTracker;
  controls: OperatorControls;
  decisions: DecisionLog;
  queue: MoveQueue;
  reconciler: MigrationReconciler;
  dispatcher: { pump(): Promise<void> };
  events: EventHub;
  clock: Clock;
  mapping: () => HostMapping;
  /** The agents' facts and the pairs libvirt refused; absent: snapshots carry none. */
  facts?: FactsView;
  pairs?: Pick<IncompatiblePairs, "forSnapshot">;
  /** Power management (power-manager.ts); absent: no power inventory. */
  power?: PowerPort;
}

/** What a cycle needs of the power manager. */
export interface PowerPort extends PowerView {
  /** Brings the power records up to date with the agents' reports (before every snapshot). */
  observe(now: number): void;
  /** Carries out power actions (the leader's, under automation full or when approved). */
  execute(actions: readonly PowerAction[], by: string): Promise<unknown>;
}

/** The CPU levels a cycle judged with, when it adapted them to the measured swing. */
interface Adapted {
  /** The policy it adapted; an adaptation made under a policy since replaced no longer applies. */
  from: Policy;
  /** That policy with the adapted CPU trigger. */
  trigger: Policy;
  why: string;
}

export class PlanningCycle {
  private last: Plan | undefined;
  private adapted: Adapted | undefined;

  constructor(private readonly d: CycleDeps) {}

  get policy(): Policy {
    return this.d.policy;
  }

  /** The policy whose load_threshold is the CPU trigger in force (adapted by the last cycle, or as configured). */
  triggerPolicy(): Policy {
    return this.currentAdaptation()?.trigger ?? this.d.policy;
  }

  /** Which CPU levels the last cycle judged with, in words. */
  cpuLevels(): string {
    return this.currentAdaptation()?.why ?? `as configured (load_threshold ${this.d.policy.load_threshold} %)`;
  }

  private currentAdaptation(): Adapted | undefined {
    const a = this.adapted;
    return a !== undefined && a.from === this.d.policy ? a : undefined;
  }

  /** The last periodic cycle's plan. */
  lastPlan(): Plan | undefined {
    return this.last;
  }

  snapshot(now = this.d.clock.now()): ClusterSnapshot {
    const { state, tracker, controls, policy, power } = this.d;
    power?.observe(now);
    return state.snapshot({
      now,
      mapping: this.d.mapping(),
      maintenance: controls.maintenance,
      inFlight: tracker.inFlight(),
      history: tracker.pastMoves(now - Math.max(policy.pingpong_window, policy.vm_cooldown_max) * 1000),
      frozenVms: [...controls.frozen],
      ...(power ? { power } : {}),
      ...(this.d.facts ? { facts: this.d.facts } : {}),
      ...(this.d.pairs ? { incompatible: this.d.pairs.forSnapshot() } : {}),
    });
  }

  planFor(req: PlanRequest, now = this.d.clock.now()): Plan {
    const t0 = performance.now();
    const p = makePlan(this.snapshot(now), this.d.policy, now, req);
    this.d.events.planned(p, performance.now() - t0);
    return p;
  }

  /** One periodic cycle: settle stragglers, plan, log, and act per the automation level. */
  async run(): Promise<{ plan: Plan; queued: number }> {
    const { clock, reconciler, controls, decisions, policy } = this.d;
    const now = clock.now();
    reconciler.reconcile(now);
    controls.expire(now);
    const p = this.planFor({ mode: "cycle" }, now);
    this.last = p;
    this.adapted = p.adaptation ? { from: policy, trigger: { ...policy, load_threshold: p.adaptation.loadThreshold }, why: p.adaptation.message } : undefined;
    decisions.record(p, now);
    controls.freeze(p.frozen);
    let queued = 0;
    // Power actions go the way of the moves: done under automation full, else kept for approve with them.
    const acting = policy.automation === "full" && controls.pausedReason === undefined;
    if (p.moves.length > 0 || p.power.length > 0) {
      if (acting) queued = this.d.queue.enqueue(p.moves, p.id, now);
      else controls.propose(p, now + policy.plan_ttl * 1000);
    }
    this.d.events.publish({ type: "cycle", planId: p.id, moves: p.moves.length, decisions: p.decisions.length, queued });
    await this.d.dispatcher.pump();
    if (acting && p.power.length > 0 && this.d.power) await this.d.power.execute(p.power, `cycle ${p.id}`);
    return { plan: p, queued };
  }
}
