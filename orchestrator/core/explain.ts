import type { DecisionCode } from "../../shared/schemas/decision-codes.js";
import type { Decision, Numbers, StrategyName } from "../../shared/schemas/plan.js";

// Everything the planner says about what it did not do. Every VM considered and not moved and every
// host rejected as a destination becomes a Decision with a code and numbers, but bounded: per VM
// placement only the counts per rejection code plus the first few rejected hosts in preference
// order are kept (a 10,000-host cluster must not produce 10^8 decisions); explainVm() gives the
// full per-host list for one VM on demand.

/** A reason a VM cannot move, or a host cannot take it, with the numbers behind it. */
export interface Rejection {
  code: DecisionCode;
  message: string;
  numbers: Numbers;
}

/** Host rejections kept per VM placement (in the order the hosts were tried, i.e. the best first). */
export const KEPT_HOST_REJECTIONS = 3;
/** Hard cap on decisions in one plan; beyond it one DECISIONS_TRUNCATED decision says how many were dropped. */
export const MAX_DECISIONS = 20_000;

export class DecisionLog {
  private readonly list: Decision[] = [];
  private readonly keys = new Set<string>();
  private dropped = 0;

  constructor(private readonly max = MAX_DECISIONS) {}

  add(d: Decision): void {
    const key = `${d.kind}|${d.subject}|${d.code}|${d.vm ?? ""}`;
    if (this.keys.has(key)) return;
    if (this.list.length >= this.max) {
      this.dropped += 1;
      return;
    }
    this.keys.add(key);
    this.list.push(d);
  }

  vm(subject: string, r: Rejection, strategy?: StrategyName): void {
    this.add({ kind: "vm", subject, code: r.code, message: r.message, numbers: r.numbers, ...(strategy ? { strategy } : {}) });
  }

  host(subject: string, r: Rejection, vm?: string, strategy?: StrategyName): void {
    this.add({
      kind: "host",
      subject,
      code: r.code,
      message: r.message,
      numbers: r.numbers,
      ...(vm !== undefined ? { vm } : {}),
      ...(strategy ? { strategy } : {}),
    });
  }

  cluster(r: Rejection, strategy?: StrategyName): void {
    this.add({ kind: "cluster", subject: "cluster", code: r.code, message: r.message, numbers: r.numbers, ...(strategy ? { strategy } : {}) });
  }

  /** The decisions, plus a truncation note when the cap was hit. */
  all(): Decision[] {
    if (this.dropped === 0) return this.list;
    return [
      ...this.list,
      {
        kind: "cluster",
        subject: "cluster",
        code: "DECISIONS_TRUNCATED",
        message: `${this.dropped} further decisions were dropped (cap ${this.max})`,
        numbers: { dropped: this.dropped, cap: this.max },
      },
    ];
  }
}

/** Host rejections for one VM placement: counts per code, and the first few hosts in full. */
export class RejectionTally {
  readonly counts = new Map<DecisionCode, number>();
  readonly kept: { host: string; rejection: Rejection }[] = [];
  evaluated = 0;

  constructor(private readonly keep = KEPT_HOST_REJECTIONS) {}

  /** Whether the next rejection would be kept in full (so its message is worth building). */
  wantsDetail(): boolean {
    return this.kept.length < this.keep;
  }

  add(host: string, r: Rejection): void {
    this.counts.set(r.code, (this.counts.get(r.code) ?? 0) + 1);
    if (this.kept.length < this.keep) this.kept.push({ host, rejection: r });
    const missing = r.numbers["missing"];
    if (typeof missing === "string") this.noteMissing(r.code, missing);
  }

  /** `n` hosts refused for one reason without naming them (a compatibility class skipped whole). */
  addCount(code: DecisionCode, n: number, missing = ""): void {
    this.counts.set(code, (this.counts.get(code) ?? 0) + n);
    if (missing !== "") this.noteMissing(code, missing);
  }

  /**
   * What the facts say is missing, per code (first few distinct), for the summary: "2
   * DEST_NETWORK_MISSING (br-db)" says why in one line. Only facts refusals carry it, so other
   * summaries read as before.
   */
  private readonly missing = new Map<DecisionCode, string[]>();

  private noteMissing(code: DecisionCode, what: string): void {
    const list = this.missing.get(code);
    if (!list) this.missing.set(code, [what]);
    else if (list.length < KEPT_HOST_REJECTIONS && !list.includes(what)) list.push(what);
  }

  /** Counts as numbers, codes sorted, e.g. { DEST_CPU: 12, DEST_MEM: 3 }. */
  countNumbers(): Numbers {
    const out: Numbers = {};
    for (const code of [...this.counts.keys()].sort()) out[code] = this.counts.get(code)!;
    return out;
  }

  summary(): string {
    const parts = [...this.counts.keys()].sort().map((c) => {
      const what = this.missing.get(c);
      return `${this.counts.get(c)} ${c}${what ? ` (${what.join("; ")})` : ""}`;
    });
    return parts.length > 0 ? parts.join(", ") : "no candidate host";
  }

  /** A failed placement as decisions: one VM decision with the counts, then the kept host rejections. */
  decisions(vm: string, hostsTotal: number, strategy?: StrategyName, prefix = "no destination"): Decision[] {
    const s = strategy ? { strategy } : {};
    return [
      {
        kind: "vm",
        subject: vm,
        code: "NO_DESTINATION",
        message: `${prefix} for ${vm}: ${this.evaluated} of ${hostsTotal} hosts tried, rejected: ${this.summary()}`,
        numbers: { hostsEvaluated: this.evaluated, hostsTotal, ...this.countNumbers() },
        ...s,
      },
      ...this.kept.map((k): Decision => ({
        kind: "host",
        subject: k.host,
        code: k.rejection.code,
        message: k.rejection.message,
        numbers: k.rejection.numbers,
        vm,
        ...s,
      })),
    ];
  }

  /** Record a failed placement in the log. */
  flush(log: DecisionLog, vm: string, hostsTotal: number, strategy?: StrategyName, prefix = "no destination"): Decision[] {
    const ds = this.decisions(vm, hostsTotal, strategy, prefix);
    for (const d of ds) log.add(d);
    return ds;
  }
}
