import type { MigrationRecord } from "../../../shared/schemas/migration-record.js";
import type { Plan } from "../../../shared/schemas/plan.js";
import type { OrchestratorEvent } from "../../../shared/schemas/orchestrator-events.js";
import type { Clock } from "../clock.js";
import { memPercent } from "../cluster-state.js";
import type { EventHub } from "../event-hub.js";
import type { OrchestratorView } from "../orchestrator.js";

// The dashboard's charts over the last hour, kept by the HTTP side in fixed-size rings:
//  - per host, CPU and memory: one point per step (30 s), the mean of the host's reports read in
//    that step (the view is read on a timer; a report is taken once, however often it is read);
//  - the cluster's imbalance, the mean of the periodic cycles' `imbalanceBefore` per step;
//  - migrations started, succeeded and failed per step, from the orchestrator's events.
// Memory is fixed per host (one Float32Array of 2 × window/step values: 1.3 KB with its overhead,
// measured) whatever the time, and a host the orchestrator no longer knows loses its series at
// the next sample. Times come from the orchestrator's clock; nothing here reads Date.
// The series travel in their own document (GET /api/history, cached between changes), not in the
// state pushed every 2 s to every open page: at 1,000 hosts they weigh about 1.2 MB (as much as
// the state itself), and only the step now filling changes between two steps.

export interface HistoryOptions {
  /** Width of one point, ms. */
  stepMs: number;
  /** How far back the series go, ms (a whole number of steps). */
  windowMs: number;
  /** How often the hosts' newest reports are read, ms. */
  sampleMs: number;
}

export const HISTORY_DEFAULTS: HistoryOptions = { stepMs: 30_000, windowMs: 3_600_000, sampleMs: 5_000 };

/** What GET /api/history answers. Every series has `points` values, oldest first; the last point is the step now filling. */
export interface HistoryDocument {
  /** The orchestrator's time when the document was made (it is reused until something changes), ms since the epoch. */
  now: number;
  stepMs: number;
  windowMs: number;
  /** How often the hosts' reports are read, ms. */
  sampleMs: number;
  /** Start of the first point's step, ms since the epoch: point i covers [start + i·stepMs, start + (i+1)·stepMs). */
  start: number;
  points: number;
  /** policy.balance_threshold: the imbalance above which balancing moves VMs. */
  balanceThreshold: number;
  /** Every host the orchestrator knows, sorted by id: CPU and memory in percent, null where no report came. */
  hosts: { host: string; cpu: (number | null)[]; mem: (number | null)[] }[];
  cluster: {
    /** Mean imbalance of the periodic cycles in each step, null where no cycle ran. */
    imbalance: (number | null)[];
    /** Periodic cycles per step. */
    cycles: number[];
    /** Migrations started, succeeded and failed per step. */
    started: number[];
    succeeded: number[];
    failed: number[];
  };
}

/** What the recorder reads of the orchestrator. */
export interface HistorySource {
  view: { policy: Pick<OrchestratorView["policy"], "balance_threshold">; cluster: Pick<OrchestratorView["cluster"], "hostIds" | "metrics"> };
  events: Pick<EventHub, "onEvent" | "onPlan">;
}

/** One host's ring: CPU in the first `slots` values, memory in the next, NaN where no report came. */
interface HostSeries {
  values: Float32Array;
  /** The step the newest value belongs to (the one being averaged). */
  step: number;
  cpuSum: number;
  memSum: number;
  n: number;
  /** `ts` of the last report taken: a report read twice counts once. */
  seenTs: number;
}

/** Ids of migrations seen running, so a start counts once; bounded, in case an end never comes. */
const MAX_RUNNING = 10_000;

export class DashboardHistory {
  readonly options: HistoryOptions;
  private readonly slots: number;
  private readonly hosts = new Map<string, HostSeries>();
  // The cluster's rings, one value per slot; clusterStep is the newest step written.
  private readonly imbalanceSum: Float64Array;
  private readonly cycles: Uint32Array;
  private readonly started: Uint32Array;
  private readonly succeeded: Uint32Array;
  private readonly failed: Uint32Array;
  private clusterStep = -Infinity;
  private readonly running = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  /** Bumped on every change: the JSON text is made again only after one (or in a new step). */
  private version = 0;
  private cached: { version: number; step: number; text: string } | undefined;

