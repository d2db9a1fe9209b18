// CPU sharing on one host: CloudSim's VmSchedulerTimeSharedOverSubscription as a pure function.
//
// Each VM asks for its demand, capped at one core's MIPS. A VM migrating IN only costs the
// destination 10 % (the reservation); a VM migrating OUT gets 90 % (10 % degradation). If the
// (effective) requests exceed the host's capacity, every allocation is scaled by capacity / total
// and floored to whole MIPS. The result depends only on the set of VMs, their requests and flags.

export interface SchedEntry {
  /** Requested MIPS (uncapped demand). */
  readonly request: number;
  /** Migrating in to this host (only the reservation share is charged). */
  readonly migratingIn: boolean;
  /** Migrating out of this host (degraded). */
  readonly migratingOut: boolean;
}

export interface MigrationShares {
  /** Share a migrating-out VM still gets (0.9). */
  readonly sourceShare: number;
  /** Share of a migrating-in VM's MIPS charged to the destination (0.1). */
  readonly destinationShare: number;
}

export const CLOUDSIM_SHARES: MigrationShares = { sourceShare: 0.9, destinationShare: 0.1 };

export interface Allocation {
  /** Allocated MIPS per entry, same order. */
  readonly alloc: Float64Array;
  /** MIPS still free for a new VM (0 once oversubscribed). */
  readonly available: number;
  readonly oversubscribed: boolean;
}

export function allocate(entries: readonly SchedEntry[], peMips: number, hostMips: number, shares: MigrationShares = CLOUDSIM_SHARES): Allocation {
  const n = entries.length;
  const alloc = new Float64Array(n);
  let available = hostMips;
  let over = false;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    const capped = e.request > peMips ? peMips : e.request;
    const charged = e.migratingIn ? capped * shares.destinationShare : capped;
    if (!over && available >= charged) {
      alloc[i] = e.migratingOut ? capped * shares.sourceShare : e.migratingIn ? capped * shares.destinationShare : capped;
      available -= charged;
    } else {
      over = true;
    }
  }
  if (!over) return { alloc, available, oversubscribed: false };
  let total = 0;
  for (const e of entries) {
    const capped = e.request > peMips ? peMips : e.request;
    total += e.migratingIn ? capped * shares.destinationShare : capped;
  }
  const factor = hostMips / total;
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    let m = e.request > peMips ? peMips : e.request;
    if (e.migratingOut) {
      m *= factor;
      m *= shares.sourceShare;
    } else if (e.migratingIn) {
      m *= shares.destinationShare;
      m *= factor;
    } else {
      m *= factor;
    }
    alloc[i] = Math.floor(m);
  }
  return { alloc, available: 0, oversubscribed: true };
}
