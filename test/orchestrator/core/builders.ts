import { Policy, type PolicyInput } from "../../../shared/config/policy.js";
import type { ClusterSnapshot, HostSample, InFlightMigration, IncompatiblePair, PastMove, SnapshotHost, SnapshotVm } from "../../../shared/schemas/snapshot.js";

// Small builders for planner scenarios (descheduler's BuildTestNode): every object gets sensible
// defaults and the second argument tweaks them.

export const NOW = 1_700_000_000_000;
export const MIB_GIB = 1024;

export interface HostOpts {
  cpus?: number;
  /** CPU load, percent of all cores (newest and, unless `samples` is given, the whole window). */
  cpu?: number;
  /** Memory used, percent. */
  mem?: number;
  memGiB?: number;
  /** Seconds the current cpu/mem values have held (samples every 10 s back to then). */
  overFor?: number;
  samples?: HostSample[];
  lastSeenAgo?: number;
  address?: string | null;
  maintenance?: boolean;
  collectError?: string;
}

export function host(id: string, o: HostOpts = {}): SnapshotHost {
  const cpus = o.cpus ?? 8;
  const memTotal = (o.memGiB ?? 64) * MIB_GIB;
  const cpu = o.cpu ?? 20;
  const mem = o.mem ?? 20;
  const lastSeen = NOW - (o.lastSeenAgo ?? 0) * 1000;
  const span = o.overFor ?? 300;
  const samples: HostSample[] = o.samples ?? [];
  if (!o.samples) for (let t = span; t >= 0; t -= 10) samples.push({ ts: lastSeen - t * 1000, cpu, mem });
  return {
    id,
    cpus,
    memTotalMiB: memTotal,
    memAvailableMiB: memTotal * (1 - mem / 100),
    cpuPercent: cpu,
    lastSeen,
    samples,
    ...(o.address === null ? {} : { address: o.address ?? `10.0.0.${id.length}` }),
    maintenance: o.maintenance ?? false,
    ...(o.collectError !== undefined ? { collectError: o.collectError } : {}),
    tags: [],
  };
}

export interface VmOpts {
  mem?: number;
  cpu?: number | null;
  vcpus?: number;
  state?: SnapshotVm["state"];
  dirty?: number;
}

export function vm(name: string, hostId: string, o: VmOpts = {}): SnapshotVm {
  return {
    name,
    host: hostId,
    state: o.state ?? "running",
    vcpus: o.vcpus ?? 2,
    memMiB: o.mem ?? 2048,
    cpuPercent: o.cpu === undefined ? 50 : o.cpu,
    ...(o.dirty !== undefined ? { dirtyRateMiBs: o.dirty } : {}),
    tags: [],
  };
}

export function snapshot(
  hosts: SnapshotHost[],
  vms: SnapshotVm[],
  extra: { inFlight?: InFlightMigration[]; history?: PastMove[]; frozenVms?: string[]; incompatible?: IncompatiblePair[] } = {},
): ClusterSnapshot {
  return {
    v: 1,
    takenAt: NOW,
    hosts,
    vms,
    inFlight: extra.inFlight ?? [],
    history: extra.history ?? [],
    frozenVms: extra.frozenVms ?? [],
    incompatible: extra.incompatible ?? [],
  };
}

export function policy(o: PolicyInput = {}): Policy {
  return Policy.parse(o);
}

export function flight(vmName: string, source: string, destination: string, o: { mem?: number; cpu?: number; ago?: number } = {}): InFlightMigration {
  return { requestId: `r-${vmName}`, vm: vmName, source, destination, startedAt: NOW - (o.ago ?? 5) * 1000, memMiB: o.mem ?? 2048, cpuPercent: o.cpu ?? 50 };
}

export function past(vmName: string, source: string, destination: string, agoSeconds: number, outcome: PastMove["outcome"] = "succeeded"): PastMove {
  return { vm: vmName, source, destination, finishedAt: NOW - agoSeconds * 1000, outcome };
}
