import type { Policy } from "../../shared/config/policy.js";
import type { ClusterSnapshot, HostSample, SnapshotHost } from "../../shared/schemas/snapshot.js";

// Time-window classification of one host against the trigger thresholds (descheduler's
// classifier): pure maths on the host's samples, no cluster access.
//
// A host is a hot spot on a metric when the metric stayed above its threshold in every sample of
// an unbroken run ending at the newest sample, and that run spans at least `max_over` seconds.
// A gap between two consecutive samples longer than `stale_after` breaks the run (we do not know
// what happened in between). `max_over = 0` means the newest sample alone decides. A host whose
// newest sample (or heartbeat) is older than `stale_after` is not fresh and never a source.

export type Metric = "cpu" | "mem";

export interface Streak {
  /** Newest value of the metric, percent. */
  value: number;
  /** Whether the newest sample is over the threshold. */
  over: boolean;
  /** Length of the unbroken run over the threshold that ends at the newest sample, ms. */
  overMs: number;
}

export interface WindowVerdict {
  fresh: boolean;
  /** True when the host counts as a source (hot spot) for `metric`. */
  source: boolean;
  /** The metric that makes it a source (cpu wins over mem), or the first one over its threshold. */
  metric: Metric | null;
  cpu: Streak;
  mem: Streak;
  /**
   * Memory over its threshold and, on the measured growth, due to reach capacity (less the reserve)
   * before max_over would pass: a source at once (memoryAtRisk). False without a memory rise.
   */
  memUrgent: boolean;
  /** Memory the host may reach before max_over passes (newest + the larger of the rise and its own trend), percent. */
  memProjected: number;
  /** Seconds since the newest sample, for messages. */
  ageSeconds: number;
}

export function isFresh(lastSeen: number, now: number, policy: Pick<Policy, "stale_after">): boolean {
  return now - lastSeen <= policy.stale_after * 1000;
}

/**
 * The hosts a cluster-wide measure of load changes is read from: fresh, holding a VM, each id once
 * (a host listed twice counts as its first entry, as in the working copy).
 */
export function busyFreshHosts(snapshot: ClusterSnapshot, policy: Pick<Policy, "stale_after">, now: number): SnapshotHost[] {
  const busy = new Set<string>();
  for (const v of snapshot.vms) busy.add(v.host);
  const seen = new Set<string>();
  const out: SnapshotHost[] = [];
  for (const h of snapshot.hosts) {
    if (seen.has(h.id)) continue;
    seen.add(h.id);
    if (busy.has(h.id) && isFresh(h.lastSeen, now, policy)) out.push(h);
  }
  return out;
}

/** The q-quantile (0..1) of `values` (sorted in place): the element at floor(n × q), the largest at most. */
export function quantile(values: number[], q: number): number {
  values.sort((a, b) => a - b);
  return values[Math.min(values.length - 1, Math.floor(values.length * q))]!;
}

/** Samples of a host, oldest first; a host without samples is judged on its newest reading. */
export function hostSamples(h: SnapshotHost): HostSample[] {
  if (h.samples.length > 0) {
    let sorted = true;
    for (let i = 1; i < h.samples.length; i++) if (h.samples[i]!.ts < h.samples[i - 1]!.ts) sorted = false;
    return sorted ? h.samples : [...h.samples].sort((a, b) => a.ts - b.ts);
  }
  return [{ ts: h.lastSeen, cpu: h.cpuPercent, mem: h.memTotalMiB > 0 ? ((h.memTotalMiB - h.memAvailableMiB) / h.memTotalMiB) * 100 : 0 }];
}