  constructor(
    private readonly source: HistorySource,
    private readonly clock: Clock,
    options: Partial<HistoryOptions> = {},
  ) {
    const o = { ...HISTORY_DEFAULTS, ...options };
    if (!(o.stepMs > 0) || !(o.sampleMs > 0) || !(o.windowMs >= o.stepMs) || o.windowMs % o.stepMs !== 0)
      throw new RangeError(`history: windowMs (${o.windowMs}) must be a positive multiple of stepMs (${o.stepMs}), and sampleMs positive`);
    this.options = o;
    this.slots = o.windowMs / o.stepMs;
    this.imbalanceSum = new Float64Array(this.slots);
    this.cycles = new Uint32Array(this.slots);
    this.started = new Uint32Array(this.slots);
    this.succeeded = new Uint32Array(this.slots);
    this.failed = new Uint32Array(this.slots);
    source.events.onPlan((p) => this.planned(p));
    source.events.onEvent((ev) => this.event(ev));
  }

  /** Samples now and then every sampleMs, until stop(). */
  start(): void {
    if (this.timer) return;
    this.sample();
    this.timer = setInterval(() => this.sample(), this.options.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Hosts with a series (tests, the memory measurement). */
  get hostCount(): number {
    return this.hosts.size;
  }

  /** Reads every host's newest report into the step now filling; forgets hosts that are gone. */
  sample(): void {
    this.version++;
    const step = this.stepOf(this.clock.now());
    const { cluster } = this.source.view;
    const ids = cluster.hostIds();
    const known = new Set(ids);
    for (const host of this.hosts.keys()) if (!known.has(host)) this.hosts.delete(host);
    for (const host of ids) {
      const m = cluster.metrics(host);
      if (!m) continue;
      let s = this.hosts.get(host);
      if (!s) {
        s = { values: new Float32Array(2 * this.slots).fill(NaN), step, cpuSum: 0, memSum: 0, n: 0, seenTs: -1 };
        this.hosts.set(host, s);
      }
      if (m.ts === s.seenTs) continue;
      s.seenTs = m.ts;
      // A clock that went back counts into the newest step rather than rewriting older ones.
      if (step > s.step) {
        this.clearBetween(s.values, s.step, step, 2);
        s.step = step;
        s.cpuSum = s.memSum = s.n = 0;
      }
      s.cpuSum += m.cpuPercent;
      s.memSum += memPercent(m);
      s.n += 1;
      const i = this.slotOf(s.step);
      s.values[i] = s.cpuSum / s.n;
      s.values[this.slots + i] = s.memSum / s.n;
    }
  }

  /** The document as JSON text, made again only when something changed (many viewers share one). */
  json(): string {
    const step = this.stepOf(this.clock.now());
    const c = this.cached;
    if (c && c.version === this.version && c.step === step) return c.text;
    const text = JSON.stringify(this.document());
    this.cached = { version: this.version, step, text };
    return text;
  }

  /** The series as GET /api/history answers them. */
  document(): HistoryDocument {
    const doc = this.withoutHosts(this.clock.now());
    const first = doc.start / this.options.stepMs;
    const hosts = this.hostIds().map((host) => {
      const s = this.hosts.get(host)!;
      const cpu: (number | null)[] = [];
      const mem: (number | null)[] = [];
      for (let k = first; k < first + this.slots; k++) {
        cpu.push(this.valueAt(s, 0, k));
        mem.push(this.valueAt(s, this.slots, k));
      }
      return { host, cpu, mem };
    });
    return { ...doc, hosts };
  }

  private withoutHosts(now: number): Omit<HistoryDocument, "hosts"> {
    const last = this.stepOf(now);
    const first = last - this.slots + 1;
    const imbalance: (number | null)[] = [];
    const cycles: number[] = [];
    const started: number[] = [];
    const succeeded: number[] = [];
    const failed: number[] = [];
    for (let k = first; k <= last; k++) {
      const ok = k <= this.clusterStep && k > this.clusterStep - this.slots;
      const i = this.slotOf(k);
      const c = ok ? this.cycles[i]! : 0;
      cycles.push(c);
      imbalance.push(c > 0 ? round(this.imbalanceSum[i]! / c, 2) : null);
      started.push(ok ? this.started[i]! : 0);
      succeeded.push(ok ? this.succeeded[i]! : 0);
      failed.push(ok ? this.failed[i]! : 0);
    }
    return {
      now,
      stepMs: this.options.stepMs,
      windowMs: this.options.windowMs,
      sampleMs: this.options.sampleMs,
      start: first * this.options.stepMs,
      points: this.slots,
      balanceThreshold: this.source.view.policy.balance_threshold,
      cluster: { imbalance, cycles, started, succeeded, failed },
    };
  }

  private hostIds(): string[] {
    return [...this.hosts.keys()].sort();
  }

  /** A host's CPU (offset 0) or memory (offset slots) in step k, one decimal; null when no report came or k is out of its ring. */
  private valueAt(s: HostSeries, offset: number, k: number): number | null {
    return k <= s.step && k > s.step - this.slots ? round(s.values[offset + this.slotOf(k)]!, 1) : null;
  }

  private planned(p: Plan): void {
    if (p.mode !== "cycle") return;
    const i = this.clusterSlot(p.createdAt);
    if (i === undefined) return;
    this.version++;
    this.imbalanceSum[i]! += p.indicators.imbalanceBefore;
    this.cycles[i]! += 1;
  }

  private event(ev: OrchestratorEvent): void {
    if (ev.type !== "migration") return;
    const r: MigrationRecord = ev.record;
    if (r.state === "ONGOING") {
      if (this.running.has(r.requestId)) return;
      if (this.running.size >= MAX_RUNNING) this.running.delete(this.running.values().next().value!);
      this.running.add(r.requestId);
      const i = this.clusterSlot(r.startedAt ?? this.clock.now());
      if (i !== undefined) this.started[i]! += 1;
      this.version++;
      return;
    }
    if (r.state === "PENDING") return;
    this.running.delete(r.requestId);
    const ring = r.state === "SUCCEEDED" ? this.succeeded : r.state === "FAILED" ? this.failed : undefined;
    if (!ring) return;
    const i = this.clusterSlot(r.finishedAt ?? this.clock.now());
    if (i !== undefined) ring[i]! += 1;
    this.version++;
  }

  /** The slot of the cluster's rings for a time, moving them on to it; undefined when older than the window. */
  private clusterSlot(at: number): number | undefined {
    const step = this.stepOf(at);
    if (step > this.clusterStep) {
      for (const ring of [this.imbalanceSum, this.cycles, this.started, this.succeeded, this.failed]) this.clearBetween(ring, this.clusterStep, step, 1);
      this.clusterStep = step;
    }
    return step > this.clusterStep - this.slots ? this.slotOf(step) : undefined;
  }

  /** Empties the slots of the steps after `from` up to and including `to` (at most the whole ring), in each of `rows` rows. */
  private clearBetween(ring: Float32Array | Float64Array | Uint32Array, from: number, to: number, rows: number): void {
    const empty = ring instanceof Uint32Array || ring instanceof Float64Array ? 0 : NaN;
    const n = Math.min(this.slots, to - from);
    for (let k = to - n + 1; k <= to; k++) for (let r = 0; r < rows; r++) ring[r * this.slots + this.slotOf(k)] = empty;
  }

  private stepOf(t: number): number {
    return Math.floor(t / this.options.stepMs);
  }

  private slotOf(step: number): number {
    return ((step % this.slots) + this.slots) % this.slots;
  }
}

function round(x: number, digits: number): number | null {
  if (Number.isNaN(x)) return null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
