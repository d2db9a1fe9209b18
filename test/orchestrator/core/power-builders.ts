import type { PolicyInput } from "../../../shared/config/policy.js";
import type { HostPower } from "../../../shared/schemas/power.js";
import type { HostSample, SnapshotHost } from "../../../shared/schemas/snapshot.js";
import { host, NOW, policy, type HostOpts } from "./builders.js";

// Power management scenarios: hosts with power fields, and a policy with power management on and
// the adaptive levels off, so a test's numbers are the configured ones.

export const HOUR = 3_600_000;

/** `h` with power fields: on for a day, switchable, holding VMs (emptySince null) unless told. */
export function powered(h: SnapshotHost, o: Partial<HostPower> = {}): SnapshotHost {
  return {
    ...h,
    power: { state: "on", since: NOW - 24 * HOUR, switchable: true, emptySince: null, cyclesToday: 0, bootDeadline: null, failed: null, ...o },
  };
}

/** A host that has been empty (and on) for two hours. */
export function idle(id: string, o: HostOpts = {}, p: Partial<HostPower> = {}): SnapshotHost {
  return powered(host(id, { cpu: 1, mem: 3, ...o }), { emptySince: NOW - 2 * HOUR, ...p });
}

/** A host switched off two hours ago: its agent last reported then. */
export function off(id: string, o: HostOpts = {}, p: Partial<HostPower> = {}): SnapshotHost {
  return powered(host(id, { cpu: 0, mem: 2, lastSeenAgo: 7200, ...o }), { state: "off", since: NOW - 2 * HOUR, ...p });
}

/** A host switched on a minute ago, its agent not reported yet (deadline in 14 minutes). */
export function booting(id: string, o: HostOpts = {}, p: Partial<HostPower> = {}): SnapshotHost {
  return powered(host(id, { cpu: 0, mem: 2, lastSeenAgo: 7200, ...o }), { state: "booting", since: NOW - 60_000, bootDeadline: NOW + 840_000, ...p });
}

/** CPU samples every 10 s over `seconds`, rising linearly from `from` to `to` percent. */
export function rising(from: number, to: number, seconds = 600, mem = 20): HostSample[] {
  const out: HostSample[] = [];
  for (let t = seconds; t >= 0; t -= 10) out.push({ ts: NOW - t * 1000, cpu: to - ((to - from) * t) / seconds, mem });
  return out;
}

export function powerPolicy(o: PolicyInput = {}) {
  return policy({ power_management: true, headroom_min_share: 1, mem_headroom_rises: 0, ...o });
}