/** The run over `threshold` (strictly greater) ending at the newest sample. Samples oldest first. */
export function overStreak(samples: readonly HostSample[], metric: Metric, threshold: number, staleAfterMs: number): Streak {
  const n = samples.length;
  if (n === 0) return { value: 0, over: false, overMs: 0 };
  const newest = samples[n - 1]!;
  const value = newest[metric];
  if (!(value > threshold)) return { value, over: false, overMs: 0 };
  let start = newest.ts;
  for (let i = n - 2; i >= 0; i--) {
    const s = samples[i]!;
    const next = samples[i + 1]!;
    if (next.ts - s.ts > staleAfterMs) break;
    if (!(s[metric] > threshold)) break;
    start = s.ts;
  }
  return { value, over: true, overMs: newest.ts - start };
}

/**
 * Whether an over-threshold run is long enough. Samples are stamped when they arrive, one
 * interval apart give or take delivery jitter: a run of k samples spanning (k-1) intervals minus
 * a few ms must count as (k-1) intervals, or it costs a whole extra interval. So the run may fall
 * short of max_over by 10 % of an interval (at most 1 s), never more.
 */
export function longEnough(overMs: number, policy: Pick<Policy, "max_over" | "interval">): boolean {
  const toleranceMs = Math.min(1000, 100 * policy.interval);
  return overMs >= policy.max_over * 1000 - toleranceMs;
}

/**
 * The memory a host may reach before max_over passes, percent: its newest sample plus the larger of
 * the cluster's measured memory rise (memory-headroom.ts: what one interval may bring anywhere) and
 * its own trend over its samples extrapolated max_over ahead. CPU over its threshold for a while is
 * a slowdown worth confirming; memory past capacity is swapping or a guest killed, so a host whose
 * projection reaches capacity less the reserve does not wait for max_over.
 */
export function memoryProjection(samples: readonly HostSample[], rise: number, maxOverS: number): number {
  const n = samples.length;
  if (n === 0) return 0;
  const newest = samples[n - 1]!;
  let trend = 0;
  if (n >= 3) {
    const oldest = samples[0]!;
    const spanS = (newest.ts - oldest.ts) / 1000;
    if (spanS > 0) trend = Math.max(0, ((newest.mem - oldest.mem) / spanS) * maxOverS);
  }
  return newest.mem + Math.max(rise, trend);
}

/** Capacity less the reserve, percent of the host's memory. */
export function memCapacityPercent(h: Pick<SnapshotHost, "memTotalMiB">, reserveMiB: number): number {
  return h.memTotalMiB > 0 ? (100 * Math.max(0, h.memTotalMiB - reserveMiB)) / h.memTotalMiB : 100;
}

export function classifyHost(
  h: SnapshotHost,
  policy: Pick<Policy, "stale_after" | "max_over" | "load_threshold" | "mem_threshold" | "interval"> & Partial<Pick<Policy, "mem_reserve_mib">>,
  now: number,
  memRise: number | null = null,
): WindowVerdict {
  const samples = hostSamples(h);
  const staleMs = policy.stale_after * 1000;
  const newestTs = samples.length > 0 ? samples[samples.length - 1]!.ts : h.lastSeen;
  const fresh = isFresh(h.lastSeen, now, policy) && now - newestTs <= staleMs;
  const cpu = overStreak(samples, "cpu", policy.load_threshold, staleMs);
  const mem = overStreak(samples, "mem", policy.mem_threshold, staleMs);
  const cpuSource = fresh && cpu.over && longEnough(cpu.overMs, policy);
  const memProjected = memRise === null ? mem.value : memoryProjection(samples, memRise, policy.max_over);
  const memUrgent = fresh && mem.over && memRise !== null && memProjected >= memCapacityPercent(h, policy.mem_reserve_mib ?? 0);
  const memSource = fresh && mem.over && (memUrgent || longEnough(mem.overMs, policy));
  const metric: Metric | null = cpuSource ? "cpu" : memSource ? "mem" : cpu.over ? "cpu" : mem.over ? "mem" : null;
  return { fresh, source: cpuSource || memSource, metric, cpu, mem, memUrgent, memProjected, ageSeconds: Math.max(0, (now - newestTs) / 1000) };
}
