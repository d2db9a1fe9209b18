import type { Plan, PlannedMove } from "../../shared/schemas/plan.js";
import type { LoggedDecision } from "../../shared/schemas/decision-log.js";
import { RingBuffer } from "./ring-buffer.js";

/** The decisions of one recorded plan, as handed to listeners (HA: published to the stream). */
export interface RecordedDecisions {
  cycle: number;
  entries: LoggedDecision[];
}

// Every decision and non-decision of every cycle, bounded, queryable by VM or host.
export class DecisionLog {
  private readonly entries: RingBuffer<LoggedDecision>;
  private cycles = 0;
  private readonly listeners: ((r: RecordedDecisions) => void)[] = [];

  constructor(capacity: number) {
    this.entries = new RingBuffer(capacity);
  }

  get cycle(): number {
    return this.cycles;
  }

  /** Called after every record() (not after replay()). */
  onRecord(fn: (r: RecordedDecisions) => void): void {
    this.listeners.push(fn);
  }

  record(plan: Plan, ts: number): number {
    const cycle = ++this.cycles;
    const entries: LoggedDecision[] = plan.moves.map((m) => fromMove(cycle, ts, plan, m));
    for (const d of plan.decisions) {
      entries.push({
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
    for (const e of entries) this.entries.push(e);
    for (const fn of this.listeners) fn({ cycle, entries });
    return cycle;
  }

  /**
   * One line that belongs to no plan's decisions (a power operation's outcome), numbered with the
   * newest cycle; listeners get it as a record of its own (HA replicates it like the others).
   */
  note(line: Omit<LoggedDecision, "cycle" | "ts">, ts: number): void {
    const cycle = Math.max(1, this.cycles);
    const e: LoggedDecision = { cycle, ts, ...line };
    this.entries.push(e);
    for (const fn of this.listeners) fn({ cycle, entries: [e] });
  }

  /**
   * Adds decisions another instance recorded (HA). The cycle counter follows theirs, so a new
   * leader numbers its cycles after the old leader's and `explain`'s "last N cycles" spans both.
   */
  replay(r: RecordedDecisions): void {
    this.cycles = Math.max(this.cycles, r.cycle);
    for (const e of r.entries) this.entries.push(e);
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
