import type { Decision, Plan, PlannedMove } from "../core/plan.js";
import { RingBuffer } from "./ring-buffer.js";

/** One line of the decision log: a planned move or a non-decision, with the cycle it came from. */
export interface LoggedDecision {
  cycle: number;
  ts: number;
  planId: string;
  mode: string;
  kind: "move" | Decision["kind"];
  subject: string;
  vm?: string;
  host?: string;
  code: string;
  message: string;
  numbers: Record<string, unknown>;
}

// Every decision and non-decision of every cycle, bounded, queryable by VM or host.
export class DecisionLog {
  private readonly entries: RingBuffer<LoggedDecision>;
  private cycles = 0;

  constructor(capacity: number) {
    this.entries = new RingBuffer(capacity);
  }

  get cycle(): number {
    return this.cycles;
  }

  record(plan: Plan, ts: number): number {
    const cycle = ++this.cycles;
    for (const m of plan.moves) this.entries.push(fromMove(cycle, ts, plan, m));
    for (const d of plan.decisions) {
      this.entries.push({
        cycle,
        ts,
        planId: plan.id,
        mode: plan.mode,
        kind: d.kind,
        subject: d.subject,
        ...(d.kind === "vm" ? { vm: d.subject } : d.vm !== undefined ? { vm: d.vm } : {}),
        ...(d.kind === "host" ? { host: d.subject } : {}),
        code: d.code,
        message: d.message,
        numbers: d.numbers ?? {},
      });
    }
    return cycle;
  }

  query(filter: { vm?: string; host?: string; limit: number; sinceCycle?: number }): LoggedDecision[] {
    return this.entries.newest(
      filter.limit,
      (e) =>
        (filter.vm === undefined || e.vm === filter.vm) &&
        (filter.host === undefined || e.host === filter.host || e.subject === filter.host) &&
        (filter.sinceCycle === undefined || e.cycle >= filter.sinceCycle),
    );
  }
}

function fromMove(cycle: number, ts: number, plan: Plan, m: PlannedMove): LoggedDecision {
  return {
    cycle,
    ts,
    planId: plan.id,
    mode: plan.mode,
    kind: "move",
    subject: m.vm,
    vm: m.vm,
    host: m.source,
    code: m.code,
    message: m.reason,
    numbers: { ...m.numbers, destination: m.destination },
  };
}
