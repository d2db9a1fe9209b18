// Per-VM CPU use from two readings of the cumulative cpu.time counter. Pure maths, kept apart
// from virsh so it can be tested on its own.

export interface CpuSample {
  /** Cumulative domain CPU time, ns (null: unknown, e.g. shut off). */
  cpuTimeNs: number | null;
  /** When it was read, ms. */
  atMs: number;
}

/**
 * Percent of ONE core used between two samples (200 = two busy cores). null when there is no
 * previous sample, either value is unknown, time did not advance, or cpu.time went backwards
 * (the domain was restarted or came back by migration with a new QEMU process).
 */
export function cpuPercentBetween(prev: CpuSample | undefined, cur: CpuSample): number | null {
  if (!prev || prev.cpuTimeNs === null || cur.cpuTimeNs === null) return null;
  const dtMs = cur.atMs - prev.atMs;
  const dCpuNs = cur.cpuTimeNs - prev.cpuTimeNs;
  if (dtMs <= 0 || dCpuNs < 0) return null;
  return (dCpuNs / (dtMs * 1e6)) * 100;
}

/** Remembers the previous sample of each domain and forgets domains that disappeared. */
export class CpuDeltaTracker {
  private prev = new Map<string, CpuSample>();

  /** Feeds one cycle's readings; returns each domain's percent (null where unknown). */
  update(readings: ReadonlyArray<{ name: string; cpuTimeNs: number | null }>, atMs: number): Map<string, number | null> {
    const out = new Map<string, number | null>();
    const next = new Map<string, CpuSample>();
    for (const r of readings) {
      const cur = { cpuTimeNs: r.cpuTimeNs, atMs };
      out.set(r.name, cpuPercentBetween(this.prev.get(r.name), cur));
      next.set(r.name, cur);
    }
    this.prev = next;
    return out;
  }
}
