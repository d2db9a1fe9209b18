import { createHash } from "node:crypto";
import { BoundedMap } from "../../shared/bounded-map.js";
import type { AgentFacts, HostFacts, VmFacts } from "../../shared/schemas/facts.js";

// The newest facts of each host (AgentFacts: its libvirt's abilities and its VMs' needs), as the
// agents published them or answered get-facts. Kept per host by the agent's collection time, so a
// late reply to an old request cannot replace newer facts. Nothing is persisted: after a restart or
// an HA failover the heartbeats' digests show what is missing and it is asked for again
// (facts-refresher.ts).

/** A VM's facts as snapshots carry them (its name is the snapshot VM's). */
export type VmFactsOf = Omit<VmFacts, "name">;

/** Hosts whose facts are kept at most: more hosts than any cluster has, so junk cannot grow it forever. */
export const MAX_FACTS_HOSTS = 100_000;

interface Entry {
  facts: AgentFacts;
  receivedAt: number;
  /** Digest of hostFacts alone (the part a destination's suitability depends on). */
  hostDigest: string;
  vms: Map<string, VmFactsOf>;
  /** Digests of each VM's facts, computed when first asked. */
  vmDigests: Map<string, string>;
}

/** What the snapshot, the dispatcher and the incompatible pairs read. */
export interface FactsView {
  hostFacts(host: string): HostFacts | undefined;
  vmFacts(host: string, vm: string): VmFactsOf | undefined;
  hostDigest(host: string): string | undefined;
  vmDigest(host: string, vm: string): string | undefined;
}

export class FactsStore implements FactsView {
  private readonly hosts = new BoundedMap<string, Entry>(MAX_FACTS_HOSTS);
  private readonly listeners: ((host: string) => void)[] = [];

  /** Called with the host whose facts changed (after the change). */
  onChange(fn: (host: string) => void): void {
    this.listeners.push(fn);
  }

  /**
   * Keeps facts already validated (schema, and host = the publisher). Returns false when they are
   * older than those kept (reordered, or a late reply), and does nothing then.
   */
  ingest(f: AgentFacts, receivedAt: number): boolean {
    const prev = this.hosts.get(f.host);
    if (prev && f.ts < prev.facts.ts) return false;
    if (prev && prev.facts.digest === f.digest) {
      prev.facts = f;
      prev.receivedAt = receivedAt;
      return true;
    }
    const vms = new Map<string, VmFactsOf>();
    for (const v of f.vms) {
      const { name, ...rest } = v;
      vms.set(name, rest);
    }
    this.hosts.set(f.host, { facts: f, receivedAt, hostDigest: digestOf(f.hostFacts), vms, vmDigests: new Map() });
    for (const fn of this.listeners) fn(f.host);
    return true;
  }

  get(host: string): { facts: AgentFacts; receivedAt: number } | undefined {
    const e = this.hosts.get(host);
    return e ? { facts: e.facts, receivedAt: e.receivedAt } : undefined;
  }

  /** The digest of the facts kept (the agent's own), to compare with its heartbeat's. */
  digest(host: string): string | undefined {
    return this.hosts.get(host)?.facts.digest;
  }

  has(host: string): boolean {
    return this.hosts.has(host);
  }

  hostIds(): string[] {
    return [...this.hosts].map(([h]) => h).sort();
  }

  hostFacts(host: string): HostFacts | undefined {
    return this.hosts.get(host)?.facts.hostFacts;
  }

  vmFacts(host: string, vm: string): VmFactsOf | undefined {
    return this.hosts.get(host)?.vms.get(vm);
  }

  hostDigest(host: string): string | undefined {
    return this.hosts.get(host)?.hostDigest;
  }

  vmDigest(host: string, vm: string): string | undefined {
    const e = this.hosts.get(host);
    const v = e?.vms.get(vm);
    if (!e || !v) return undefined;
    let d = e.vmDigests.get(vm);
    if (d === undefined) {
      d = digestOf(v);
      e.vmDigests.set(vm, d);
    }
    return d;
  }

  forget(host: string): boolean {
    return this.hosts.delete(host);
  }
}

/** sha256 of the JSON (schema-parsed objects keep their schema's key order, so equal facts give equal text). */
export function digestOf(v: unknown): string {
  return createHash("sha256").update(JSON.stringify(v)).digest("hex").slice(0, 32);
}
