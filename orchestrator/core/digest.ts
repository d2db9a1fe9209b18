import type { Policy } from "../../shared/config/policy.js";
import type { ClusterModel } from "./cluster-model.js";
import { Hasher, hashValue } from "./hash.js";
import type { PlanRequest } from "../../shared/schemas/plan.js";
import type { ClusterSnapshot, InFlightMigration, PastMove, SnapshotHost, SnapshotVm } from "../../shared/schemas/snapshot.js";

// Deterministic digests of the planner's inputs. Everything is fed in sorted order, so the same
// cluster given in any order hashes the same.
//
// Sorting 200,000 VMs three times per plan (the working copy, planId, snapshotDigest) and hashing
// their placement twice cost a fifth of a plan at 10,000 hosts. sortedInputs() sorts once per
// snapshot and lets the three share it; planId() hashes the placement digest in the same pass and
// leaves it for snapshotDigest(). The shared copies live only for the current synchronous run (a
// plan() call): they are dropped at the next microtask, when snapshotDigest() has used them, and
// whenever the snapshot's arrays are not the ones (or not as long as) they were sorted from.

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export const byHostId = (a: SnapshotHost, b: SnapshotHost): number => cmp(a.id, b.id);
export const byVmName = (a: SnapshotVm, b: SnapshotVm): number => cmp(a.name, b.name) || cmp(a.host, b.host);
export const byRequestId = (a: InFlightMigration, b: InFlightMigration): number => cmp(a.requestId, b.requestId);
export const byFinish = (a: PastMove, b: PastMove): number =>
  a.finishedAt - b.finishedAt ||
  cmp(a.vm, b.vm) ||
  cmp(a.source, b.source) ||
  cmp(a.destination, b.destination) ||
  cmp(a.outcome, b.outcome) ||
  cmp(a.strategy ?? "", b.strategy ?? "");

/** The snapshot's lists in the planner's order. Shared: never modify them. */
export interface SortedInputs {
  readonly hosts: readonly SnapshotHost[];
  readonly vms: readonly SnapshotVm[];
  readonly inFlight: readonly InFlightMigration[];
  readonly history: readonly PastMove[];
}

interface Entry extends SortedInputs {
  readonly s: ClusterSnapshot;
  readonly from: readonly (readonly unknown[] | undefined)[];
  readonly lengths: readonly number[];
  /** snapshotDigest, when planId computed it on the way. */
  placement?: string;
}

let current: Entry | null = null;

const sources = (s: ClusterSnapshot): (readonly unknown[] | undefined)[] => [s.hosts, s.vms, s.inFlight, s.history];

function cached(s: ClusterSnapshot): Entry | null {
  const e = current;
  if (!e || e.s !== s) return null;
  const now = sources(s);
  for (let i = 0; i < now.length; i++) if (now[i] !== e.from[i] || (now[i]?.length ?? 0) !== e.lengths[i]) return null;
  return e;
}

/** Hosts by id, VMs by (name, host), in-flight migrations by request id, history by (finish, vm, source, destination, outcome). */
export function sortedInputs(s: ClusterSnapshot): SortedInputs {
  return cached(s) ?? remember(s);
}

function remember(s: ClusterSnapshot): Entry {
  const from = sources(s);
  const e: Entry = {
    s,
    from,
    lengths: from.map((a) => a?.length ?? 0),
    hosts: [...s.hosts].sort(byHostId),
    vms: [...s.vms].sort(byVmName),
    inFlight: [...(s.inFlight ?? [])].sort(byRequestId),
    history: [...(s.history ?? [])].sort(byFinish),
  };
  if (current === null) queueMicrotask(() => (current = null));
  current = e;
  return e;
}

