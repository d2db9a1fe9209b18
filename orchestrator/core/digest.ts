import type { Policy } from "../../shared/config/policy.js";
import { Hasher, hashValue } from "./hash.js";
import type { PlanRequest } from "./plan.js";
import type { ClusterSnapshot } from "./snapshot.js";

// Deterministic digests of the planner's inputs. Everything is fed in sorted order, so the same
// cluster given in any order hashes the same.

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Placement of VMs and migrations in flight: what a plan's moves depend on (drift detection). */
export function snapshotDigest(s: ClusterSnapshot): string {
  const h = new Hasher().str("placement/v1");
  const vms = [...s.vms].sort((a, b) => cmp(a.name, b.name) || cmp(a.host, b.host));
  for (const v of vms) h.str(v.name).str(v.host).str(v.state);
  h.str("inflight");
  const fl = [...(s.inFlight ?? [])].sort((a, b) => cmp(a.requestId, b.requestId));
  for (const f of fl) h.str(f.requestId).str(f.vm).str(f.source).str(f.destination);
  return h.digest();
}

/** Everything plan() reads: the whole snapshot, the policy, the clock value and the request. */
export function planId(s: ClusterSnapshot, policy: Policy, now: number, request: PlanRequest): string {
  const h = new Hasher().str("plan/v1").num(s.v ?? 1).num(s.takenAt).num(now);
  hashValue(h, policy);
  hashValue(h, request);
  const hosts = [...s.hosts].sort((a, b) => cmp(a.id, b.id));
  h.str("hosts").num(hosts.length);
  for (const x of hosts) {
    h.str(x.id).num(x.cpus).num(x.memTotalMiB).num(x.memAvailableMiB).num(x.cpuPercent).num(x.lastSeen).str(x.address ?? "\u0000").bool(x.maintenance ?? false);
    if (x.cpuSpeed !== undefined) h.str("speed").num(x.cpuSpeed);
    const samples = [...(x.samples ?? [])].sort((a, b) => a.ts - b.ts || a.cpu - b.cpu || a.mem - b.mem);
    h.num(samples.length);
    for (const p of samples) h.num(p.ts).num(p.cpu).num(p.mem);
    for (const t of [...(x.tags ?? [])].sort()) h.str(t);
    h.str("/h");
  }
  const vms = [...s.vms].sort((a, b) => cmp(a.name, b.name) || cmp(a.host, b.host));
  h.str("vms").num(vms.length);
  for (const v of vms) {
    h.str(v.name).str(v.host).str(v.state).num(v.vcpus).num(v.memMiB).num(v.cpuPercent).num(v.dirtyRateMiBs);
    for (const t of [...(v.tags ?? [])].sort()) h.str(t);
    h.str("/v");
  }
  const fl = [...(s.inFlight ?? [])].sort((a, b) => cmp(a.requestId, b.requestId));
  h.str("inflight").num(fl.length);
  for (const f of fl) h.str(f.requestId).str(f.vm).str(f.source).str(f.destination).num(f.startedAt).num(f.memMiB).num(f.cpuPercent);
  const hist = [...(s.history ?? [])].sort(
    (a, b) => a.finishedAt - b.finishedAt || cmp(a.vm, b.vm) || cmp(a.source, b.source) || cmp(a.destination, b.destination) || cmp(a.outcome, b.outcome),
  );
  h.str("history").num(hist.length);
  for (const m of hist) h.str(m.vm).str(m.source).str(m.destination).num(m.finishedAt).str(m.outcome);
  const frozen = [...(s.frozenVms ?? [])].sort();
  h.str("frozen").num(frozen.length);
  for (const f of frozen) h.str(f);
  return h.digest();
}
