import { describe, expect, it } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { DashboardHistory, type HistorySource } from "../../../../orchestrator/shell/http/dashboard-history.js";
import type { HostMetrics } from "../../../../shared/schemas/host-metrics.js";
import type { MigrationRecord } from "../../../../shared/schemas/migration-record.js";
import type { OrchestratorEvent } from "../../../../shared/schemas/orchestrator-events.js";
import type { Plan } from "../../../../shared/schemas/plan.js";

// The dashboard's history recorder against a fake orchestrator and a clock the test moves: one
// point per step (the mean of the reports read in it), fixed size whatever the time, gaps where
// no report came, hosts that go away, the cycles' imbalance and the migrations per step, and
// what 10,000 hosts cost.

const STEP = 30_000;
const HOUR = 3_600_000;
/** A step boundary, so that t0 + k·STEP starts step k. */
const T0 = 1_700_000_010_000 - (1_700_000_010_000 % STEP);

function fakeOrchestrator() {
  let now = T0;
  const reports = new Map<string, HostMetrics>();
  const planListeners: ((p: Plan, ms: number) => void)[] = [];
  const eventListeners: ((ev: OrchestratorEvent) => void)[] = [];
  const source: HistorySource = {
    view: {
      policy: { balance_threshold: 10 },
      cluster: { hostIds: () => [...reports.keys()].sort(), metrics: (h: string) => reports.get(h) },
    },
    events: { onPlan: (fn) => planListeners.push(fn), onEvent: (fn) => eventListeners.push(fn) },
  };
  const clock = { now: () => now };
  return {
    source,
    clock,
    at: (t: number) => (now = t),
    /** A new report of the host: CPU and memory in use, percent. */
    report(host: string, cpu: number, mem: number) {
      const prev = reports.get(host);
      reports.set(host, {
        v: 1,
        host,
        ts: Math.max(now, (prev?.ts ?? 0) + 1),
        seq: (prev?.seq ?? 0) + 1,
        cpus: 8,
        hostCpuPercent: cpu,
        load1: 0,
        load5: 0,
        load15: 0,
        memTotalMiB: 1000,
        memAvailableMiB: 1000 - mem * 10,
        loadSource: "host",
        cpuPercent: cpu,
        vms: [],
      });
    },
    gone: (host: string) => reports.delete(host),
    plan: (mode: Plan["mode"], imbalanceBefore: number) =>
      planListeners.forEach((f) => f({ mode, createdAt: now, indicators: { imbalanceBefore } } as unknown as Plan, 1)),
    migration: (requestId: string, state: MigrationRecord["state"], times: { startedAt?: number; finishedAt?: number } = {}) =>
      eventListeners.forEach((f) => f({ type: "migration", record: { requestId, state, ...times } as unknown as MigrationRecord })),
    cycleEvent: () => eventListeners.forEach((f) => f({ type: "cycle", planId: "p", moves: 0, decisions: 0, queued: 0 })),
  };
}

const nonNull = <T>(xs: (T | null)[]): T[] => xs.filter((x): x is T => x !== null);

