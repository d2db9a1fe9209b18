import { z } from "zod";
import { BoundedMap } from "../../shared/bounded-map.js";
import { IncompatiblePair } from "../../shared/schemas/snapshot.js";
import type { FactsView } from "./facts-store.js";

// (VM, destination) pairs libvirt refused for an incompatibility: the destination's check-incoming
// said no, or a migration failed with an error incompatibility.ts classifies. The planner never
// plans such a pair again (DEST_PAIR_INCOMPATIBLE) until the VM's or the destination's facts
// change: each pair keeps the two digests it was recorded under and is forgotten when either
// differs from the facts now kept. Bounded (the oldest go first) and kept in the HA store.

/** Pairs kept at most. */
export const MAX_INCOMPATIBLE_PAIRS = 10_000;

export const StoredPair = IncompatiblePair.extend({
  vmDigest: z.string().max(128).optional().describe("Digest of the VM's facts when recorded (absent: not known then)."),
  hostDigest: z.string().max(128).optional().describe("Digest of the destination's host facts when recorded (absent: not known then)."),
});
export type StoredPair = z.infer<typeof StoredPair>;

export class IncompatiblePairs {
  private readonly pairs = new BoundedMap<string, StoredPair>(MAX_INCOMPATIBLE_PAIRS);

  /** `changed`: called with every pair now kept after a change (the HA store writes them). */
  constructor(private readonly changed?: (pairs: StoredPair[]) => void) {}

  /** Records a refusal of `vm` (whose facts its host `vmHost` published) by `destination`. */
  record(p: { vm: string; vmHost: string; destination: string; since: number; error: string }, facts: FactsView): StoredPair {
    const vmDigest = facts.vmDigest(p.vmHost, p.vm);
    const hostDigest = facts.hostDigest(p.destination);
    const stored: StoredPair = {
      vm: p.vm,
      destination: p.destination,
      since: p.since,
      error: p.error.slice(0, 2000),
      ...(vmDigest !== undefined ? { vmDigest } : {}),
      ...(hostDigest !== undefined ? { hostDigest } : {}),
    };
    this.pairs.set(key(p.vm, p.destination), stored);
    this.changed?.(this.all());
    return stored;
  }

  /**
   * Forgets the pairs whose VM or destination facts differ from the digests they were recorded
   * under. `vmHost` says where each VM's facts are now (its host); a VM or host whose facts are
   * not known now keeps its pairs. Returns how many were forgotten.
   */
  prune(facts: FactsView, vmHost: (vm: string) => string | undefined): number {
    let n = 0;
    for (const [k, p] of this.pairs) {
      const hostNow = facts.hostDigest(p.destination);
      const at = vmHost(p.vm);
      const vmNow = at === undefined ? undefined : facts.vmDigest(at, p.vm);
      const hostChanged = hostNow !== undefined && p.hostDigest !== undefined && hostNow !== p.hostDigest;
      const vmChanged = vmNow !== undefined && p.vmDigest !== undefined && vmNow !== p.vmDigest;
      if (hostChanged || vmChanged) {
        this.pairs.delete(k);
        n++;
      }
    }
    if (n > 0) this.changed?.(this.all());
    return n;
  }

  has(vm: string, destination: string): boolean {
    return this.pairs.has(key(vm, destination));
  }

  get size(): number {
    return this.pairs.size;
  }

  /** Every pair, oldest first, with its digests. */
  all(): StoredPair[] {
    return [...this.pairs].map(([, p]) => p);
  }

  /** The snapshot's pairs (strict: without the digests), sorted by VM and destination. */
  forSnapshot(): IncompatiblePair[] {
    return this.all()
      .map(({ vm, destination, since, error }) => ({ vm, destination, since, error }))
      .sort((a, b) => (a.vm === b.vm ? cmp(a.destination, b.destination) : cmp(a.vm, b.vm)));
  }

  /** Replaces every pair with the HA store's (a new leader); writes nothing back. */
  restore(pairs: readonly StoredPair[]): void {
    this.pairs.clear();
    for (const p of [...pairs].sort((a, b) => a.since - b.since)) this.pairs.set(key(p.vm, p.destination), p);
  }
}

const key = (vm: string, destination: string): string => `${vm} ${destination}`;
const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