/** Placement of VMs and migrations in flight: what a plan's moves depend on (drift detection). */
export function snapshotDigest(s: ClusterSnapshot): string {
  const e = cached(s);
  if (e) {
    // The last use of the shared copies in a plan: later calls sort afresh.
    current = null;
    if (e.placement !== undefined) return e.placement;
  }
  const sorted = e ?? { vms: [...s.vms].sort(byVmName), inFlight: [...(s.inFlight ?? [])].sort(byRequestId) };
  const h = new Hasher().str("placement/v1");
  for (const v of sorted.vms) {
    h.str(v.name).str(v.host).str(v.state);
    alsoListed(h, v);
  }
  return placementTail(h, sorted.inFlight);
}

function placementTail(h: Hasher, fl: readonly InFlightMigration[]): string {
  h.str("inflight");
  for (const f of fl) h.str(f.requestId).str(f.vm).str(f.source).str(f.destination);
  return h.digest();
}

/** A VM's other listings are placement too; hashed only when present, so other digests keep their value. */
function alsoListed(h: Hasher, v: SnapshotVm): void {
  if (v.alsoListedOn === undefined || v.alsoListedOn.length === 0) return;
  h.str("also").num(v.alsoListedOn.length);
  for (const x of [...v.alsoListedOn].sort()) h.str(x);
}

const NO_TAGS: readonly string[] = [];
const sortedTags = (tags: readonly string[] | undefined): readonly string[] =>
  !tags || tags.length === 0 ? NO_TAGS : tags.length === 1 ? tags : [...tags].sort();

/** The keys power management alone reads (shared/config/policy.ts). */
const POWER_KEYS = [
  "power_management",
  "power_off_after",
  "power_off_emptied",
  "standby_capacity",
  "max_power_ops",
  "boot_time",
  "power_on_deadline",
  "min_off_time",
  "min_on_time",
  "max_power_cycles_per_day",
  "power_off_maintenance",
] as const satisfies readonly (keyof Policy)[];

/**
 * The policy as the plan id hashes it: the local-disk keys only when they differ from their
 * defaults, so plans made before those keys existed, and on clusters without local disks, keep
 * their ids. The host-failure keys (detection, fencing, restarts and their priorities) are not
 * hashed: plan() does not read them.
 */
function policyForId(p: Policy): unknown {
  const {
    local_disks,
    local_disks_vms,
    local_disk_source,
    failure_detect_after: _detect,
    failure_peer_probes: _probes,
    failure_isolation_share: _share,
    failure_fence_attempts: _fence,
    max_concurrent_restarts: _restarts,
    restart_priority: _priority,
    restart_priorities: _priorities,
    ...rest
  } = p;
  const out: Record<string, unknown> = rest;
  // The power keys only with power management on: without it nothing reads them, so a change of
  // their defaults does not change the id of a plan they take no part in.
  if (!p.power_management) for (const k of POWER_KEYS) delete out[k];
  if (local_disks !== undefined && local_disks !== "copy") out["local_disks"] = local_disks;
  if (local_disks_vms !== undefined && Object.keys(local_disks_vms).length > 0) out["local_disks_vms"] = local_disks_vms;
  if (local_disk_source !== undefined && local_disk_source !== "keep") out["local_disk_source"] = local_disk_source;
  return out;
}

/**
 * Everything plan() reads: the whole snapshot, the policy, the clock value and the request. Of the
 * facts (SnapshotHost.facts, SnapshotVm.facts, incompatible), what the planner derives from them
 * is hashed, from `model` (its compatibility classes and requirements, each key once, and per host
 * and VM what is judged one by one): hashing every VM's facts whole cost more than the plan. Hashed
 * only when the snapshot has facts, so plans without them keep their ids.
 */