describe("dashboard history", () => {
  it("keeps one point per step: the mean of the reports read in it, each report once", () => {
    const o = fakeOrchestrator();
    const h = new DashboardHistory(o.source, o.clock);
    for (const [dt, cpu, mem] of [
      [0, 10, 40],
      [10_000, 20, 50],
      [20_000, 30, 60],
    ] as const) {
      o.at(T0 + dt);
      o.report("hv-a", cpu, mem);
      h.sample();
      h.sample(); // read again before a new report: not counted twice
    }
    o.at(T0 + 30_000);
    o.report("hv-a", 90, 10);
    h.sample();
    const d = h.document();
    expect(d.points).toBe(120);
    expect(d.stepMs).toBe(STEP);
    expect(d.start).toBe(T0 + 30_000 - 119 * STEP);
    const a = d.hosts.find((x) => x.host === "hv-a")!;
    expect(a.cpu).toHaveLength(120);
    expect(a.cpu.slice(-3)).toEqual([null, 20, 90]);
    expect(a.mem.slice(-3)).toEqual([null, 50, 10]);
  });

  it("stays the same size however long it runs; older points leave the window; a silent host leaves a gap", () => {
    const o = fakeOrchestrator();
    const h = new DashboardHistory(o.source, o.clock);
    // Three hours, a report every 10 s; hv-b is silent from 1:00 to 1:05 before the end.
    const end = T0 + 3 * HOUR;
    for (let t = T0; t < end; t += 10_000) {
      o.at(t);
      const k = Math.floor((t - T0) / STEP);
      o.report("hv-a", k % 100, 50);
      const silent = t >= end - HOUR + 0 && t < end - HOUR + 5 * 60_000;
      if (!silent) o.report("hv-b", 5, 5);
      h.sample();
    }
    o.at(end - 1);
    const d = h.document();
    expect(d.points).toBe(120);
    expect(d.start).toBe(end - HOUR);
    for (const x of d.hosts) {
      expect(x.cpu).toHaveLength(120);
      expect(x.mem).toHaveLength(120);
    }
    const a = d.hosts.find((x) => x.host === "hv-a")!;
    // Step k (from T0) holds k % 100: the window is the last 120 steps of 360.
    expect(a.cpu).toEqual(Array.from({ length: 120 }, (_, i) => (240 + i) % 100));
    const b = d.hosts.find((x) => x.host === "hv-b")!;
    // The first ten steps of the window (5 min) had no report.
    expect(b.cpu.slice(0, 10)).toEqual(Array(10).fill(null));
    expect(nonNull(b.cpu)).toEqual(Array(110).fill(5));
    expect(h.hostCount).toBe(2);
  });

  it("forgets a host the orchestrator no longer knows; one that comes back starts afresh", () => {
    const o = fakeOrchestrator();
    const h = new DashboardHistory(o.source, o.clock);
    for (let k = 0; k < 4; k++) {
      o.at(T0 + k * STEP);
      o.report("hv-a", 10, 10);
      o.report("hv-b", 20, 20);
      h.sample();
    }
    o.gone("hv-b");
    o.at(T0 + 4 * STEP);
    o.report("hv-a", 10, 10);
    h.sample();
    expect(h.document().hosts.map((x) => x.host)).toEqual(["hv-a"]);
    expect(h.hostCount).toBe(1);
    o.at(T0 + 5 * STEP);
    o.report("hv-b", 30, 30);
    h.sample();
    const b = h.document().hosts.find((x) => x.host === "hv-b")!;
    expect(nonNull(b.cpu)).toEqual([30]);
  });

  it("keeps the cycles' imbalance (mean per step) and the migrations started, succeeded and failed per step", () => {
    const o = fakeOrchestrator();
    const h = new DashboardHistory(o.source, o.clock);
    o.at(T0 + 1000);
    o.plan("cycle", 12);
    o.at(T0 + 11_000);
    o.plan("cycle", 14);
    o.plan("evacuate", 99); // a dry run or an operator's plan is not a cycle
    o.plan("manual", 99);
    o.at(T0 + 2 * STEP + 5000);
    o.plan("cycle", 8.5);
    o.cycleEvent();
    // m1 starts in step 0 (progress events repeat ONGOING) and succeeds in step 2; m2 fails in
    // step 2; m3 is skipped before it starts (not counted); a record older than the window is dropped.
    o.migration("m1", "PENDING");
    o.migration("m1", "ONGOING", { startedAt: T0 + 2000 });
    o.migration("m1", "ONGOING", { startedAt: T0 + 2000 });
    o.migration("m2", "ONGOING", { startedAt: T0 + 2 * STEP + 100 });
    o.migration("m1", "SUCCEEDED", { startedAt: T0 + 2000, finishedAt: T0 + 2 * STEP + 4000 });
    o.migration("m2", "FAILED", { startedAt: T0 + 2 * STEP + 100, finishedAt: T0 + 2 * STEP + 4500 });
    o.migration("m3", "SKIPPED", { finishedAt: T0 + 2 * STEP + 4600 });
    o.migration("old", "SUCCEEDED", { finishedAt: T0 - 2 * HOUR });
    const d = h.document();
    expect(d.balanceThreshold).toBe(10);
    const c = d.cluster;
    for (const s of [c.imbalance, c.cycles, c.started, c.succeeded, c.failed]) expect(s).toHaveLength(120);
    expect(c.imbalance.slice(-3)).toEqual([13, null, 8.5]);
    expect(c.cycles.slice(-3)).toEqual([2, 0, 1]);
    expect(c.started.slice(-3)).toEqual([1, 0, 1]);
    expect(c.succeeded.slice(-3)).toEqual([0, 0, 1]);
    expect(c.failed.slice(-3)).toEqual([0, 0, 1]);
    expect([c.started, c.succeeded, c.failed].map((x) => x.reduce((a, b) => a + b))).toEqual([2, 1, 1]);

    // An hour later all of it has left the window.
    o.at(T0 + 2 * STEP + HOUR);
    o.plan("cycle", 3);
    const later = h.document().cluster;
    expect(nonNull(later.imbalance)).toEqual([3]);
    expect(later.succeeded.every((x) => x === 0)).toBe(true);
  });

  it("refuses a window that is not a whole number of steps", () => {
    const o = fakeOrchestrator();
    expect(() => new DashboardHistory(o.source, o.clock, { stepMs: 7000, windowMs: 60_000 })).toThrow(/multiple of stepMs/);
  });

  it("costs about a kilobyte per host: 10,000 hosts for a full hour stay under 30 MB", () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const used = () => {
      gc();
      gc();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const o = fakeOrchestrator();
    const hosts = Array.from({ length: 10_000 }, (_, i) => `hv-${String(i).padStart(5, "0")}`);
    // One report object per host, changed in place: the fake's own cost stays out of the measurement.
    for (const host of hosts) o.report(host, 1, 1);
    const reports = hosts.map((host) => o.source.view.cluster.metrics(host)! as { ts: number; cpuPercent: number });
    const before = used();
    const h = new DashboardHistory(o.source, o.clock);
    const t1 = performance.now();
    let samples = 0;
    for (let t = T0; t < T0 + HOUR; t += STEP) {
      o.at(t);
      for (const r of reports) {
        r.ts = t;
        r.cpuPercent = (t / 1000) % 97;
      }
      h.sample();
      samples++;
    }
    const sampleMs = (performance.now() - t1) / samples;
    const bytes = used() - before;
    const perHost = bytes / hosts.length;
    const t2 = performance.now();
    const text = h.json();
    const docMs = performance.now() - t2;
    const t3 = performance.now();
    expect(h.json()).toBe(text); // nothing changed: the same text, not made again
    const againMs = performance.now() - t3;
    const doc = JSON.parse(text) as ReturnType<DashboardHistory["document"]>;
    expect(doc.hosts).toHaveLength(10_000);
    expect(nonNull(doc.hosts[0]!.cpu).length).toBeGreaterThanOrEqual(119);
    console.log(
      `history of 10,000 hosts: ${(bytes / 1e6).toFixed(1)} MB (${Math.round(perHost)} bytes per host), one sample ${sampleMs.toFixed(1)} ms, the document ${docMs.toFixed(0)} ms (${(text.length / 1e6).toFixed(1)} MB of JSON; again unchanged ${againMs.toFixed(2)} ms)`,
    );
    expect(bytes).toBeLessThan(30e6);
    expect(perHost).toBeGreaterThan(500); // the measurement saw the rings (2 × 120 float32 per host)
  });
});
