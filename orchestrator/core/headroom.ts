import type { Policy } from "../../shared/config/policy.js";
import { f1, r2 } from "./format.js";
import type { CpuAdaptation, Decision } from "../../shared/schemas/plan.js";
import type { ClusterSnapshot } from "../../shared/schemas/snapshot.js";
import { busyFreshHosts, hostSamples, quantile } from "./windows.js";

// Adaptive CPU headroom (the idea behind Beloglazov & Buyya's MAD and IQR thresholds, applied to
// the whole cluster): the configured CPU levels leave 100 − load_threshold points of headroom for
// loads that jump between samples. Where the measured jumps are small, most of that headroom is
// never used and only keeps hosts powered; where they are large, all of it is needed.
//
// The swing is the mean absolute change between consecutive CPU samples of a host, over its newest
// SWING_SAMPLES samples; the cluster's swing is the 90th percentile over the busy hosts (those
// running a VM), so a few steady hosts do not hide bursty ones. The headroom needed is
// `headroom_swings` × that swing. Every CPU level L (load_threshold, load_target,
// max_load_candidate, consolidate_load) becomes 100 − (100 − L) × f with
//   f = clamp(needed / (100 − load_threshold), headroom_min_share, 1),
// so the levels keep their order and spacing in proportion, never rise above what
// headroom_min_share allows, and are the configured ones whenever loads swing as much as the
// configured headroom assumes, or too few hosts have samples to tell. A host whose own swing
// needs more than that keeps headroom_swings times its own swing (hostScale: its levels as a
// trigger and as a destination), so a bursty minority is not packed or left hot on the
// cluster's steady majority's terms.

/** Samples per host the swing is read from (the newest ones). */
export const SWING_SAMPLES = 6;
/** A host needs this many of them, and the cluster this many busy hosts with them. */
export const SWING_MIN_SAMPLES = 4;
export const SWING_MIN_HOSTS = 5;

export interface CpuSwing {
  /** 90th percentile over busy hosts of the mean absolute change between samples, points. */
  swing: number;
  hosts: number;
  /** Each measured host's own swing. */
  byHost: ReadonlyMap<string, number>;
}

/** The cluster's CPU swing, or null when fewer than SWING_MIN_HOSTS busy fresh hosts have enough samples. */
export function cpuSwing(snapshot: ClusterSnapshot, policy: Pick<Policy, "stale_after">, now: number): CpuSwing | null {
  const per: number[] = [];
  const byHost = new Map<string, number>();
  for (const h of busyFreshHosts(snapshot, policy, now)) {
    // Oldest first whatever the input order, so a shuffled snapshot gives the same swing.
    const s = hostSamples(h);
    const from = Math.max(0, s.length - SWING_SAMPLES);
    if (s.length - from < SWING_MIN_SAMPLES) continue;
    let sum = 0;
    for (let i = from + 1; i < s.length; i++) sum += Math.abs(s[i]!.cpu - s[i - 1]!.cpu);
    const swing = sum / (s.length - from - 1);
    per.push(swing);
    byHost.set(h.id, swing);
  }
  if (per.length < SWING_MIN_HOSTS) return null;
  return { swing: quantile(per, 0.9), hosts: per.length, byHost };
}

export interface EffectivePolicy {
  policy: Policy;
  /** The headroom share applied (1: the configured levels). */
  share: number;
  /**
   * Hosts whose own swing needs more headroom than the cluster's adapted levels leave: by how much
   * to widen their headroom (> 1), so each host keeps headroom_swings times its own swing too.
   */
  hostScale: ReadonlyMap<string, number>;
  /** Why the levels are what they are, when they were adapted (CPU_HEADROOM_ADAPTED). */
  note: Decision | null;
  /** The same as a typed record (Plan.adaptation); absent when the configured levels apply. */
  adaptation?: CpuAdaptation;
}

/** The policy this plan uses: the configured one with its CPU levels adapted to the measured swing. */
export function effectivePolicy(snapshot: ClusterSnapshot, policy: Policy, now: number): EffectivePolicy {
  const none = new Map<string, number>();
  if (policy.headroom_min_share >= 1) return { policy, share: 1, hostScale: none, note: null };
  const s = cpuSwing(snapshot, policy, now);
  const configured = 100 - policy.load_threshold;
  if (s === null || configured <= 0) return { policy, share: 1, hostScale: none, note: null };
  const needed = policy.headroom_swings * s.swing;
  const shareFor = (swing: number): number => Math.min(1, Math.max(policy.headroom_min_share, (policy.headroom_swings * swing) / configured));
  const share = shareFor(s.swing);
  if (share >= 1) return { policy, share: 1, hostScale: none, note: null };
  const hostScale = new Map<string, number>();
  for (const [id, swing] of s.byHost) {
    const own = shareFor(swing);
    if (own > share) hostScale.set(id, own / share);
  }
  const level = (l: number): number => r2(100 - (100 - l) * share);
  const adapted: Policy = {
    ...policy,
    load_threshold: level(policy.load_threshold),
    load_target: level(policy.load_target),
    max_load_candidate: level(policy.max_load_candidate),
    consolidate_load: level(policy.consolidate_load),
  };
  const message =
    `CPU loads are steady (swing ${f1(s.swing)} points between samples, 90th percentile of ${s.hosts} busy hosts): ` +
    `${(share * 100).toFixed(0)} % of the configured headroom is kept (${hostScale.size} burstier host(s) keep more), so load_threshold ${adapted.load_threshold} %, load_target ${adapted.load_target} %, ` +
    `max_load_candidate ${adapted.max_load_candidate} %, consolidate_load ${adapted.consolidate_load} %`;
  const note: Decision = {
    kind: "cluster",
    subject: "cluster",
    code: "CPU_HEADROOM_ADAPTED",
    message,
    numbers: {
      swing: r2(s.swing),
      hosts: s.hosts,
      neededHeadroom: r2(needed),
      configuredHeadroom: configured,
      share: r2(share),
      load_threshold: adapted.load_threshold,
      load_target: adapted.load_target,
      max_load_candidate: adapted.max_load_candidate,
      consolidate_load: adapted.consolidate_load,
      widerHosts: hostScale.size,
    },
  };
  const adaptation: CpuAdaptation = {
    share: r2(share),
    swing: r2(s.swing),
    hosts: s.hosts,
    loadThreshold: adapted.load_threshold,
    loadTarget: adapted.load_target,
    maxLoadCandidate: adapted.max_load_candidate,
    consolidateLoad: adapted.consolidate_load,
    widerHosts: hostScale.size,
    message,
  };
  return { policy: adapted, share, hostScale, note, adaptation };
}

/** A CPU level with its headroom (100 − level) widened by `scale` (1: unchanged). */
export function widened(level: number, scale: number | undefined): number {
  return scale === undefined || scale === 1 ? level : Math.max(0, 100 - (100 - level) * scale);
}
