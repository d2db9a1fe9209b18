import type { Logger } from "pino";
import { describeError } from "../../shared/errors.js";
import type { OrchestratorEvent, OrchestratorEventMessage } from "../../shared/schemas/orchestrator-events.js";
import type { Plan } from "../../shared/schemas/plan.js";
import { orchestratorSubjects } from "../../shared/subjects.js";
import type { Clock } from "./clock.js";

// The orchestrator's hooks, in one place: its events (published on ballast.orch.events and handed
// to in-process listeners such as the metrics and the dashboard), every plan made (with how long
// it took), and the early overload signal (main.ts runs a cycle at once). A listener that throws
// is logged and never fails the cycle that called it.

export interface EventBus {
  publish(subject: string, data: string): void;
}

export class EventHub {
  private readonly eventListeners: ((ev: OrchestratorEvent) => void)[] = [];
  private readonly planListeners: ((p: Plan, elapsedMs: number) => void)[] = [];
  private readonly overloadListeners: ((host: string) => void)[] = [];

  constructor(
    private readonly bus: EventBus,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** Called with every event also published on ballast.orch.events. */
  onEvent(fn: (ev: OrchestratorEvent) => void): void {
    this.eventListeners.push(fn);
  }

  /** Called after every plan() with the plan and how long it took, ms. */
  onPlan(fn: (p: Plan, elapsedMs: number) => void): void {
    this.planListeners.push(fn);
  }

  /** Called when a host's metrics have just stayed over a threshold for max_over. */
  onOverload(fn: (host: string) => void): void {
    this.overloadListeners.push(fn);
  }

  publish(ev: OrchestratorEvent): void {
    for (const fn of this.eventListeners) this.guard(() => fn(ev), "event listener failed");
    const msg: OrchestratorEventMessage = { v: 1, ts: this.clock.now(), ...ev };
    try {
      this.bus.publish(orchestratorSubjects.events, JSON.stringify(msg));
    } catch {
      // A closed connection during shutdown is not worth failing a cycle over.
    }
  }

  planned(p: Plan, elapsedMs: number): void {
    for (const fn of this.planListeners) this.guard(() => fn(p, elapsedMs), "plan listener failed");
  }

  overloaded(host: string): void {
    for (const fn of this.overloadListeners) this.guard(() => fn(host), "overload listener failed");
  }

  private guard(fn: () => void, what: string): void {
    try {
      fn();
    } catch (e) {
      this.log.warn({ err: describeError(e) }, what);
    }
  }
}
