import type { Policy } from "../../shared/config/policy.js";
import type { Decision, MemAdaptation } from "../../shared/schemas/plan.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { f1, r2 } from "./format.js";
import { busyFreshHosts, hostSamples, quantile } from "./windows.js";

// Adaptive memory headroom. Memory over capacity is not a slowdown but swapping or the OOM killer
// taking a guest, so the memory level a destination may be filled to (max_mem_candidate) never
// rises above the configured one (unlike the CPU levels, headroom.ts); it is lowered when guests'
// memory grows faster than the configured headroom allows. What a destination keeps free must
// absorb the rise a host's memory can take between two samples, before hot-spot relief can act.
//
// The rise is measured on the hosts' own samples: for each fresh busy host, the largest increase of
// memory in use between consecutive samples within its newest RISE_SAMPLES, leaving out intervals in
// which a migration to or from it ended or began (an arriving VM is a known step, not growth). The
// cluster's rise is the RISE_QUANTILE over those hosts (one host's largest jump is one event; the
// quantile over many is what the next interval may bring anywhere). The headroom needed is
// `mem_headroom_rises` × that rise; when it is more than the configured headroom
// (100 − max_mem_candidate), max_mem_candidate is lowered by the difference, never below
// MEM_LEVEL_FLOOR. The trigger levels (mem_threshold, mem_target) stay: lowering them with a rise
// that changes from cycle to cycle made hosts shed and take VMs by turns (measured on GCD: twice the
// migrations for no less time over capacity). The rise also shortens the trigger instead
// (windows.ts memoryProjection).

export const RISE_SAMPLES = 12;
export const RISE_QUANTILE = 0.99;
/** Hosts needed to measure the cluster's rise (as for the CPU swing). */
export const RISE_MIN_HOSTS = 5;
/** Memory levels are never lowered below this, percent: past it, hot-spot relief is the answer. */
export const MEM_LEVEL_FLOOR = 50;

export interface MemoryRise {
  /** RISE_QUANTILE over busy hosts of their largest rise between consecutive samples, points. */
  rise: number;
  hosts: number;
}

/** The cluster's memory rise, or null when fewer than RISE_MIN_HOSTS busy fresh hosts have two samples. */
export function memoryRise(snapshot: ClusterSnapshot, policy: Pick<Policy, "stale_after">, now: number): MemoryRise | null {
  // Times at which each host's memory took a known step: migrations that ended or began there.
  const steps = new Map<string, number[]>();
  const mark = (host: string, ts: number): void => {
    let a = steps.get(host);
    if (!a) steps.set(host, (a = []));
    a.push(ts);
  };
  for (const m of snapshot.history ?? []) {
    mark(m.source, m.finishedAt);
    mark(m.destination, m.finishedAt);
  }
  for (const f of snapshot.inFlight ?? []) {
    mark(f.source, f.startedAt);
    mark(f.destination, f.startedAt);
  }
  const per: number[] = [];
  for (const h of busyFreshHosts(snapshot, policy, now)) {
    const s = hostSamples(h);
    const from = Math.max(0, s.length - RISE_SAMPLES);
    if (s.length - from < 2) continue;
    const known = steps.get(h.id) ?? [];
    let rise = 0;
    for (let i = from + 1; i < s.length; i++) {
      const a = s[i - 1]!;
      const b = s[i]!;
      if (known.some((t) => t > a.ts && t <= b.ts)) continue;
      rise = Math.max(rise, b.mem - a.mem);
    }
    per.push(rise);
  }
  if (per.length < RISE_MIN_HOSTS) return null;
  return { rise: quantile(per, RISE_QUANTILE), hosts: per.length };
}

export interface MemoryLevels {
  policy: Policy;
  /** The measured rise, points (null: too few hosts, or mem_headroom_rises 0). */
  rise: number | null;
  note: Decision | null;
  adaptation: MemAdaptation | null;
}

/** The policy with max_mem_candidate lowered to the headroom the measured rise needs (unchanged when it needs no more). */
export function adaptMemoryLevels(snapshot: ClusterSnapshot, policy: Policy, now: number): MemoryLevels {
  if (policy.mem_headroom_rises <= 0) return { policy, rise: null, note: null, adaptation: null };
  const r = memoryRise(snapshot, policy, now);
  if (r === null) return { policy, rise: null, note: null, adaptation: null };
  const same = { policy, rise: r.rise, note: null, adaptation: null };
  const needed = policy.mem_headroom_rises * r.rise;
  const configured = 100 - policy.max_mem_candidate;
  const shift = Math.min(needed - configured, policy.max_mem_candidate - MEM_LEVEL_FLOOR);
  if (shift <= 0) return same;
  const adapted: Policy = { ...policy, max_mem_candidate: r2(policy.max_mem_candidate - shift) };
  const message =
    `guests' memory grows fast (hosts rose up to ${f1(r.rise)} points between samples, ${RISE_QUANTILE * 100}th percentile of ${r.hosts} busy hosts): ` +
    `destinations keep ${f1(needed)} points free, so max_mem_candidate is ${adapted.max_mem_candidate} % (configured ${policy.max_mem_candidate} %)`;
  const note: Decision = {
    kind: "cluster",
    subject: "cluster",
    code: "MEM_HEADROOM_ADAPTED",
    message,
    numbers: {
      rise: r2(r.rise),
      hosts: r.hosts,
      neededHeadroom: r2(needed),
      configuredHeadroom: r2(configured),
      max_mem_candidate: adapted.max_mem_candidate,
    },
  };
  const adaptation: MemAdaptation = {
    rise: r2(r.rise),
    hosts: r.hosts,
    maxMemCandidate: adapted.max_mem_candidate,
    message,
  };
  return { policy: adapted, rise: r.rise, note, adaptation };
}