export function planId(s: ClusterSnapshot, policy: Policy, now: number, request: PlanRequest, model?: ClusterModel): string {
  const e = cached(s) ?? remember(s);
  const h = new Hasher()
    .str("plan/v1")
    .num(s.v ?? 1)
    .num(s.takenAt)
    .num(now);
  hashValue(h, policyForId(policy));
  hashValue(h, request);
  const hosts = e.hosts;
  h.str("hosts").num(hosts.length);
  for (const x of hosts) {
    h.str(x.id)
      .num(x.cpus)
      .num(x.memTotalMiB)
      .num(x.memAvailableMiB)
      .num(x.cpuPercent)
      .num(x.lastSeen)
      .str(x.address ?? "\u0000")
      .bool(x.maintenance ?? false);
    if (x.cpuSpeed !== undefined) h.str("speed").num(x.cpuSpeed);
    const raw = x.samples ?? [];
    let inOrder = true;
    for (let i = 1; i < raw.length && inOrder; i++) {
      const a = raw[i - 1]!;
      const b = raw[i]!;
      inOrder = a.ts < b.ts || (a.ts === b.ts && (a.cpu < b.cpu || (a.cpu === b.cpu && a.mem <= b.mem)));
    }
    const samples = inOrder ? raw : [...raw].sort((a, b) => a.ts - b.ts || a.cpu - b.cpu || a.mem - b.mem);
    h.num(samples.length);
    for (const p of samples) h.num(p.ts).num(p.cpu).num(p.mem);
    for (const t of sortedTags(x.tags)) h.str(t);
    h.str("/h");
  }
  // The placement digest is hashed in the same pass (snapshotDigest() returns it).
  const place = new Hasher().str("placement/v1");
  const vms = e.vms;
  h.str("vms").num(vms.length);
  for (const v of vms) {
    h.str(v.name).str(v.host).str(v.state).num(v.vcpus).num(v.memMiB).num(v.cpuPercent).num(v.dirtyRateMiBs);
    place.str(v.name).str(v.host).str(v.state);
    alsoListed(place, v);
    alsoListed(h, v);
    for (const t of sortedTags(v.tags)) h.str(t);
    h.str("/v");
  }
  const fl = e.inFlight;
  e.placement = placementTail(place, fl);
  h.str("inflight").num(fl.length);
  for (const f of fl) h.str(f.requestId).str(f.vm).str(f.source).str(f.destination).num(f.startedAt).num(f.memMiB).num(f.cpuPercent);
  const hist = e.history;
  h.str("history").num(hist.length);
  for (const m of hist) {
    h.str(m.vm).str(m.source).str(m.destination).num(m.finishedAt).str(m.outcome);
    // Hashed only when known, so plans on histories without it keep their ids.
    if (m.strategy !== undefined) h.str("by").str(m.strategy);
  }
  const frozen = [...(s.frozenVms ?? [])].sort();
  h.str("frozen").num(frozen.length);
  for (const f of frozen) h.str(f);
  if (model) hashFacts(h, model);
  return h.digest();
}

/** What the planner read of the facts (see planId); nothing when there are none. */
function hashFacts(h: Hasher, model: ClusterModel): void {
  const c = model.compat;
  if (c.classCount <= 1 && c.pairs.size === 0 && !model.vms.some((v) => v.compat !== null)) return;
  h.str("facts");
  c.hashInto(h);
  for (const x of model.hosts) {
    h.num(x.compatClass);
    for (const p of x.source.facts?.hugepages ?? []) h.num(p.sizeKiB).num(p.free);
  }
  // model.vms is in the snapshot's (sorted) order: one number per VM, its details only when it has any.
  h.str("vmfacts").num(model.vms.length);
  for (const v of model.vms) {
    const f = v.compat;
    if (f === null || f.req === null) {
      h.num(f === null ? -2 : -1);
      continue;
    }
    h.num(f.req.index);
    if (f === f.req.plain) continue;
    h.str(f.unmigratable ?? "")
      .str(f.reasonCodes)
      .num(f.localDisks)
      .num(f.localDiskMiB)
      .str(f.localDiskList)
      .num(f.hugepageKiB)
      .num(f.hugePages)
      .num(f.pinnedCpus);
  }
  const pairs = [...c.pairs.values()].sort((a, b) => cmp(a.vm, b.vm) || cmp(a.destination, b.destination));
  h.str("incompatible").num(pairs.length);
  for (const p of pairs) h.str(p.vm).str(p.destination).num(p.since).str(p.error);
}
