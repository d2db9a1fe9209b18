import type { Logger } from "pino";
import { BallastError, describeError } from "../../shared/errors.js";
import type { CpuBaselineResult } from "../../shared/schemas/agent-api.js";
import type { HostCpu } from "../../shared/schemas/facts.js";
import type { CpuBaselineGroup, CpuBaselineQuery, CpuBaselineReply } from "../../shared/schemas/orchestrator-api.js";
import type { FactsStore } from "./facts-store.js";

// `ballast cpu-baseline`: per group of hosts with identical CPUs, and per architecture and vendor,
// the guest CPU every host of the group can run, so operators can define guests that move
// anywhere in it. libvirt computes it (`virsh hypervisor-cpu-baseline` over the hosts' distinct
// host-model CPUs), asked of one fresh agent of the group: the one with the fewest features first,
// since the baseline must run on its hypervisor too. When no agent answers, the orchestrator
// intersects the facts (features every host offers, models every host can use) and says so.

/** Agents of one group asked at most before computing instead. */
const MAX_ASKED = 3;
/** Distinct host-model CPUs sent at most (the request's limit). */
const MAX_CPUS = 64;

export interface CpuBaselineDeps {
  facts: Pick<FactsStore, "get" | "hostIds">;
  /** Whether an agent reported a host (metrics), and whether its metrics are fresh. */
  knows: (host: string) => boolean;
  fresh: (host: string) => boolean;
  ask: (host: string, cpus: string[]) => Promise<CpuBaselineResult>;
  log: Logger;
}

interface Member {
  host: string;
  cpu: HostCpu;
}

export async function cpuBaseline(q: CpuBaselineQuery, d: CpuBaselineDeps): Promise<CpuBaselineReply> {
  const unknown = (q.hosts ?? []).filter((h) => !d.knows(h) && d.facts.get(h) === undefined);
  if (unknown.length > 0)
    throw new BallastError("UNKNOWN_HOST", `host ${unknown.join(", ")} is not known (no agent has reported it)`, { details: { hosts: unknown } });
  const asked = q.hosts ? [...new Set(q.hosts)].sort() : d.facts.hostIds();
  const members: Member[] = [];
  const withoutFacts: string[] = [];
  for (const host of asked) {
    const f = d.facts.get(host);
    if (f) members.push({ host, cpu: f.facts.hostFacts.cpu });
    else withoutFacts.push(host);
  }
  const identical = groupBy(members, (m) => JSON.stringify([m.cpu.arch, m.cpu.vendor ?? null, m.cpu.model ?? null, m.cpu.features]));
  const wide = groupBy(members, (m) => JSON.stringify([m.cpu.arch, m.cpu.vendor ?? null]));
  const groups: CpuBaselineGroup[] = [];
  for (const g of [...identical.values()].sort((a, b) => b.length - a.length || a[0]!.host.localeCompare(b[0]!.host)))
    groups.push(await baselineOf("identical", g, d));
  for (const g of wide.values()) {
    // A group of one identical group says nothing new.
    const kinds = new Set(g.map((m) => JSON.stringify([m.cpu.model ?? null, m.cpu.features])));
    if (kinds.size > 1) groups.push(await baselineOf("arch-vendor", g, d));
  }
  return { groups, withoutFacts };
}

async function baselineOf(kind: CpuBaselineGroup["kind"], g: Member[], d: CpuBaselineDeps): Promise<CpuBaselineGroup> {
  const hosts = g.map((m) => m.host).sort();
  const first = g[0]!.cpu;
  const usableModels = intersect(g.map((m) => m.cpu.usableModels));
  const base = { kind, arch: first.arch, vendor: first.vendor ?? null, hosts, usableModels };
  const cpus = [...new Set(g.map((m) => m.cpu.hostModelXml).filter((x): x is string => x !== undefined))].slice(0, MAX_CPUS);
  const failures: string[] = [];
  if (cpus.length > 0) {
    const candidates = g
      .filter((m) => d.fresh(m.host))
      .sort((a, b) => a.cpu.features.length - b.cpu.features.length || a.host.localeCompare(b.host))
      .slice(0, MAX_ASKED);
    for (const m of candidates) {
      try {
        const r = await d.ask(m.host, cpus);
        return { ...base, source: "libvirt", by: m.host, model: r.model ?? null, features: [...r.features].sort(), xml: r.xml };
      } catch (e) {
        failures.push(`${m.host}: ${describeError(e)}`);
      }
    }
    if (failures.length > 0) d.log.warn({ hosts, failures }, "no agent computed the CPU baseline; computed from the facts");
  }
  const why =
    cpus.length === 0
      ? "no host of the group published its host-model CPU"
      : failures.length === 0
        ? "no agent of the group is fresh"
        : `no agent answered (${failures.join("; ")})`.slice(0, 2000);
  return {
    ...base,
    source: "computed",
    model: null,
    features: intersect(g.map((m) => m.cpu.features)),
    xml: null,
    note: `computed by the orchestrator from the hosts' facts, not libvirt's baseline: ${why}; pick a model from usableModels and require the features`,
  };
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const t of items) {
    const k = key(t);
    const g = out.get(k);
    if (g) g.push(t);
    else out.set(k, [t]);
  }
  return out;
}

/** Names every list holds, sorted. */
function intersect(lists: readonly (readonly string[])[]): string[] {
  if (lists.length === 0) return [];
  let acc = new Set(lists[0]);
  for (const l of lists.slice(1)) {
    const s = new Set(l);
    acc = new Set([...acc].filter((x) => s.has(x)));
  }
  return [...acc].sort();
}
